//! The worker end to end: DynamoDB (moto on loopback, started by
//! `infra/test.sh`) and a fake Nylas API (wiremock on loopback).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::Client;
use serde_json::json;
use triage_core::classify::Rules;
use triage_core::filters::SkipReason;
use triage_core::ports::{ClaimTimes, DedupeKey, IdempotencyStore, TicketFilter, TicketStore};
use triage_core::ticket::{Priority, TicketStatus};
use triage_dynamodb::{DynamoIdempotency, DynamoTickets};
use triage_nylas::{CachedFolders, NylasClient, NylasConfig};
use triage_testkit::{moto_config, repo_root, unique_name};
use triage_worker::{Failure, Outcome, Worker, WorkerSettings};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

type TestWorker = Worker<DynamoIdempotency, DynamoTickets, CachedFolders<NylasClient>>;

async fn create_table(client: &Client, prefix: &str) -> String {
    triage_testkit::create_dynamo_table(client, prefix).await
}

async fn worker(nylas: Option<&MockServer>, settings: WorkerSettings) -> TestWorker {
    let sdk = moto_config().await;
    let client = Client::new(&sdk);
    let idem = create_table(&client, "idem").await;
    let tickets = create_table(&client, "tickets").await;
    let source = nylas.map(|server| {
        let mut c = NylasConfig::new("test-api-key");
        c.base_url = server.uri();
        c.base_backoff = Duration::from_millis(5);
        c.max_backoff = Duration::from_millis(20);
        c.max_attempts = 3;
        CachedFolders::new(NylasClient::new(c).unwrap())
    });
    Worker {
        idempotency: DynamoIdempotency::new(&sdk, idem),
        tickets: DynamoTickets::new(&sdk, tickets),
        source,
        rules: Rules::default_rules(),
        settings,
        acks: triage_core::acknowledgement::NoAcknowledgements,
        raw_mail: triage_core::ports::NoRawMail,
    }
}

fn when_needed() -> WorkerSettings {
    WorkerSettings {
        fetch_policy: triage_worker::FetchPolicy::WhenNeeded,
        support_addresses: vec!["support@example.com".into()],
        ..Default::default()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

/// A queue envelope v1 carrying a message.created notification.
fn envelope(grant: &str, id: &str, thread: &str, subject: &str, body: &str) -> String {
    envelope_typed("message.created", grant, id, thread, subject, body, false)
}

fn envelope_typed(
    ty: &str,
    grant: &str,
    id: &str,
    thread: &str,
    subject: &str,
    body: &str,
    refetch: bool,
) -> String {
    let suffixes: Vec<&str> = ty.split('.').skip(2).collect();
    let mut object = json!({
        "id": id, "grant_id": grant, "object": "message", "thread_id": thread,
        "subject": subject, "from": [{"name": "Cus Tomer", "email": "customer@client.example"}],
        "to": [{"name": "Support", "email": "support@example.com"}],
        "date": 1763870395, "folders": ["INBOX"], "snippet": "snip",
    });
    if !body.is_empty() {
        object["body"] = json!(body);
    }
    let mut env = json!({
        "envelope_version": 1, "provider": "nylas", "received_at_ms": 1,
        "notification_id": format!("n-{id}"), "type": ty,
        "base_type": "message.created", "suffixes": suffixes,
        "source": "/google/emails/realtime", "grant_id": grant, "message_id": id,
        "shape": "v3", "refetch": refetch,
    });
    if !refetch {
        env["notification"] = json!({
            "specversion": "1.0", "type": ty, "id": format!("n-{id}"),
            "source": "/google/emails/realtime", "data": {"object": object}
        });
    }
    env.to_string()
}

async fn all_tickets(w: &TestWorker, grant: &str) -> Vec<triage_core::ticket::Ticket> {
    w.tickets
        .list(&TicketFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.grant_id == grant)
        .collect()
}

fn api_message(
    grant: &str,
    id: &str,
    subject: &str,
    headers: serde_json::Value,
) -> serde_json::Value {
    json!({"request_id": "r1", "data": {
        "id": id, "grant_id": grant, "object": "message", "thread_id": format!("th-{id}"),
        "subject": subject, "from": [{"name": "T", "email": "tom@example.org"}],
        "to": [{"name": "", "email": "support+billing@example.com"}],
        "date": 1763870450, "folders": ["INBOX"],
        "body": "<p>our card was charged twice for the invoice</p>",
        "headers": headers,
    }})
}

async fn folders(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path_regex(r"^/v3/grants/[^/]+/folders$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "f", "data": [
                {"id": "INBOX", "name": "INBOX", "attributes": ["\\Inbox"]},
                {"id": "SENT", "name": "SENT", "attributes": ["\\Sent"]}
            ]
        })))
        .mount(server)
        .await;
}

