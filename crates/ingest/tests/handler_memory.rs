//! The ingest handler on an in-memory queue (`triage-memory`): no moto.
//! Accepted means queued; a queue that is down is a 503 the provider
//! retries; refusals carry the right status.

use http::{HeaderMap, HeaderValue, Method};
use triage_core::envelope::Envelope;
use triage_core::ingest::IngestPolicy;
use triage_core::signature::sign_nylas;
use triage_ingest::{IngestState, compose, handle};
use triage_memory::MemoryQueue;

const SECRET: &str = "memory-test-secret";
const NOW: i64 = 1_763_870_400_000;

fn state(queue: &MemoryQueue) -> IngestState<MemoryQueue> {
    IngestState {
        policy: IngestPolicy {
            max_body_bytes: 64 * 1024,
            ..IngestPolicy::default()
        },
        endpoints: compose::inline(Some(SECRET), None, 300).unwrap().into(),
        queue: queue.clone(),
    }
}

fn notification(id: &str) -> String {
    serde_json::json!({
        "specversion": "1.0", "type": "message.created", "source": "/google/emails/realtime",
        "id": format!("n-{id}"), "time": 1763870398,
        "data": {"application_id": "app", "object": {
            "id": id, "grant_id": "grant-mem", "object": "message", "thread_id": "t",
            "subject": "Hello", "from": [{"email": "c@client.example"}],
            "to": [{"email": "support@example.com"}], "date": 1763870395,
            "folders": ["INBOX"], "body": "<p>hi</p>"
        }}
    })
    .to_string()
}

async fn post(state: &IngestState<MemoryQueue>, body: &str, secret: &str) -> u16 {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-nylas-signature",
        HeaderValue::from_str(&sign_nylas(secret.as_bytes(), body.as_bytes())).unwrap(),
    );
    handle(
        state,
        &Method::POST,
        "/webhooks/nylas",
        None,
        &headers,
        body.as_bytes(),
        NOW,
    )
    .await
    .status
}

#[tokio::test]
async fn accepted_means_queued() {
    let queue = MemoryQueue::new();
    let s = state(&queue);
    assert_eq!(post(&s, &notification("m1"), SECRET).await, 200);
    let queued = queue.take();
    assert_eq!(queued.len(), 1);
    let env = Envelope::decode(&queued[0].body).unwrap();
    assert_eq!(env.message_id.as_deref(), Some("m1"));
    assert_eq!(env.received_at_ms, NOW);
}

#[tokio::test]
async fn a_queue_that_is_down_is_a_503_the_provider_retries() {
    let queue = MemoryQueue::new();
    queue.set_down(true);
    let s = state(&queue);
    assert_eq!(post(&s, &notification("m1"), SECRET).await, 503);
    queue.set_down(false);
    assert!(queue.take().is_empty());
    assert_eq!(
        post(&s, &notification("m1"), SECRET).await,
        200,
        "the retry"
    );
    assert_eq!(queue.take().len(), 1);
}

#[tokio::test]
async fn refusals_have_their_status_and_queue_nothing() {
    let queue = MemoryQueue::new();
    let s = state(&queue);
    assert_eq!(post(&s, &notification("m1"), "wrong-secret").await, 401);
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(70 * 1024));
    assert_eq!(post(&s, &big, SECRET).await, 413);
    assert_eq!(post(&s, "{\"not\": \"a notification\"", SECRET).await, 400);
    let reply = handle(
        &s,
        &Method::POST,
        "/webhooks/elsewhere",
        None,
        &HeaderMap::new(),
        b"{}",
        NOW,
    )
    .await;
    assert_eq!(reply.status, 404);
    assert!(queue.take().is_empty());
}
