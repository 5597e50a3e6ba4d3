//! The `reconcile` Lambda's run against DynamoDB and SQS on moto (started
//! by `infra/test.sh`) and the Nylas API on wiremock: found mail is queued
//! as reference envelopes the worker reads, known mail is not, the cursor
//! is stored in the idempotency table, and the next run starts from it.

use std::time::{Duration, Instant};

use serde_json::json;
use triage_core::envelope::Envelope;
use triage_core::ports::{ClaimTimes, DedupeKey, IdempotencyStore};
use triage_core::reconcile::service::{Reconciler, RunOptions};
use triage_core::reconcile::{OVERLAP_S, ReconcileCursors};
use triage_dynamodb::DynamoIdempotency;
use triage_nylas::reconcile::NylasReconcile;
use triage_nylas::{NylasClient, NylasConfig};
use triage_reconcile::run_once;
use triage_sqs::SqsQueue;
use triage_testkit::{create_dynamo_table, create_sqs_queue, moto_config, unique_name};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn queued(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Envelope> {
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        if got.messages().is_empty() {
            return out;
        }
        for m in got.messages() {
            out.push(Envelope::decode(m.body().unwrap()).unwrap());
        }
    }
}

#[tokio::test]
async fn found_mail_is_queued_for_the_worker_and_the_cursor_kept_in_the_table() {
    let grant = unique_name("grant");
    let now_ms = triage_clock::now_ms();
    let now_s = now_ms / 1000;
    let nylas = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/grants"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "g", "data": [{"id": grant, "grant_status": "valid"}]
        })))
        .mount(&nylas)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/messages")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "l",
            "data": [{"id": "lost", "date": now_s - 30}, {"id": "seen", "date": now_s - 60}]
        })))
        .mount(&nylas)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/webhooks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "w", "data": [{"id": "wh", "status": "failed"}]
        })))
        .mount(&nylas)
        .await;

    let sdk = moto_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let store = DynamoIdempotency::new(&sdk, create_dynamo_table(&ddb, "idem").await);
    let url = create_sqs_queue(&sqs, "notifications").await;
    store
        .claim(
            &DedupeKey {
                grant_id: grant.clone(),
                message_id: "seen".into(),
            },
            ClaimTimes {
                now_ms,
                lease_until_ms: now_ms + 60_000,
                expires_at_s: now_s + 3_600,
            },
        )
        .await
        .unwrap();
    let mut config = NylasConfig::new("test-key");
    config.base_url = nylas.uri();
    let reconciler = Reconciler {
        source: NylasReconcile::new(NylasClient::new(config).unwrap()),
        cursors: store.clone(),
        known: store.clone(),
        queue: SqsQueue::new(&sdk, url.clone(), Duration::from_secs(3)),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = run_once(&reconciler, &RunOptions::default(), now_ms, deadline).await;
    assert_eq!(report.failures(), 0, "{report:?}");
    assert_eq!((report.listed(), report.queued()), (2, 1));
    assert_eq!(report.unhealthy_webhooks(), 1);

    let envelopes = queued(&sqs, &url).await;
    assert_eq!(envelopes.len(), 1);
    let e = &envelopes[0];
    assert!(e.refetch, "a reference: the worker fetches it");
    assert_eq!(e.message_id.as_deref(), Some("lost"));
    assert_eq!(e.grant_id.as_deref(), Some(grant.as_str()));
    assert_eq!(store.cursor("nylas", &grant).await.unwrap(), Some(now_s));

    // The next run asks from the cursor less the overlap.
    nylas.reset().await;
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/messages")))
        .and(query_param(
            "received_after",
            (now_s - OVERLAP_S).to_string().as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"request_id": "l", "data": []})),
        )
        .expect(1)
        .mount(&nylas)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/webhooks"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"request_id": "w", "data": []})),
        )
        .mount(&nylas)
        .await;
    let opts = RunOptions {
        grants: vec![grant.clone()],
        ..RunOptions::default()
    };
    let report = run_once(&reconciler, &opts, now_ms + 900_000, deadline).await;
    assert_eq!(report.failures(), 0, "{report:?}");
    nylas.verify().await;
}
