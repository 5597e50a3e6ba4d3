//! The worker Lambda's redelivery (issue #13, loss paths 3 and 5), against
//! SQS and DynamoDB on moto and the Nylas API on wiremock.
//!
//! - A permanent failure is in the DLQ after its first receive, with its
//!   reason in message attributes, and is not left to SQS's retries (which
//!   recorded no reason and took five receives).
//! - A `Retry-After` longer than the run can wait (20 minutes) is carried
//!   into the queue as a delayed copy that spends no receive, and the copy
//!   does not ask the provider again before the wait is over.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::json;
use triage_core::classify::Rules;
use triage_core::redelivery::{MAX_RECEIVES, attributes};
use triage_dynamodb::{DynamoIdempotency, DynamoTickets};
use triage_nylas::{CachedFolders, NylasClient, NylasConfig};
use triage_sqs::SqsQueue;
use triage_sqs::redelivery::SqsRedelivery;
use triage_testkit::{create_sqs_queue, moto_config, unique_name};
use triage_worker::{Worker, WorkerSettings};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

type TestWorker = Worker<DynamoIdempotency, DynamoTickets, CachedFolders<NylasClient>>;

struct Rig {
    worker: TestWorker,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    dlq_url: String,
    redelivery: SqsRedelivery,
}

async fn rig(nylas: Option<&MockServer>) -> Rig {
    let sdk = moto_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = create_sqs_queue(&sqs, "notifications").await;
    let dlq_url = create_sqs_queue(&sqs, "dlq").await;
    let source = nylas.map(|server| {
        let mut c = NylasConfig::new("test-api-key");
        c.base_url = server.uri();
        c.max_attempts = 3;
        CachedFolders::new(NylasClient::new(c).unwrap())
    });
    let worker = Worker {
        idempotency: DynamoIdempotency::new(
            &sdk,
            triage_testkit::create_dynamo_table(&ddb, "idem").await,
        ),
        tickets: DynamoTickets::new(
            &sdk,
            triage_testkit::create_dynamo_table(&ddb, "tickets").await,
        ),
        source,
        rules: Rules::default_rules(),
        settings: WorkerSettings::default(),
        acks: triage_core::acknowledgement::NoAcknowledgements,
        raw_mail: triage_core::ports::NoRawMail,
    };
    // moto honours SQS delays: without this the test would wait 15 minutes
    // to see a copy. The not-before time it carries is the real one.
    let redelivery = SqsRedelivery::new(
        SqsQueue::new(&sdk, queue_url.clone(), Duration::from_secs(3)),
        dlq_url.clone(),
    )
    .with_max_delay_seconds(0);
    Rig {
        worker,
        sqs,
        queue_url,
        dlq_url,
        redelivery,
    }
}

fn now_ms() -> i64 {
    triage_clock::now_ms()
}

/// An SQS record as Lambda hands it over.
fn record(id: &str, body: &str, receive_count: u32, attrs: &[(&str, &str)]) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_string());
    m.body = Some(body.to_string());
    m.attributes = HashMap::from([(
        "ApproximateReceiveCount".to_string(),
        receive_count.to_string(),
    )]);
    m.message_attributes = attrs
        .iter()
        .map(|(k, v)| {
            let mut a = SqsMessageAttribute::default();
            a.string_value = Some(v.to_string());
            a.data_type = Some("String".into());
            (k.to_string(), a)
        })
        .collect();
    m
}

/// Everything on a queue: (body, string attributes, receive count).
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, HashMap<String, String>)> {
    let mut out = Vec::new();
    for _ in 0..3 {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        for m in got.messages() {
            let attrs = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.string_value()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            out.push((m.body().unwrap_or_default().to_string(), attrs));
        }
        if !out.is_empty() {
            break;
        }
    }
    out
}