#[tokio::test]
async fn duplicate_deliveries_give_one_ticket() {
    let w = worker(None, when_needed()).await;
    let grant = unique_name("g");
    let body = envelope(
        &grant,
        "m1",
        "t1",
        "Refund for invoice 42",
        "<p>Please refund the charge</p>",
    );
    let (_, first) = w.process(&body, now_ms(), deadline()).await;
    match first.unwrap() {
        Outcome::Created { classification, .. } => {
            assert_eq!(classification.category, "billing");
            assert_eq!(classification.queue, "billing");
        }
        other => panic!("expected Created, got {other:?}"),
    }
    for _ in 0..2 {
        let (_, again) = w.process(&body, now_ms(), deadline()).await;
        assert!(matches!(again.unwrap(), Outcome::Duplicate { .. }));
    }
    let tickets = all_tickets(&w, &grant).await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].message_count, 1);
    assert_eq!(tickets[0].status, TicketStatus::New);
    assert!(!tickets[0].applied_rules.is_empty());
}

#[tokio::test]
async fn eight_workers_100_messages_3_deliveries_give_100_tickets() {
    let w = Arc::new(worker(None, when_needed()).await);
    let grant = unique_name("g");
    let bodies: Vec<String> = (0..100)
        .map(|i| {
            envelope(
                &grant,
                &format!("m{i}"),
                &format!("t{i}"),
                "help",
                "<p>hello</p>",
            )
        })
        .collect();
    // 300 deliveries, shuffled deterministically, shared by 8 workers.
    let mut deliveries: Vec<String> = bodies.iter().cloned().cycle().take(300).collect();
    deliveries.sort_by_key(|b| b.len() as u64 * 7919 % 300);
    let queue = Arc::new(std::sync::Mutex::new(deliveries));
    let mut handles = Vec::new();
    for _ in 0..8 {
        let w = w.clone();
        let queue = queue.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                let Some(body) = next else { break };
                let (_, r) = w.process(&body, now_ms(), deadline()).await;
                match r {
                    Ok(_) => {}
                    // Redelivery: back on the queue, as SQS would.
                    Err(Failure::InProgress { .. }) | Err(Failure::Transient(_)) => {
                        queue.lock().unwrap().insert(0, body);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(e) => panic!("unexpected failure {e}"),
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let tickets = all_tickets(&w, &grant).await;
    assert_eq!(tickets.len(), 100);
    assert!(tickets.iter().all(|t| t.message_count == 1));
}

#[tokio::test]
async fn crash_between_claim_and_completion_still_one_ticket() {
    let w = worker(None, when_needed()).await;
    let grant = unique_name("g");
    let key = DedupeKey {
        grant_id: grant.clone(),
        message_id: "m1".into(),
    };
    let now = now_ms();
    // A worker claimed the message and died: its lease has run out.
    let crashed = ClaimTimes {
        now_ms: now - 10_000,
        lease_until_ms: now - 1,
        expires_at_s: now / 1000 + 3600,
    };
    w.idempotency.claim(&key, crashed).await.unwrap();
    let body = envelope(&grant, "m1", "t1", "outage", "<p>all down</p>");
    let (_, r) = w.process(&body, now, deadline()).await;
    assert!(matches!(r.unwrap(), Outcome::Created { .. }));

    // Another dies after writing the ticket, before completing.
    let key2 = DedupeKey {
        grant_id: grant.clone(),
        message_id: "m2".into(),
    };
    w.idempotency.claim(&key2, crashed).await.unwrap();
    let body2 = envelope(&grant, "m2", "t2", "question", "<p>hi</p>");
    let msg: triage_core::Message = serde_json::from_value(
        serde_json::from_str::<serde_json::Value>(&body2).unwrap()["notification"]["data"]["object"].clone(),
    )
    .unwrap();
    let class = w.rules.classify(&msg, "hi");
    let ticket = triage_core::ticket::build_ticket(&msg, &class, "hi", now / 1000);
    w.tickets.write(&ticket).await.unwrap();
    let (_, r) = w.process(&body2, now, deadline()).await;
    assert!(matches!(r.unwrap(), Outcome::AlreadyRecorded { .. }));
    let tickets = all_tickets(&w, &grant).await;
    assert_eq!(tickets.len(), 2);
    assert!(tickets.iter().all(|t| t.message_count == 1));
}

#[tokio::test]
async fn expired_ttl_record_is_treated_as_new() {
    let w = worker(None, when_needed()).await;
    let grant = unique_name("g");
    let key = DedupeKey {
        grant_id: grant.clone(),
        message_id: "m1".into(),
    };
    let now = now_ms();
    let old = ClaimTimes {
        now_ms: now - 100_000,
        lease_until_ms: now - 90_000,
        expires_at_s: now / 1000 - 10,
    };
    w.idempotency.claim(&key, old).await.unwrap();
    w.idempotency
        .complete(&key, "created:t_old", now / 1000 - 10)
        .await
        .unwrap();
    let body = envelope(&grant, "m1", "t1", "hello", "<p>hi</p>");
    let (_, r) = w.process(&body, now, deadline()).await;
    assert!(
        matches!(r.unwrap(), Outcome::Created { .. }),
        "expired record must not count as done"
    );
}

#[tokio::test]
async fn live_claim_is_a_batch_item_failure_and_neighbours_succeed() {
    let w = worker(None, when_needed()).await;
    let grant = unique_name("g");
    let now = now_ms();
    let key = DedupeKey {
        grant_id: grant.clone(),
        message_id: "busy".into(),
    };
    let live = ClaimTimes {
        now_ms: now,
        lease_until_ms: now + 600_000,
        expires_at_s: now / 1000 + 3600,
    };
    w.idempotency.claim(&key, live).await.unwrap();
    let record = |id: &str, body: String| {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_string());
        m.body = Some(body);
        m
    };
    let records = vec![
        record("sqs-busy", envelope(&grant, "busy", "tb", "x", "<p>x</p>")),
        record("sqs-ok", envelope(&grant, "fine", "tf", "x", "<p>x</p>")),
        record("sqs-bad", "{\"not\":\"an envelope\"}".into()),
    ];
    let resp = w.process_batch(records, now, deadline()).await;
    let mut failed: Vec<String> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    failed.sort();
    assert_eq!(failed, ["sqs-bad", "sqs-busy"]);
    assert_eq!(all_tickets(&w, &grant).await.len(), 1);
}

#[tokio::test]
async fn sample_sqs_event_file_is_handled() {
    let w = worker(None, when_needed()).await;
    let text = std::fs::read_to_string(repo_root().join("events/sqs-batch-mixed.json")).unwrap();
    let event: SqsEvent = serde_json::from_str(&text).unwrap();
    let resp = w.process_batch(event.records, now_ms(), deadline()).await;
    // Record 6 is a malformed envelope; 4 is a ticket; 5 is our own SENT reply.
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["0b1d2c3e-0000-4000-8000-000000000006"]);
    let tickets = all_tickets(&w, "7e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7").await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].category, "incidents");
    assert_eq!(tickets[0].priority, Priority::High);
}

