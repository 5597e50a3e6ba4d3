//! SQS outage while deliveries keep arriving: every POST answers within the
//! client timeout, and once SQS is back, everything that was acknowledged
//! with a 200 is in the queue. moto on loopback (started by `infra/test.sh`)
//! behind a fault proxy that refuses or black-holes connections on demand.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method};
use triage_core::ingest::IngestPolicy;
use triage_core::signature::sign_nylas;
use triage_ingest::{IngestState, handle};
use triage_sqs::SqsQueue;
use triage_testkit::proxy::{FaultProxy, Mode, endpoint_addr};
use triage_testkit::{config_for, create_sqs_queue, moto_config, moto_endpoint};

const SECRET: &str = "outage-test-secret";
const CLIENT_TIMEOUT: Duration = Duration::from_millis(700);

fn notification(message_id: &str) -> String {
    serde_json::json!({
        "specversion": "1.0", "type": "message.created", "source": "/google/emails/realtime",
        "id": format!("n-{message_id}"), "time": 1763870400,
        "data": {"application_id": "app", "object": {
            "id": message_id, "grant_id": "grant-outage", "object": "message",
            "thread_id": format!("t-{message_id}"), "subject": "Cannot log in",
            "from": [{"email": "customer@client.example"}],
            "to": [{"email": "support@example.com"}], "date": 1763870395,
            "folders": ["INBOX"], "body": "<p>Hello, the login page fails.</p>"
        }}
    })
    .to_string()
}

/// POST one signed notification; returns the status and how long it took.
async fn post(state: &IngestState<SqsQueue>, message_id: &str) -> (u16, Duration) {
    let body = notification(message_id);
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-nylas-signature",
        HeaderValue::from_str(&sign_nylas(SECRET.as_bytes(), body.as_bytes())).unwrap(),
    );
    let started = Instant::now();
    let reply = handle(
        state,
        &Method::POST,
        "/webhooks/nylas",
        None,
        &headers,
        body.as_bytes(),
        1_763_870_400_000,
    )
    .await;
    (reply.status, started.elapsed())
}

/// Message ids of everything in the queue (read straight from moto).
async fn queued_ids(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut empty_polls = 0;
    while empty_polls < 2 {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive from moto");
        if out.messages().is_empty() {
            empty_polls += 1;
            continue;
        }
        for m in out.messages() {
            let id = m
                .message_attributes()
                .and_then(|a| a.get("message_id"))
                .and_then(|v| v.string_value())
                .expect("every queued message carries its message_id attribute");
            ids.push(id.to_string());
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_acknowledged_is_lost_across_an_sqs_outage() {
    let moto = moto_config().await;
    let sqs = aws_sdk_sqs::Client::new(&moto);
    let url = create_sqs_queue(&sqs, "outage").await;

    let proxy = FaultProxy::start(endpoint_addr(&moto_endpoint())).await;
    let through_proxy = config_for(&proxy.url()).await;
    let state = Arc::new(IngestState {
        policy: IngestPolicy::default(),
        endpoints: triage_ingest::compose::inline(Some(SECRET), None, 300)
            .unwrap()
            .into(),
        queue: SqsQueue::new(&through_proxy, url.clone(), CLIENT_TIMEOUT),
    });

    // A steady stream from 6 senders while SQS goes up, refused, up,
    // black-holed, up.
    let phases = [
        (Mode::Pass, 400),
        (Mode::Refuse, 600),
        (Mode::Pass, 400),
        (Mode::Hold, 1500),
        (Mode::Pass, 600),
    ];
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = Vec::new();
    for s in 0..6 {
        let state = state.clone();
        let stop = stop.clone();
        senders.push(tokio::spawn(async move {
            let mut results = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let id = format!("m-{s}-{n}");
                let (status, took) = post(&state, &id).await;
                results.push((id, status, took));
                n += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            results
        }));
    }
    for (mode, ms) in phases {
        proxy.set(mode);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut results = Vec::new();
    for s in senders {
        results.extend(s.await.unwrap());
    }

    // Every answer is a 200 or a 503, within the client timeout (plus
    // scheduling slack on a loaded 2-core machine).
    let limit = CLIENT_TIMEOUT + Duration::from_millis(800);
    for (id, status, took) in &results {
        assert!(
            *status == 200 || *status == 503,
            "{id}: unexpected status {status}"
        );
        assert!(
            *took < limit,
            "{id}: answered after {took:?} (limit {limit:?})"
        );
    }
    let acked: HashSet<&str> = results
        .iter()
        .filter(|r| r.1 == 200)
        .map(|r| r.0.as_str())
        .collect();
    let refused = results.iter().filter(|r| r.1 == 503).count();
    assert!(
        acked.len() >= 20,
        "too few accepted to mean anything: {}",
        acked.len()
    );
    assert!(refused >= 6, "the outage was not felt: {refused} refused");

    // SQS is back: everything acknowledged is queued. (A 503 may still have
    // been queued when only the answer was lost; the worker dedupes that.)
    let queued = queued_ids(&sqs, &url).await;
    let queued: HashSet<&str> = queued.iter().map(String::as_str).collect();
    let lost: Vec<&&str> = acked.iter().filter(|id| !queued.contains(**id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged but not queued: {:?}",
        lost.len(),
        lost.iter().take(5).collect::<Vec<_>>()
    );
    eprintln!(
        "outage test: {} posts, {} acknowledged, {} refused with 503, {} queued",
        results.len(),
        acked.len(),
        refused,
        queued.len()
    );
}
