//! The worker's record path on in-memory adapters (`triage-memory`): no
//! moto, no file. What each failure becomes (the core's redelivery rule,
//! carried out through the `Redelivery` port), deduplication, and the
//! throttled, gone and in-progress paths.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsMessage, SqsMessageAttribute};
use serde_json::json;
use triage_core::classify::Rules;
use triage_core::ports::{ClaimTimes, DedupeKey, FetchError, IdempotencyStore};
use triage_core::redelivery::{MAX_RECEIVES, RETRY_DELAY_MS, attributes};
use triage_memory::{MemoryRedelivery, MemorySource, MemoryStore};
use triage_worker::{Outcome, Worker, WorkerSettings};

const NOW: i64 = 1_764_547_200_000;
const GRANT: &str = "grant-mem";

type MemWorker = Worker<MemoryStore, MemoryStore, MemorySource>;

fn worker(source: &MemorySource) -> (MemWorker, MemoryStore) {
    let store = MemoryStore::new();
    let w = Worker {
        idempotency: store.clone(),
        tickets: store.clone(),
        source: Some(source.clone()),
        rules: Rules::default_rules(),
        settings: WorkerSettings {
            support_addresses: vec!["support@example.com".into()],
            ..WorkerSettings::default()
        },
        acks: triage_core::acknowledgement::NoAcknowledgements,
        raw_mail: triage_core::ports::NoRawMail,
    };
    (w, store)
}

fn message(id: &str) -> triage_core::Message {
    serde_json::from_value(json!({
        "id": id, "grant_id": GRANT, "object": "message", "thread_id": format!("t-{id}"),
        "subject": "The export broke", "from": [{"name": "C", "email": "customer@client.example"}],
        "to": [{"name": "", "email": "support@example.com"}], "date": 1764547100,
        "folders": ["INBOX"], "body": "<p>The export broke again.</p>", "headers": []
    }))
    .unwrap()
}

/// A reference envelope: the worker fetches the message.
fn reference(id: &str) -> String {
    json!({
        "envelope_version": 1, "provider": "nylas", "received_at_ms": NOW - 500,
        "notification_id": format!("n-{id}"), "type": "message.created",
        "base_type": "message.created", "suffixes": [],
        "source": "/google/emails/realtime", "grant_id": GRANT, "message_id": id,
        "shape": "v3", "refetch": true,
    })
    .to_string()
}

fn record(id: &str, body: &str, receives: u32, attrs: &[(&str, &str)]) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.into());
    m.body = Some(body.into());
    m.attributes = HashMap::from([("ApproximateReceiveCount".into(), receives.to_string())]);
    m.message_attributes = attrs
        .iter()
        .map(|(k, v)| {
            let mut a = SqsMessageAttribute::default();
            a.string_value = Some((*v).into());
            (k.to_string(), a)
        })
        .collect();
    m
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[tokio::test]
async fn a_message_fetched_twice_makes_one_ticket() {
    let source = MemorySource::new();
    source.put(message("m1"));
    let (w, store) = worker(&source);
    let (_, first) = w.process(&reference("m1"), NOW, deadline()).await;
    assert!(matches!(first, Ok(Outcome::Created { .. })), "{first:?}");
    let (_, again) = w.process(&reference("m1"), NOW + 1, deadline()).await;
    assert!(matches!(again, Ok(Outcome::Duplicate { .. })), "{again:?}");
    assert_eq!(store.tickets().len(), 1);
    assert_eq!(source.fetches(), 1, "the duplicate never reaches the API");
}

#[tokio::test]
async fn each_failure_is_carried_out_by_the_redelivery_rule() {
    let source = MemorySource::new();
    source.fail(
        GRANT,
        "throttled",
        FetchError::Throttled {
            retry_after_ms: 1_200_000,
            detail: "HTTP 429".into(),
        },
    );
    source.fail(GRANT, "flaky", FetchError::Transient("HTTP 503".into()));
    source.fail(GRANT, "denied", FetchError::Permanent("HTTP 403".into()));
    source.put(message("busy"));
    source.put(message("fine"));
    let (w, store) = worker(&source);
    store
        .claim(
            &DedupeKey {
                grant_id: GRANT.into(),
                message_id: "busy".into(),
            },
            ClaimTimes {
                now_ms: NOW,
                lease_until_ms: NOW + 120_000,
                expires_at_s: NOW / 1000 + 3_600,
            },
        )
        .await
        .unwrap();
    let redelivery = MemoryRedelivery::new();
    let records = vec![
        record("r-throttled", &reference("throttled"), MAX_RECEIVES, &[]),
        record("r-flaky", &reference("flaky"), 1, &[]),
        record("r-flaky-last", &reference("flaky"), MAX_RECEIVES, &[]),
        record(
            "r-denied",
            &reference("denied"),
            1,
            &[("notification_id", "n-denied")],
        ),
        record("r-busy", &reference("busy"), MAX_RECEIVES, &[]),
        record("r-fine", &reference("fine"), 1, &[]),
        record("r-junk", "{\"not\": \"an envelope\"}", 1, &[]),
    ];
    let resp = w
        .process_batch_with(records, NOW, deadline(), &redelivery)
        .await;
    let failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["r-flaky"],
        "only a transient failure is left to the queue"
    );

    let dead = redelivery.dead_letters();
    let mut kinds: Vec<&str> = dead.iter().map(|(_, d)| d.failure).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["permanent", "permanent", "transient"]);
    assert!(dead.iter().all(|(_, d)| !d.reason.is_empty()));

    let back = redelivery.put_back_records();
    let throttled = back
        .iter()
        .find(|p| p.body.contains("\"throttled\""))
        .unwrap();
    assert_eq!(throttled.not_before_ms, NOW + 1_200_000);
    assert_eq!(throttled.deferrals, 1);
    let busy = back.iter().find(|p| p.body.contains("\"busy\"")).unwrap();
    assert_eq!(
        busy.not_before_ms,
        NOW + RETRY_DELAY_MS,
        "looked at again soon"
    );
    assert_eq!(busy.deferrals, 0, "a live claim is not a provider wait");
    assert_eq!(store.tickets().len(), 1, "the fine one");
}

