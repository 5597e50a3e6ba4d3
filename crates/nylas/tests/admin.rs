//! `WebhookAdmin` against a loopback mock of the Nylas webhook endpoints:
//! request shapes, answers parsed, errors typed, retries where safe.

mod common;

use common::*;
use serde_json::{Value, json};
use triage_nylas::{AdminError, NylasError, WebhookAdmin};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "8f1c2e0d4b6a9e7f3c5d1a2b4c6d8e0f";
const NEW_SECRET: &str = "b7e9d1c3a5f7e9d1c3a5f7e9d1c3a5f7";
const URL: &str = "https://abc.execute-api.us-east-1.amazonaws.com/webhooks/nylas";

fn admin(server: &MockServer) -> WebhookAdmin {
    match WebhookAdmin::new(test_config(server)) {
        Ok(a) => a,
        Err(e) => panic!("admin: {e}"),
    }
}

fn json_answer(value: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(value.to_string().into_bytes(), "application/json")
}

fn error_answer(status: u16, kind: &str) -> ResponseTemplate {
    let body = json!({
        "request_id": format!("req-{status}"),
        "error": {"type": kind, "message": "detail text that must not leak"}
    });
    ResponseTemplate::new(status).set_body_raw(body.to_string().into_bytes(), "application/json")
}

fn destination(id: &str, secret: &str) -> Value {
    json!({
        "request_id": "req-1",
        "data": {
            "id": id,
            "description": "inbox-triage",
            "trigger_types": ["message.created"],
            "webhook_url": URL,
            "webhook_secret": secret,
            "status": "active",
            "notification_email_addresses": ["ops@example.com"],
        }
    })
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

fn body_of(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("request body is JSON")
}

fn triggers() -> Vec<String> {
    vec!["message.created".to_string()]
}

#[tokio::test]
async fn create_sends_the_documented_body_and_parses_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks"))
        .and(header("authorization", "Bearer nyk_test_key"))
        .and(header("content-type", "application/json"))
        .respond_with(json_answer(destination("wh-1", SECRET)))
        .expect(1)
        .mount(&server)
        .await;

    let created = admin(&server)
        .create_webhook(URL, &triggers(), &["ops@example.com".to_string()])
        .await
        .expect("created");

    assert_eq!(created.id, "wh-1");
    assert_eq!(created.status.as_deref(), Some("active"));
    assert_eq!(created.webhook_secret.expose(), SECRET);
    let shown = format!("{created:?}");
    assert!(!shown.contains(SECRET), "Debug shows the secret: {shown}");

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    let body = body_of(&sent[0]);
    assert_eq!(body["trigger_types"], json!(["message.created"]));
    assert_eq!(body["webhook_url"], json!(URL));
    assert_eq!(
        body["notification_email_addresses"],
        json!(["ops@example.com"])
    );
    assert_eq!(body["description"], json!("inbox-triage"));
}

#[tokio::test]
async fn create_without_emails_leaves_the_field_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks"))
        .respond_with(json_answer(destination("wh-2", SECRET)))
        .mount(&server)
        .await;

    admin(&server)
        .create_webhook(URL, &triggers(), &[])
        .await
        .expect("created");

    let body = body_of(&requests(&server).await[0]);
    assert!(body.get("notification_email_addresses").is_none(), "{body}");
}

#[tokio::test]
async fn create_refuses_bad_arguments_without_a_request() {
    let server = MockServer::start().await;
    let a = admin(&server);
    for (url, triggers, emails) in [
        ("not a url", triggers(), vec![]),
        ("ftp://host/x", triggers(), vec![]),
        (URL, vec![], vec![]),
        (URL, triggers(), vec!["not-an-address".to_string()]),
    ] {
        let r = a.create_webhook(url, &triggers, &emails).await;
        assert!(
            matches!(r, Err(AdminError::Nylas(NylasError::InvalidArgument(_)))),
            "{url}: {r:?}"
        );
    }
    assert_eq!(request_count(&server).await, 0);
}

#[tokio::test]
async fn create_answer_without_secret_is_malformed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks"))
        .respond_with(json_answer(
            json!({"data": {"id": "wh-3", "status": "active"}}),
        ))
        .mount(&server)
        .await;
    let r = admin(&server).create_webhook(URL, &triggers(), &[]).await;
    assert!(
        matches!(r, Err(AdminError::Nylas(NylasError::Malformed(_)))),
        "{r:?}"
    );
}