#[tokio::test]
async fn truncated_triggers_a_fetch() {
    let server = MockServer::start().await;
    folders(&server).await;
    let grant = unique_name("g");
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/messages/m1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(api_message(
            &grant,
            "m1",
            "Invoice charged twice",
            json!([]),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let w = worker(Some(&server), when_needed()).await;
    let body = envelope_typed(
        "message.created.truncated",
        &grant,
        "m1",
        "th",
        "Invoice charged twice",
        "",
        false,
    );
    let (_, r) = w.process(&body, now_ms(), deadline()).await;
    match r.unwrap() {
        Outcome::Created { classification, .. } => assert_eq!(classification.category, "billing"),
        other => panic!("{other:?}"),
    }
    let t = &all_tickets(&w, &grant).await[0];
    assert!(t.snippet.contains("charged twice"), "{}", t.snippet);
}

#[tokio::test]
async fn rate_limited_then_ok_honours_retry_after() {
    let server = MockServer::start().await;
    folders(&server).await;
    let grant = unique_name("g");
    let p = format!("/v3/grants/{grant}/messages/m1");
    Mock::given(method("GET"))
        .and(path(p.clone()))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200).set_body_json(api_message(
            &grant,
            "m1",
            "hi",
            json!([]),
        )))
        .mount(&server)
        .await;
    let w = worker(Some(&server), WorkerSettings::default()).await;
    let started = Instant::now();
    let (_, r) = w
        .process(
            &envelope(&grant, "m1", "th", "hi", "<p>x</p>"),
            now_ms(),
            deadline(),
        )
        .await;
    assert!(matches!(r.unwrap(), Outcome::Created { .. }));
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

/// A 404 on fetch is `gone` only when nothing else holds the message.
#[tokio::test]
async fn a_reference_only_message_gone_at_fetch_is_recorded_not_retried() {
    let server = MockServer::start().await;
    let grant = unique_name("g");
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/messages/m1")))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": {"type": "not_found_error"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let w = worker(Some(&server), WorkerSettings::default()).await;
    let body = envelope_typed("message.created", &grant, "m1", "th", "hi", "", true);
    let (_, r) = w.process(&body, now_ms(), deadline()).await;
    assert_eq!(r.unwrap(), Outcome::Gone);
    let (_, again) = w.process(&body, now_ms(), deadline()).await;
    assert_eq!(
        again.unwrap(),
        Outcome::Duplicate {
            previous: "gone".into()
        }
    );
    assert!(all_tickets(&w, &grant).await.is_empty());
}

/// Loss path: with FETCH_POLICY=always a 404 on fetch used to record `gone`
/// even though the notification carried the whole message (providers re-key
/// messages; a 404 right after a notification is normal). The carried copy
/// must make the ticket, and say so.
#[tokio::test]
async fn a_404_on_fetch_makes_the_ticket_from_the_carried_copy() {
    let server = MockServer::start().await;
    let grant = unique_name("g");
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/messages/m1")))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": {"type": "not_found_error"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/folders")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"request_id": "f", "data": [{"id": "INBOX", "attributes": ["\\Inbox"]}]}),
        ))
        .mount(&server)
        .await;
    let w = worker(Some(&server), WorkerSettings::default()).await;
    let body = envelope(
        &grant,
        "m1",
        "th",
        "Refund please",
        "<p>I was charged twice.</p>",
    );
    let (_, r) = w.process(&body, now_ms(), deadline()).await;
    let Outcome::Created { ticket_id, .. } = r.unwrap() else {
        panic!("the carried copy must make a ticket");
    };
    let tickets = all_tickets(&w, &grant).await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].id, ticket_id);
    assert!(
        tickets[0]
            .applied_rules
            .iter()
            .any(|r| r.rule == triage_worker::handler::CARRIED_COPY_RULE),
        "{:?}",
        tickets[0].applied_rules
    );
}

