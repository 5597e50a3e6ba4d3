//! `NylasReconcile` against a loopback mock of the Nylas v3 API answering
//! as the real one does: pages, invalid grants, 429 with `Retry-After`,
//! webhook statuses and the reactivation request.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use triage_core::ports::FetchError;
use triage_core::reconcile::{ReconcileSource, WebhookState};
use triage_nylas::NylasClient;
use triage_nylas::reconcile::NylasReconcile;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn source(server: &MockServer) -> NylasReconcile {
    NylasReconcile::new(NylasClient::new(test_config(server)).unwrap())
}

fn answer(value: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(value.to_string().into_bytes(), "application/json")
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[tokio::test]
async fn grants_are_read_page_by_page_and_invalid_ones_left_out() {
    let server = MockServer::start().await;
    let first: Vec<Value> = (0..200)
        .map(|i| json!({"id": format!("g{i}"), "grant_status": if i == 3 { "invalid" } else { "valid" }}))
        .collect();
    Mock::given(method("GET"))
        .and(path("/v3/grants"))
        .and(query_param("offset", "0"))
        .respond_with(answer(
            json!({"request_id": "r", "data": first, "limit": 200, "offset": 0}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/grants"))
        .and(query_param("offset", "200"))
        .respond_with(answer(json!({"request_id": "r", "data": [{"id": "g200"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let grants = source(&server).grants(soon()).await.unwrap();
    assert_eq!(grants.len(), 200);
    assert!(!grants.contains(&"g3".to_string()));
    assert_eq!(grants.last().map(String::as_str), Some("g200"));
}

#[tokio::test]
async fn received_messages_are_listed_from_the_window_with_page_tokens() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/grants/g1/messages"))
        .and(query_param("received_after", "1700000000"))
        .and(query_param("limit", "200"))
        .and(query_param("select", "id,date"))
        .and(query_param("page_token", "p2"))
        .respond_with(answer(
            json!({"request_id": "r", "data": [{"id": "m3", "date": 1700000100}]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/grants/g1/messages"))
        .and(query_param("received_after", "1700000000"))
        .respond_with(answer(json!({
            "request_id": "r",
            "data": [{"id": "m1", "date": 1700000300}, {"id": "m2", "date": 1700000200}],
            "next_cursor": "p2"
        })))
        .mount(&server)
        .await;
    let s = source(&server);
    let first = s.received("g1", 1_700_000_000, None, soon()).await.unwrap();
    let ids: Vec<&str> = first.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["m1", "m2"]);
    assert_eq!(first.messages[0].received_at_s, 1_700_000_300);
    assert_eq!(first.next.as_deref(), Some("p2"));
    let second = s
        .received("g1", 1_700_000_000, Some("p2"), soon())
        .await
        .unwrap();
    assert_eq!(second.messages[0].id, "m3");
    assert_eq!(second.next, None);
}

#[tokio::test]
async fn a_throttled_listing_waits_then_succeeds_and_a_long_throttle_is_carried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/grants/g1/messages"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/grants/g1/messages"))
        .respond_with(answer(json!({"request_id": "r", "data": []})))
        .mount(&server)
        .await;
    let page = source(&server)
        .received("g1", 0, None, soon())
        .await
        .unwrap();
    assert!(page.messages.is_empty());

    let long = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/grants/g1/messages"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "600"))
        .mount(&long)
        .await;
    let r = source(&long).received("g1", 0, None, soon()).await;
    assert!(
        matches!(
            r,
            Err(FetchError::Throttled {
                retry_after_ms: 600_000,
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_malformed_listing_is_a_permanent_failure() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/grants/g1/messages"))
        .respond_with(answer(json!({"data": "not a list"})))
        .mount(&server)
        .await;
    let r = source(&server).received("g1", 0, None, soon()).await;
    assert!(matches!(r, Err(FetchError::Permanent(_))), "{r:?}");
}

#[tokio::test]
async fn webhook_health_is_read_and_a_failed_one_reactivated() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/webhooks"))
        .respond_with(answer(json!({"request_id": "r", "data": [
            {"id": "wh-ok", "status": "active", "trigger_types": ["message.created"]},
            {"id": "wh-down", "status": "failed", "trigger_types": ["message.created"]},
            {"id": "wh-shaky", "status": "failing", "trigger_types": ["message.created"]}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v3/webhooks/wh-down"))
        .respond_with(answer(
            json!({"request_id": "r", "data": {"id": "wh-down", "status": "active"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let s = source(&server);
    let hooks = s.webhooks(soon()).await.unwrap();
    let states: Vec<(&str, WebhookState)> =
        hooks.iter().map(|h| (h.id.as_str(), h.state)).collect();
    assert_eq!(
        states,
        [
            ("wh-ok", WebhookState::Active),
            ("wh-down", WebhookState::Failed),
            ("wh-shaky", WebhookState::Failing)
        ]
    );
    s.reactivate("wh-down", soon()).await.unwrap();
    let put = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "PUT")
        .unwrap();
    let body: Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(body, json!({"status": "active"}));
}