#[tokio::test]
async fn create_4xx_is_a_typed_rejection_without_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks"))
        .respond_with(error_answer(400, "invalid_request_error"))
        .mount(&server)
        .await;

    let err = admin(&server)
        .create_webhook(URL, &triggers(), &[])
        .await
        .expect_err("rejected");

    match &err {
        AdminError::Nylas(NylasError::Rejected {
            status,
            error_type,
            request_id,
        }) => {
            assert_eq!(*status, 400);
            assert_eq!(error_type.as_deref(), Some("invalid_request_error"));
            assert_eq!(request_id.as_deref(), Some("req-400"));
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(err.status(), Some(400));
    assert!(!err.to_string().contains("must not leak"), "{err}");
    assert_eq!(request_count(&server).await, 1, "a 4xx must not be retried");
}

#[tokio::test]
async fn create_429_is_retried_after_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks"))
        .respond_with(error_answer(429, "rate_limit").insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks"))
        .respond_with(json_answer(destination("wh-4", SECRET)))
        .mount(&server)
        .await;

    let created = admin(&server)
        .create_webhook(URL, &triggers(), &[])
        .await
        .expect("created after a 429");
    assert_eq!(created.id, "wh-4");
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn create_5xx_is_not_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks"))
        .respond_with(error_answer(502, "bad_gateway"))
        .mount(&server)
        .await;

    let r = admin(&server).create_webhook(URL, &triggers(), &[]).await;
    assert!(
        matches!(r, Err(AdminError::CreateUnconfirmed { attempts: 1, .. })),
        "{r:?}"
    );
    assert_eq!(
        request_count(&server).await,
        1,
        "a second create could make a second destination"
    );
}

#[tokio::test]
async fn list_reads_every_page_with_auth() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/webhooks"))
        .and(query_param("page_token", "cursor/2"))
        .and(header("authorization", "Bearer nyk_test_key"))
        .respond_with(json_answer(json!({
            "request_id": "r2",
            "data": [{"id": "wh-b", "webhook_url": "https://b.example/hook", "status": "failing",
                      "trigger_types": ["message.created", "message.updated"],
                      "webhook_secret": "should-be-ignored"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/webhooks"))
        .and(header("authorization", "Bearer nyk_test_key"))
        .respond_with(json_answer(json!({
            "request_id": "r1",
            "data": [{"id": "wh-a", "webhook_url": URL, "status": "active",
                      "trigger_types": ["message.created"]}],
            "next_cursor": "cursor/2"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let list = admin(&server).list_webhooks().await.expect("listed");

    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, "wh-a");
    assert_eq!(list[0].webhook_url, URL);
    assert_eq!(list[0].status.as_deref(), Some("active"));
    assert_eq!(list[1].id, "wh-b");
    assert_eq!(list[1].status.as_deref(), Some("failing"));
    assert_eq!(
        list[1].trigger_types,
        vec!["message.created".to_string(), "message.updated".to_string()]
    );
    assert!(!format!("{list:?}").contains("should-be-ignored"));
    let sent = requests(&server).await;
    assert_eq!(sent[1].url.query(), Some("page_token=cursor%2F2"));
}

#[tokio::test]
async fn list_429_then_ok_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/webhooks"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/webhooks"))
        .respond_with(json_answer(json!({"data": []})))
        .mount(&server)
        .await;

    let list = admin(&server).list_webhooks().await.expect("listed");
    assert!(list.is_empty());
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn rotate_posts_to_the_rotate_path_and_returns_the_new_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks/rotate-secret/wh-1"))
        .and(header("authorization", "Bearer nyk_test_key"))
        // An explicit empty body: some front ends answer 411 to a bodiless POST.
        .and(header("content-length", "0"))
        .respond_with(json_answer(destination("wh-1", NEW_SECRET)))
        .expect(1)
        .mount(&server)
        .await;

    let secret = admin(&server).rotate_secret("wh-1").await.expect("rotated");
    assert_eq!(secret.expose(), NEW_SECRET);
    assert!(!format!("{secret:?}").contains(NEW_SECRET));
}

#[tokio::test]
async fn rotate_unknown_id_is_rejected_and_ids_stay_one_segment() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks/rotate-secret/a%2Fb"))
        .respond_with(error_answer(404, "not_found_error"))
        .expect(1)
        .mount(&server)
        .await;

    let r = admin(&server).rotate_secret("a/b").await;
    assert!(
        matches!(
            r,
            Err(AdminError::Nylas(NylasError::Rejected { status: 404, .. }))
        ),
        "{r:?}"
    );
    let r = admin(&server).rotate_secret("..").await;
    assert!(
        matches!(r, Err(AdminError::Nylas(NylasError::InvalidArgument(_)))),
        "{r:?}"
    );
}

#[tokio::test]
async fn rotate_5xx_is_retried_until_attempts_run_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks/rotate-secret/wh-1"))
        .respond_with(error_answer(503, "unavailable"))
        .mount(&server)
        .await;

    let r = admin(&server).rotate_secret("wh-1").await;
    match r {
        Err(AdminError::Nylas(NylasError::GaveUp {
            attempts,
            last_status,
            ..
        })) => {
            assert_eq!(attempts, 3);
            assert_eq!(last_status, Some(503));
        }
        other => panic!("expected GaveUp, got {other:?}"),
    }
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn test_event_sends_trigger_type_and_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks/send-test-event"))
        .and(header("authorization", "Bearer nyk_test_key"))
        .and(header("content-type", "application/json"))
        .respond_with(json_answer(json!({"request_id": "rt", "data": "success"})))
        .expect(1)
        .mount(&server)
        .await;

    let outcome = admin(&server)
        .send_test_event(URL, "message.created")
        .await
        .expect("sent");
    assert_eq!(outcome.request_id.as_deref(), Some("rt"));
    assert_eq!(outcome.result.as_deref(), Some("success"));
    let body = body_of(&requests(&server).await[0]);
    assert_eq!(
        body,
        json!({"trigger_type": "message.created", "webhook_url": URL})
    );
}

#[tokio::test]
async fn test_event_401_is_a_typed_rejection() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks/send-test-event"))
        .respond_with(error_answer(401, "unauthorized"))
        .mount(&server)
        .await;
    let err = admin(&server)
        .send_test_event(URL, "message.created")
        .await
        .expect_err("rejected");
    assert_eq!(err.status(), Some(401));
    assert_eq!(request_count(&server).await, 1);
}