#[tokio::test]
async fn repeated_500_is_a_failure_and_releases_the_claim() {
    let server = MockServer::start().await;
    let grant = unique_name("g");
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/messages/m1")))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let w = worker(Some(&server), WorkerSettings::default()).await;
    let body = envelope(&grant, "m1", "th", "hi", "<p>x</p>");
    let (_, r) = w.process(&body, now_ms(), deadline()).await;
    assert!(matches!(r, Err(Failure::Transient(_))), "{r:?}");
    // Released: the next delivery is not blocked by a live lease.
    let (_, r2) = w.process(&body, now_ms(), deadline()).await;
    assert!(matches!(r2, Err(Failure::Transient(_))), "{r2:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 6);
}

#[tokio::test]
async fn api_retries_stop_before_the_claim_lease_ends() {
    // 429 asking for 2 s between attempts; the claim's lease is 3 s. Work
    // must stop inside the lease (after it another worker may own the
    // record), even though the batch deadline is far away.
    let server = MockServer::start().await;
    let grant = unique_name("g");
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/messages/m1")))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2"))
        .mount(&server)
        .await;
    let settings = WorkerSettings {
        lease: Duration::from_secs(3),
        ..WorkerSettings::default()
    };
    let w = worker(Some(&server), settings).await;
    let body = envelope(&grant, "m1", "th", "hi", "<p>x</p>");
    let started = Instant::now();
    let (_, r) = w.process(&body, now_ms(), deadline()).await;
    let took = started.elapsed();
    // The provider's wait is carried to the queue (redelivery), not lost.
    let throttled = |r: &Result<Outcome, Failure>| {
        matches!(
            r,
            Err(Failure::Throttled {
                retry_after_ms: 2_000,
                ..
            })
        )
    };
    assert!(throttled(&r), "{r:?}");
    assert!(
        took < Duration::from_secs(3),
        "worked past the lease: {took:?}"
    );
    // Released: the next delivery can claim at once.
    let (_, r2) = w.process(&body, now_ms(), deadline()).await;
    assert!(throttled(&r2), "{r2:?}");
}

