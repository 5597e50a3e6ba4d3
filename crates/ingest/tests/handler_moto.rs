//! `ingest` end to end through the Lambda request conversion, against a real
//! SQS API (moto on loopback, started by `infra/test.sh`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::MessageSystemAttributeName;
use triage_core::envelope::Envelope;
use triage_core::ingest::IngestPolicy;
use triage_core::provider::open;
use triage_ingest::{IngestState, compose, lambda_handler};
use triage_sqs::SqsQueue;
use triage_testkit::{config_for, create_sqs_queue, moto_config, repo_root};

const SECRET: &str = "inbox-triage-test-secret";

fn event(name: &str) -> lambda_http::Request {
    let path: PathBuf = repo_root().join("events").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

struct Fixture {
    sqs: aws_sdk_sqs::Client,
    url: String,
    state: IngestState<SqsQueue>,
}

async fn fixture(policy: IngestPolicy) -> Fixture {
    let sdk = moto_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = create_sqs_queue(&sqs, "ingest").await;
    let state = IngestState {
        policy,
        endpoints: compose::inline(
            Some(&format!("old-secret,{SECRET}")),
            Some(&format!("whsec_b2xkLXNlY3JldA==,{SECRET}")),
            300,
        )
        .unwrap()
        .into(),
        queue: SqsQueue::new(&sdk, url.clone(), Duration::from_secs(3)),
    };
    Fixture { sqs, url, state }
}

impl Fixture {
    async fn call(&self, name: &str) -> (u16, String) {
        let resp = lambda_handler(&self.state, event(name)).await.unwrap();
        let status = resp.status().as_u16();
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        let body = String::from_utf8(resp.body().to_vec()).unwrap();
        (status, body)
    }

    async fn drain(&self) -> Vec<aws_sdk_sqs::types::Message> {
        let mut all = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .unwrap();
            let batch = out.messages().to_vec();
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }
}

fn attr<'a>(m: &'a aws_sdk_sqs::types::Message, name: &str) -> Option<&'a str> {
    m.message_attributes()?.get(name)?.string_value()
}