#[tokio::test]
async fn a_copy_still_waiting_is_put_back_without_asking_the_provider() {
    let source = MemorySource::new();
    source.put(message("m1"));
    let (w, _) = worker(&source);
    let redelivery = MemoryRedelivery::new();
    let later = (NOW + 600_000).to_string();
    let resp = w
        .process_batch_with(
            vec![record(
                "r",
                &reference("m1"),
                1,
                &[
                    (attributes::NOT_BEFORE, &later),
                    (attributes::DEFERRALS, "3"),
                ],
            )],
            NOW,
            deadline(),
            &redelivery,
        )
        .await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(source.fetches(), 0);
    let back = redelivery.put_back_records();
    assert_eq!(
        (back[0].not_before_ms, back[0].deferrals),
        (NOW + 600_000, 3)
    );
}

#[tokio::test]
async fn when_redelivery_is_unreachable_nothing_is_dropped() {
    let source = MemorySource::new();
    source.fail(GRANT, "denied", FetchError::Permanent("HTTP 403".into()));
    let (w, _) = worker(&source);
    let redelivery = MemoryRedelivery::new();
    redelivery.set_down(true);
    let resp = w
        .process_batch_with(
            vec![record("r", &reference("denied"), 1, &[])],
            NOW,
            deadline(),
            &redelivery,
        )
        .await;
    assert_eq!(resp.batch_item_failures.len(), 1);
}

#[tokio::test]
async fn a_message_gone_at_the_provider_is_recorded_not_retried() {
    let source = MemorySource::new();
    let (w, store) = worker(&source);
    let (_, r) = w.process(&reference("vanished"), NOW, deadline()).await;
    assert_eq!(r.unwrap(), Outcome::Gone);
    assert!(store.tickets().is_empty());
    let key = DedupeKey {
        grant_id: GRANT.into(),
        message_id: "vanished".into(),
    };
    assert_eq!(store.outcome(&key).as_deref(), Some("gone"));
}

/// A reply without headers that carries the acknowledgement's tag joins
/// the ticket; the same subject from a stranger (asking for replies to go
/// to the customer: `Reply-To` does not count) opens a ticket that says
/// why; the outcome names the signal.
#[tokio::test]
async fn references_and_subjects_thread_only_for_participants() {
    use triage_core::threading::Signal;
    use triage_core::threading::reference::tag;
    let source = MemorySource::new();
    let (w, store) = worker(&source);
    source.put(message("m1"));
    let (_, first) = w.process(&reference("m1"), NOW, deadline()).await;
    let Ok(Outcome::Created { ticket_id, .. }) = first else {
        panic!("{first:?}");
    };

    let mut reply = message("m2");
    reply.subject = Some(format!("AW: Something else {}", tag(&ticket_id)));
    source.put(reply);
    let (_, r) = w.process(&reference("m2"), NOW + 1, deadline()).await;
    assert_eq!(
        r.ok(),
        Some(Outcome::Appended {
            ticket_id: ticket_id.clone(),
            signal: Signal::TicketRef
        })
    );

    let mut again = message("m3");
    again.subject = Some("RE: the export  broke".into());
    source.put(again);
    let (_, r) = w.process(&reference("m3"), NOW + 2, deadline()).await;
    assert_eq!(
        r.ok(),
        Some(Outcome::Appended {
            ticket_id: ticket_id.clone(),
            signal: Signal::Subject
        })
    );

    let mut eve: triage_core::Message = message("m4");
    eve.reply_to = eve.from.clone();
    eve.from[0].email = "eve@evil.example".into();
    source.put(eve);
    let (_, r) = w.process(&reference("m4"), NOW + 3, deadline()).await;
    let Ok(Outcome::Created { ticket_id: own, .. }) = r else {
        panic!("{r:?}");
    };
    assert_ne!(own, ticket_id);
    let tickets = store.tickets();
    let first = tickets.iter().find(|t| t.id == ticket_id).unwrap();
    assert_eq!(first.message_count, 3);
    let stranger = tickets.iter().find(|t| t.id == own).unwrap();
    assert!(
        stranger.applied_rules.iter().any(|r| r.rule == "thread"
            && r.decision == "new: sender is not a participant of the subject match"),
        "{:?}",
        stranger.applied_rules
    );
}