#[tokio::test]
async fn auto_reply_headers_from_the_api_skip() {
    let server = MockServer::start().await;
    folders(&server).await;
    let grant = unique_name("g");
    Mock::given(method("GET"))
        .and(path(format!("/v3/grants/{grant}/messages/m1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(api_message(
            &grant,
            "m1",
            "Re: your ticket",
            json!([{"name": "Auto-Submitted", "value": "auto-replied"}]),
        )))
        .mount(&server)
        .await;
    let w = worker(Some(&server), WorkerSettings::default()).await;
    let (_, r) = w
        .process(
            &envelope(&grant, "m1", "th", "Re: your ticket", "<p>x</p>"),
            now_ms(),
            deadline(),
        )
        .await;
    assert!(matches!(
        r.unwrap(),
        Outcome::Skipped {
            reason: SkipReason::AutoReply(_)
        }
    ));
    assert!(all_tickets(&w, &grant).await.is_empty());
}

#[tokio::test]
async fn threading_appends_to_the_ticket() {
    let w = worker(None, when_needed()).await;
    let grant = unique_name("g");
    let (_, a) = w
        .process(
            &envelope(&grant, "m1", "thread-1", "login broken", "<p>broken</p>"),
            now_ms(),
            deadline(),
        )
        .await;
    let Outcome::Created { ticket_id, .. } = a.unwrap() else {
        panic!("first must create")
    };
    let (_, b) = w
        .process(
            &envelope(&grant, "m2", "thread-1", "Re: login broken", "<p>still</p>"),
            now_ms(),
            deadline(),
        )
        .await;
    assert_eq!(
        b.unwrap(),
        Outcome::Appended {
            ticket_id: ticket_id.clone(),
            signal: triage_core::threading::Signal::ThreadId
        }
    );
    let tickets = all_tickets(&w, &grant).await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0].message_count, 2);
    assert_eq!(tickets[0].message_ids, ["m1", "m2"]);
}