/// A reference-only envelope: the worker must fetch the message.
fn reference(grant: &str, id: &str) -> String {
    json!({
        "envelope_version": 1, "provider": "nylas", "received_at_ms": 1,
        "notification_id": format!("n-{id}"), "type": "message.created",
        "base_type": "message.created", "suffixes": [],
        "source": "/google/emails/realtime", "grant_id": grant, "message_id": id,
        "shape": "v3", "refetch": true,
    })
    .to_string()
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_at_once_with_its_reason() {
    let r = rig(None).await;
    let bad = r#"{"envelope_version": 1, "provider": "nylas", "secret": "do-not-show"}"#;
    let resp = r
        .worker
        .process_batch_with(
            vec![record("sqs-bad", bad, 1, &[("notification_id", "n-bad")])],
            now_ms(),
            Instant::now() + Duration::from_secs(20),
            &r.redelivery,
        )
        .await;
    assert!(
        resp.batch_item_failures.is_empty(),
        "dead-lettered, so Lambda deletes it: not left for four more receives"
    );
    let dead = drain(&r.sqs, &r.dlq_url).await;
    assert_eq!(dead.len(), 1);
    let (body, attrs) = &dead[0];
    assert_eq!(body, bad, "the body as received, for a redrive");
    assert_eq!(attrs[attributes::FAILURE], "permanent");
    assert_eq!(attrs[attributes::RECEIVES], "1");
    assert_eq!(attrs["notification_id"], "n-bad", "the ids travel along");
    let reason = &attrs[attributes::REASON];
    assert!(!reason.is_empty());
    assert!(!reason.contains("do-not-show"), "{reason}");
    assert!(drain(&r.sqs, &r.queue_url).await.is_empty());
}

#[tokio::test]
async fn without_a_reachable_dlq_the_failure_is_left_to_the_queue() {
    let mut r = rig(None).await;
    let sdk = moto_config().await;
    r.redelivery = SqsRedelivery::new(
        SqsQueue::new(&sdk, r.queue_url.clone(), Duration::from_secs(3)),
        format!("{}-missing", r.dlq_url),
    );
    let resp = r
        .worker
        .process_batch_with(
            vec![record("sqs-bad", "{}", 1, &[])],
            now_ms(),
            Instant::now() + Duration::from_secs(20),
            &r.redelivery,
        )
        .await;
    assert_eq!(resp.batch_item_failures.len(), 1, "never dropped");
}

#[tokio::test]
async fn transient_failures_are_retried_by_the_queue_then_dead_lettered_with_a_reason() {
    let server = MockServer::start().await;
    let grant = unique_name("g");
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/messages/m-503")))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let r = rig(Some(&server)).await;
    let body = reference(&grant, "m-503");
    let deadline = Instant::now() + Duration::from_secs(20);
    let early = r
        .worker
        .process_batch_with(
            vec![record("sqs-1", &body, 1, &[])],
            now_ms(),
            deadline,
            &r.redelivery,
        )
        .await;
    assert_eq!(early.batch_item_failures.len(), 1, "retried by SQS");
    let last = r
        .worker
        .process_batch_with(
            vec![record("sqs-1", &body, MAX_RECEIVES, &[])],
            now_ms(),
            deadline,
            &r.redelivery,
        )
        .await;
    assert!(last.batch_item_failures.is_empty());
    let dead = drain(&r.sqs, &r.dlq_url).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1[attributes::FAILURE], "transient");
    assert!(
        dead[0].1[attributes::REASON].contains("503"),
        "{:?}",
        dead[0].1
    );
}

#[tokio::test]
async fn a_long_retry_after_is_carried_into_the_queue_without_spending_a_receive() {
    let server = MockServer::start().await;
    let grant = unique_name("g");
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/messages/m-throttled")))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1200"))
        .expect(1)
        .mount(&server)
        .await;
    let r = rig(Some(&server)).await;
    let body = reference(&grant, "m-throttled");
    let now = now_ms();
    // The last receive SQS would allow: today this dead-lettered it.
    let resp = r
        .worker
        .process_batch_with(
            vec![record(
                "sqs-t",
                &body,
                MAX_RECEIVES,
                &[("notification_id", "n-t")],
            )],
            now,
            Instant::now() + Duration::from_secs(20),
            &r.redelivery,
        )
        .await;
    assert!(resp.batch_item_failures.is_empty(), "put back, not failed");
    assert!(drain(&r.sqs, &r.dlq_url).await.is_empty());

    // The copy: a new SQS message (receive count starts again), delayed, and
    // saying when the provider may be asked again.
    let copies = drain(&r.sqs, &r.queue_url).await;
    assert_eq!(copies.len(), 1);
    let (copy_body, attrs) = &copies[0];
    assert_eq!(copy_body, &body);
    assert_eq!(attrs["notification_id"], "n-t");
    assert_eq!(attrs[attributes::DEFERRALS], "1");
    let not_before: i64 = attrs[attributes::NOT_BEFORE].parse().unwrap();
    assert!(
        (now + 1_199_000..=now + 1_201_000).contains(&not_before),
        "{} ms",
        not_before - now
    );

    // Received again after SQS's 15-minute delay, before the 20 minutes are
    // over: put back once more, without calling the provider (`expect(1)`).
    let pairs: Vec<(&str, &str)> = attrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let resp = r
        .worker
        .process_batch_with(
            vec![record("sqs-t2", copy_body, 1, &pairs)],
            now + 900_000,
            Instant::now() + Duration::from_secs(20),
            &r.redelivery,
        )
        .await;
    assert!(resp.batch_item_failures.is_empty());
    let again = drain(&r.sqs, &r.queue_url).await;
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].1[attributes::DEFERRALS],
        "1",
        "a hop is not a new wait"
    );
    assert_eq!(
        again[0].1[attributes::NOT_BEFORE],
        attrs[attributes::NOT_BEFORE]
    );
    server.verify().await;
}