#[tokio::test]
async fn challenge_is_echoed_exactly() {
    let f = fixture(IngestPolicy::default()).await;
    let resp = lambda_handler(&f.state, event("apigw-challenge.json"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(resp.body().as_ref(), b"3b4ca5e1-challenge-value");
    assert!(f.drain().await.is_empty());
}

#[tokio::test]
async fn signed_created_lands_in_the_queue_with_envelope_and_attributes() {
    let f = fixture(IngestPolicy::default()).await;
    let (status, body) = f.call("apigw-message-created.json").await;
    assert_eq!(status, 200, "{body}");
    let msgs = f.drain().await;
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    let env = Envelope::decode(m.body().unwrap()).unwrap();
    assert_eq!(env.provider, "nylas");
    assert_eq!(env.notification_id, "2f6b4c2e-5d1a-4f0b-9a7e-1c3d5e7f9a01");
    assert_eq!(env.message_id.as_deref(), Some("19a8f3c2d1e0b7a6"));
    assert!(!env.refetch);
    let msg = open(&env).unwrap().message.unwrap();
    assert_eq!(
        msg.subject.as_deref(),
        Some("Production dashboard is down for our whole team")
    );
    assert_eq!(attr(m, "provider"), Some("nylas"));
    assert_eq!(attr(m, "type"), Some("message.created"));
    assert_eq!(attr(m, "base_type"), Some("message.created"));
    assert_eq!(
        attr(m, "grant_id"),
        Some("7e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7")
    );
    assert_eq!(attr(m, "message_id"), Some("19a8f3c2d1e0b7a6"));
    assert_eq!(attr(m, "refetch"), Some("false"));
    assert_eq!(attr(m, "envelope_version"), Some("1"));
}

#[tokio::test]
async fn every_sample_event_gets_its_status() {
    let f = fixture(IngestPolicy::default()).await;
    let cases = [
        (
            "apigw-message-created-truncated.json",
            200,
            Some("truncated"),
        ),
        ("apigw-message-created-cleaned.json", 200, Some("cleaned")),
        ("apigw-message-created-gzip.json", 200, None),
        ("apigw-legacy-deltas.json", 200, None),
        ("apigw-bad-signature.json", 401, None),
        ("apigw-missing-signature.json", 401, None),
    ];
    let mut expected_queued = 0;
    for (name, want, suffix) in cases {
        let (status, body) = f.call(name).await;
        assert_eq!(status, want, "{name}: {body}");
        if want == 401 {
            assert!(body.contains("signature"), "{name}: {body}");
            assert!(
                !body.contains("Production dashboard"),
                "{name} echoed the body"
            );
        } else {
            expected_queued += 1;
        }
        if let Some(s) = suffix {
            let msgs = f.drain().await;
            assert_eq!(msgs.len(), 1, "{name}");
            assert_eq!(attr(&msgs[0], "suffixes"), Some(s), "{name}");
            expected_queued -= 1;
        }
    }
    let rest = f.drain().await;
    assert_eq!(rest.len(), expected_queued);
    let shapes: Vec<String> = rest
        .iter()
        .map(|m| Envelope::decode(m.body().unwrap()).unwrap().shape)
        .collect();
    assert!(shapes.contains(&"deltas".to_string()), "{shapes:?}");
}

#[tokio::test]
async fn several_deltas_become_several_messages_in_one_request() {
    let f = fixture(IngestPolicy::default()).await;
    let entries: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"type":"message.created","date":1,"object":"message","data":{{"id":"m{i}","grant_id":"g1"}}}}"#))
        .collect();
    let body = format!(r#"{{"deltas":[{}]}}"#, entries.join(","));
    let sig = triage_core::signature::sign_nylas(SECRET.as_bytes(), body.as_bytes());
    let mut headers = http::HeaderMap::new();
    headers.insert("x-nylas-signature", sig.parse().unwrap());
    let reply = triage_ingest::handle(
        &f.state,
        &http::Method::POST,
        "/webhooks/nylas",
        None,
        &headers,
        body.as_bytes(),
        1,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut ids: Vec<String> = f
        .drain()
        .await
        .iter()
        .map(|m| attr(m, "message_id").unwrap().to_string())
        .collect();
    ids.sort();
    let mut want: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(ids, want);
}

#[tokio::test]
async fn oversize_notification_is_queued_as_reference() {
    let f = fixture(IngestPolicy {
        max_queue_message_bytes: 1024,
        ..Default::default()
    })
    .await;
    let (status, _) = f.call("apigw-message-created.json").await;
    assert_eq!(status, 200);
    let msgs = f.drain().await;
    assert_eq!(msgs.len(), 1);
    let env = Envelope::decode(msgs[0].body().unwrap()).unwrap();
    assert!(env.refetch);
    assert!(env.notification.is_none());
    assert_eq!(attr(&msgs[0], "refetch"), Some("true"));
    assert_eq!(
        env.grant_id.as_deref(),
        Some("7e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7")
    );
}

#[tokio::test]
async fn wrong_method_and_path() {
    let f = fixture(IngestPolicy::default()).await;
    let mut req = event("apigw-challenge.json");
    *req.method_mut() = http::Method::PUT;
    let resp = lambda_handler(&f.state, req).await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET, POST");
    let mut req = event("apigw-challenge.json");
    *req.uri_mut() = "/webhooks/other?challenge=x".parse().unwrap();
    assert_eq!(lambda_handler(&f.state, req).await.unwrap().status(), 404);
}

fn endpoints() -> Vec<triage_ingest::Endpoint> {
    compose::inline(Some(SECRET), None, 300).unwrap()
}

#[tokio::test]
async fn unreachable_sqs_gives_503_fast() {
    // A port nothing listens on: connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sdk = config_for(&format!("http://127.0.0.1:{port}")).await;
    let state = IngestState {
        policy: IngestPolicy::default(),
        endpoints: endpoints().into(),
        queue: SqsQueue::new(
            &sdk,
            format!("http://127.0.0.1:{port}/123456789012/q"),
            Duration::from_millis(800),
        ),
    };
    let started = Instant::now();
    let resp = lambda_handler(&state, event("apigw-message-created.json"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn black_hole_sqs_gives_503_within_the_timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let sdk = config_for(&format!("http://{addr}")).await;
    let timeout = Duration::from_millis(600);
    let state = IngestState {
        policy: IngestPolicy::default(),
        endpoints: endpoints().into(),
        queue: SqsQueue::new(&sdk, format!("http://{addr}/123456789012/q"), timeout),
    };
    let started = Instant::now();
    let resp = lambda_handler(&state, event("apigw-message-created.json"))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), 503);
    assert!(
        elapsed >= timeout / 2 && elapsed < timeout * 3,
        "{elapsed:?}"
    );
    holder.abort();
}

/// The sample time of the inbound events (events/make_events.py).
const INBOUND_SAMPLE_MS: i64 = 1_764_547_200_000;

impl Fixture {
    /// Call the handler as at `now_ms` (the inbound samples are signed at a
    /// fixed time and the clock check is part of the handler).
    async fn call_at(&self, name: &str, now_ms: i64) -> (u16, String) {
        let (parts, body) = event(name).into_parts();
        let reply = triage_ingest::handle(
            &self.state,
            &parts.method,
            parts.uri.path(),
            parts.uri.query(),
            &parts.headers,
            body.as_ref(),
            now_ms,
        )
        .await;
        (reply.status, reply.body)
    }
}

#[tokio::test]
async fn inbound_samples_get_their_status_and_land_keyed_by_mailbox_and_message_id() {
    let f = fixture(IngestPolicy::default()).await;
    let cases = [
        ("apigw-inbound-standard.json", 200, ""),
        ("apigw-inbound-standard-rotated.json", 200, ""),
        ("apigw-inbound-timestamped.json", 200, ""),
        ("apigw-inbound-auto-reply.json", 200, ""),
        ("apigw-inbound-tampered.json", 401, "signature_mismatch"),
        ("apigw-inbound-unsigned.json", 401, "signature_missing"),
    ];
    for (name, want, code) in cases {
        let (status, body) = f.call_at(name, INBOUND_SAMPLE_MS + 1_000).await;
        assert_eq!(status, want, "{name}: {body}");
        assert!(body.contains(code), "{name}: {body}");
        assert!(!body.contains("Checkout"), "{name} echoed the body");
    }
    let msgs = f.drain().await;
    assert_eq!(msgs.len(), 4);
    let first = msgs
        .iter()
        .map(|m| Envelope::decode(m.body().unwrap()).unwrap())
        .find(|e| e.notification_id == "msg_2fQxSample0001")
        .expect("the Standard Webhooks sample, under its webhook-id");
    assert_eq!(first.provider, "inbound");
    assert_eq!(
        first.grant_id,
        Some(triage_core::inbound_email::mailbox_key(
            "support@acme.example"
        ))
    );
    assert_eq!(
        first.message_id,
        triage_core::inbound_email::message_key("<20251201.ann.1@mail.example.com>")
    );
    let opened = open(&first).unwrap();
    let m = opened.message.unwrap();
    assert_eq!(m.subject.as_deref(), Some("Checkout fails with error 500"));
    assert!(m.header("received").is_some());
    for m in &msgs {
        assert_eq!(attr(m, "provider"), Some("inbound"));
    }
}

#[tokio::test]
async fn inbound_outside_the_tolerance_is_refused_either_way() {
    let f = fixture(IngestPolicy::default()).await;
    for skew_ms in [-301_000, 301_000, 86_400_000] {
        let (status, body) = f
            .call_at("apigw-inbound-standard.json", INBOUND_SAMPLE_MS + skew_ms)
            .await;
        assert_eq!(status, 401, "{skew_ms}: {body}");
        assert!(body.contains("timestamp_outside_tolerance"), "{body}");
    }
    // The real clock is years past the sample: the Lambda entry refuses it.
    let (status, _) = f.call("apigw-inbound-timestamped.json").await;
    assert_eq!(status, 401);
    assert!(f.drain().await.is_empty());
}

#[tokio::test]
async fn inbound_route_answers_post_only_and_only_when_configured() {
    let f = fixture(IngestPolicy::default()).await;
    let mut req = event("apigw-inbound-standard.json");
    *req.method_mut() = http::Method::GET;
    let resp = lambda_handler(&f.state, req).await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    // A stack with only the Nylas secret does not serve the inbound route.
    let nylas_only = IngestState {
        policy: IngestPolicy::default(),
        endpoints: endpoints().into(),
        queue: SqsQueue::new(&moto_config().await, f.url.clone(), Duration::from_secs(3)),
    };
    let resp = lambda_handler(&nylas_only, event("apigw-inbound-standard.json"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