#[tokio::test]
async fn own_outbound_is_skipped() {
    let w = worker(None, when_needed()).await;
    let text = std::fs::read_to_string(repo_root().join("events/sqs-batch-mixed.json")).unwrap();
    let event: SqsEvent = serde_json::from_str(&text).unwrap();
    let sent = event.records[1].body.clone().unwrap();
    let (_, r) = w.process(&sent, now_ms(), deadline()).await;
    assert!(matches!(r.unwrap(), Outcome::Skipped { .. }));
}

/// An inbound-email payload from `fixtures/inbound/` as ingest queues it,
/// under the delivery id `delivery` (a `webhook-id`).
fn inbound_envelope(file: &str, delivery: &str) -> String {
    use triage_core::ingest::IngestPolicy;
    use triage_core::provider::{Authenticated, Provider, inbound::InboundJson};
    let body = std::fs::read(repo_root().join("fixtures/inbound").join(file)).unwrap();
    let auth = Authenticated {
        scheme: "standard_webhooks",
        delivery_id: Some(delivery.to_string()),
    };
    let p = InboundJson
        .parse(&IngestPolicy::default(), &body, &auth, now_ms())
        .unwrap();
    p.messages[0].body.clone()
}

/// A Nylas API that must never be called.
async fn untouchable_api() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path_regex(".*"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn inbound_payloads_make_tickets_without_fetching_dedupe_and_thread() {
    let api = untouchable_api().await;
    // Fetching on and policy "always": the inbound payload is still the message.
    let w = worker(Some(&api), WorkerSettings::default()).await;
    let mailbox = &triage_core::inbound_email::mailbox_key("support@acme.example");
    let run = |body: String| {
        let w = &w;
        async move { w.process(&body, now_ms(), deadline()).await.1 }
    };

    let created = run(inbound_envelope("new-ticket.json", "msg_a"))
        .await
        .unwrap();
    let Outcome::Created {
        ticket_id,
        classification,
        ..
    } = created
    else {
        panic!("{created:?}");
    };
    assert_eq!(classification.category, "incidents", "{classification:?}");
    // A redelivery under a new webhook-id is the same message.
    let again = run(inbound_envelope("new-ticket.json", "msg_b"))
        .await
        .unwrap();
    assert!(matches!(again, Outcome::Duplicate { .. }), "{again:?}");
    // The reply threads onto the ticket by References.
    let reply = run(inbound_envelope("reply.json", "msg_c")).await.unwrap();
    assert_eq!(
        reply,
        Outcome::Appended {
            ticket_id: ticket_id.clone(),
            signal: triage_core::threading::Signal::MessageId
        }
    );
    // The out-of-office is skipped on its headers.
    let auto = run(inbound_envelope("auto-reply.json", "msg_d"))
        .await
        .unwrap();
    assert!(
        matches!(
            auto,
            Outcome::Skipped {
                reason: SkipReason::AutoReply(_)
            }
        ),
        "{auto:?}"
    );
    // No Message-ID: the content digest dedupes.
    let bare = run(inbound_envelope("no-message-id.json", "msg_e"))
        .await
        .unwrap();
    assert!(matches!(bare, Outcome::Created { .. }), "{bare:?}");
    let bare_again = run(inbound_envelope("no-message-id.json", "msg_f"))
        .await
        .unwrap();
    assert!(
        matches!(bare_again, Outcome::Duplicate { .. }),
        "{bare_again:?}"
    );

    let tickets = all_tickets(&w, mailbox).await;
    let t = tickets.iter().find(|t| t.id == ticket_id).unwrap();
    assert_eq!(t.message_count, 2);
    assert_eq!(t.message_ids.len(), 2);
    api.verify().await;
}

#[tokio::test]
async fn sample_inbound_sqs_event_makes_a_ticket() {
    let w = worker(None, when_needed()).await;
    let text = std::fs::read_to_string(repo_root().join("events/sqs-inbound.json")).unwrap();
    let event: SqsEvent = serde_json::from_str(&text).unwrap();
    let resp = w.process_batch(event.records, now_ms(), deadline()).await;
    assert!(resp.batch_item_failures.is_empty());
    let mailbox = triage_core::inbound_email::mailbox_key("support@acme.example");
    let tickets = all_tickets(&w, &mailbox).await;
    assert_eq!(tickets.len(), 1);
    assert_eq!(
        Some(tickets[0].message_id.clone()),
        triage_core::inbound_email::message_key("20251201.ann.1@mail.example.com")
    );
}

#[tokio::test]
async fn an_envelope_of_an_unknown_provider_is_permanent() {
    let w = worker(None, when_needed()).await;
    let body = inbound_envelope("new-ticket.json", "msg_x")
        .replace(r#""provider":"inbound""#, r#""provider":"imap""#);
    let (_, result) = w.process(&body, now_ms(), deadline()).await;
    match result {
        Err(Failure::Permanent(reason)) => assert!(reason.contains("provider"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_inbound_ticket_is_acknowledged_once_through_ses() {
    use triage_core::acknowledgement::AckOutcome;
    let sdk = moto_config().await;
    let from = format!("{}@acme.example", unique_name("support"));
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();
    let rules = Rules::from_toml(
        "[acknowledgements]\nenabled = true\n[acknowledgements.response_times]\nhigh = \"2 hours\"\n",
    )
    .unwrap();
    let settings = WorkerSettings {
        support_addresses: vec!["support@acme.example".into()],
        ..Default::default()
    };
    // Classified by the default rules (an incident: high priority); the
    // acknowledgement policy comes from its own rules file.
    let w = worker(None, settings).await;
    let config = triage_worker::config::ProcessingConfig {
        nylas_api_uri: String::new(),
        nylas_api_key: None,
        rules_file: None,
        rules_toml: None,
        ack_from_address: Some(from.clone()),
        ack_configuration_set: None,
        settings: w.settings.clone(),
    };
    let ledger = triage_dynamodb::DynamoAckLedger::new(&sdk, w.idempotency.table());
    let acks = triage_worker::compose::acknowledgements(
        &rules,
        &config,
        &triage_secrets::SecretResolver::new(),
        ledger,
        Some(&sdk),
    )
    .await
    .unwrap();
    let w = w.with_acknowledgements(acks);

    let created = w
        .process(
            &inbound_envelope("new-ticket.json", "msg_ack"),
            now_ms(),
            deadline(),
        )
        .await
        .1
        .unwrap();
    let Outcome::Created {
        ticket_id,
        acknowledgement,
        ..
    } = created
    else {
        panic!("{created:?}");
    };
    assert_eq!(acknowledgement, AckOutcome::Sent);
    // The reply joins the ticket: no acknowledgement for it.
    let reply = w
        .process(
            &inbound_envelope("reply.json", "msg_ack2"),
            now_ms(),
            deadline(),
        )
        .await
        .1
        .unwrap();
    assert!(matches!(reply, Outcome::Appended { .. }), "{reply:?}");

    let messages = triage_testkit::moto_ses_messages().await;
    let sent: Vec<&serde_json::Value> = messages
        .iter()
        .filter(|m| m["source"] == from.as_str())
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0]["subject"].as_str().unwrap().contains(&ticket_id));
    assert!(sent[0]["body"].as_str().unwrap().contains("2 hours"));
}
