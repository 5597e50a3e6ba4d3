//! The HTTP destinations against wiremock answering like Slack and like a
//! webhook receiver: what is sent, and what each answer means.

use std::collections::HashMap;

use triage_core::dispatch::{DeliveryError, EventSink};
use triage_core::events::{TicketEvent, for_write};
use triage_core::routing::DestinationKind;
use triage_core::signature::WebhookSecrets;
use triage_core::ticket::TicketWrite;
use triage_core::timestamped_signature::{Scheme, verify};
use triage_destinations::{ComposeError, Endpoint, HttpDestinations, from_routing};
use triage_secrets::SecretResolver;
use triage_testkit::contract::sample_ticket;
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &[u8] = b"receiver-signing-key";
const NOW_S: i64 = 1_764_547_200;

fn event() -> TicketEvent {
    let mut t = sample_ticket("g1", "m1", None, NOW_S);
    t.subject = "Refund <@U123> & <!channel>".into();
    let written = TicketWrite::Created {
        ticket_id: t.id.clone(),
    };
    for_write(&t, &written).unwrap()
}

async fn sink(server: &MockServer) -> HttpDestinations {
    let mut endpoints = HashMap::new();
    endpoints.insert(
        "slack".to_string(),
        Endpoint::new(
            DestinationKind::Slack,
            &format!("{}/slack", server.uri()),
            None,
        )
        .unwrap(),
    );
    endpoints.insert(
        "hook".to_string(),
        Endpoint::new(
            DestinationKind::Webhook,
            &format!("{}/hook", server.uri()),
            Some(KEY.to_vec()),
        )
        .unwrap(),
    );
    HttpDestinations::new(endpoints).unwrap()
}

#[tokio::test]
async fn slack_gets_the_compact_escaped_message_without_the_address() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/slack"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let e = event();
    sink(&server)
        .await
        .deliver("slack", &e, NOW_S)
        .await
        .unwrap();
    let sent = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    let text = body.to_string();
    assert!(
        text.contains("&lt;@U123&gt; &amp; &lt;!channel&gt;"),
        "{text}"
    );
    assert!(text.contains(&e.ticket_id));
    assert!(text.contains("example.com"));
    assert!(!text.contains("ann@example.com"), "{text}");
    assert!(!text.contains("<!channel>"), "{text}");
}

#[tokio::test]
async fn a_webhook_delivery_verifies_with_standard_webhooks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header_exists("webhook-signature"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let e = event();
    sink(&server)
        .await
        .deliver("hook", &e, NOW_S)
        .await
        .unwrap();
    let sent = &server.received_requests().await.unwrap()[0];
    let keys = WebhookSecrets::parse(std::str::from_utf8(KEY).unwrap()).unwrap();
    let header = |name: &str| sent.headers.get(name).map(|v| v.as_bytes());
    let verified = verify(&keys, header, &sent.body, NOW_S, 300).unwrap();
    assert_eq!(verified.scheme, Scheme::StandardWebhooks);
    assert_eq!(sent.headers.get("webhook-id").unwrap(), e.id.as_str());
    let body: TicketEvent = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body, e);
    // A tampered body does not verify.
    let mut tampered = sent.body.clone();
    tampered.push(b' ');
    assert!(verify(&keys, header, &tampered, NOW_S, 300).is_err());
}

async fn answer(status: u16, retry_after: Option<&str>) -> Result<(), DeliveryError> {
    let server = MockServer::start().await;
    let mut response = ResponseTemplate::new(status).set_body_string("{not json");
    if let Some(v) = retry_after {
        response = response.insert_header("retry-after", v);
    }
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    sink(&server).await.deliver("hook", &event(), NOW_S).await
}

#[tokio::test]
async fn answers_map_to_delivered_retry_or_permanent() {
    assert_eq!(answer(200, None).await, Ok(()));
    assert_eq!(
        answer(429, Some("7")).await,
        Err(DeliveryError::Transient {
            reason: "HTTP 429".into(),
            retry_after_ms: Some(7_000)
        })
    );
    assert!(answer(503, None).await.unwrap_err().is_transient());
    assert!(answer(500, Some("soon")).await.unwrap_err().is_transient());
    assert_eq!(
        answer(404, None).await,
        Err(DeliveryError::Permanent {
            reason: "HTTP 404".into()
        })
    );
    assert!(!answer(410, None).await.unwrap_err().is_transient());
    // Redirects are not followed: a signed event goes where it was sent.
    assert!(!answer(302, None).await.unwrap_err().is_transient());
}

#[tokio::test]
async fn unreachable_and_unknown_destinations() {
    // A port nothing listens on (wiremock pools its servers, so a dropped
    // MockServer may still answer).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut endpoints = HashMap::new();
    endpoints.insert(
        "slack".to_string(),
        Endpoint::new(
            DestinationKind::Slack,
            &format!("http://127.0.0.1:{port}/x"),
            None,
        )
        .unwrap(),
    );
    let s = HttpDestinations::new(endpoints).unwrap();
    let e = s.deliver("slack", &event(), NOW_S).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    let e = s.deliver("nowhere", &event(), NOW_S).await.unwrap_err();
    assert!(!e.is_transient());
}

const RULES: &str = r#"
[destinations.oncall]
type = "slack"
url_var = "TEST_ONCALL_URL"

[destinations.helpdesk]
type = "webhook"
url_var = "TEST_HELPDESK_URL"
signing_secret_var = "TEST_HELPDESK_SECRET"

[routes]
incidents = ["oncall", "helpdesk"]
default = ["helpdesk"]
"#;

async fn compose(vars: &[(&str, &str)]) -> Result<HttpDestinations, ComposeError> {
    let rules = triage_core::classify::Rules::from_toml(RULES).unwrap();
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |k: &str| vars.get(k).cloned();
    from_routing(rules.routing(), &lookup, &SecretResolver::new()).await
}

#[tokio::test]
async fn composition_reads_the_named_variables_and_refuses_what_cannot_work() {
    let ok = compose(&[
        (
            "TEST_ONCALL_URL",
            "https://hooks.slack.com/services/T/B/SECRETPART",
        ),
        ("TEST_HELPDESK_URL", "http://127.0.0.1:9/hook"),
        (
            "TEST_HELPDESK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
    ])
    .await
    .unwrap();
    let mut names: Vec<&str> = ok.names().collect();
    names.sort();
    assert_eq!(names, ["helpdesk", "oncall"]);
    assert!(!format!("{ok:?}").contains("SECRETPART"));

    let unset = compose(&[("TEST_ONCALL_URL", "https://h.example/x")])
        .await
        .unwrap_err();
    assert!(unset.to_string().contains("TEST_HELPDESK_URL"), "{unset}");
    let plain_http = compose(&[
        ("TEST_ONCALL_URL", "http://hooks.example.com/SECRETPART"),
        ("TEST_HELPDESK_URL", "https://h.example/x"),
        ("TEST_HELPDESK_SECRET", "k"),
    ])
    .await
    .unwrap_err();
    assert!(
        matches!(plain_http, ComposeError::Url { .. }),
        "{plain_http}"
    );
    assert!(!plain_http.to_string().contains("SECRETPART"));
    let bad_key = compose(&[
        ("TEST_ONCALL_URL", "https://h.example/x"),
        ("TEST_HELPDESK_URL", "https://h.example/y"),
        ("TEST_HELPDESK_SECRET", "whsec_!!"),
    ])
    .await
    .unwrap_err();
    assert!(matches!(bad_key, ComposeError::Key { .. }), "{bad_key}");
}

#[tokio::test]
async fn the_partial_composition_leaves_out_what_cannot_work_and_says_so() {
    let rules = triage_core::classify::Rules::from_toml(RULES).unwrap();
    let lookup = |k: &str| match k {
        "TEST_ONCALL_URL" => Some("https://hooks.slack.com/services/T/B/X".to_string()),
        "TEST_HELPDESK_URL" => Some("https://helpdesk.example/hook".to_string()),
        _ => None,
    };
    let (destinations, refused) =
        triage_destinations::from_routing_partial(rules.routing(), &lookup, &SecretResolver::new())
            .await
            .unwrap();
    assert_eq!(destinations.names().collect::<Vec<_>>(), ["oncall"]);
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0].to_string().contains("TEST_HELPDESK_SECRET"),
        "{}",
        refused[0]
    );
    // Events for the one left out fail for good (dead-lettered, redriven later).
    let e = destinations
        .deliver("helpdesk", &event(), NOW_S)
        .await
        .unwrap_err();
    assert!(!e.is_transient(), "{e:?}");
}
