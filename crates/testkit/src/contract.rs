//! Contract tests every [`IdempotencyStore`] and [`TicketStore`] must pass
//! (DynamoDB, SQLite, ...). Each function is one named behaviour and panics
//! (fails the test) with a message on violation; the `*_contract` functions
//! run a whole group.
//!
//! Every function uses its own fresh grant id ([`unique_name`]), so suites
//! may share one table or database, and never assumes it is empty: listings
//! are narrowed to the test's grant before asserting.
//!
//! Times are passed in ([`ClaimTimes`]), so lease and TTL expiry are
//! simulated with past or future instants, never by sleeping. Stores must
//! treat a record whose `expires_at` has passed as absent even while it is
//! still stored (DynamoDB deletes expired items lazily).
//!
//! The concurrent functions spawn tokio tasks: call them from
//! `#[tokio::test(flavor = "multi_thread", worker_threads = 8)]`. They take a
//! slice of stores and spread the tasks over it: one store (a process with
//! many tasks), or several independently opened stores on the same table or
//! file (several processes, e.g. Lambda instances).
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
//! async fn contract() {
//!     use triage_testkit::contract::*;
//!     let store = std::sync::Arc::new(MyStore::open_temp().await);
//!     idempotency_contract(&*store).await;
//!     let one = std::slice::from_ref(&store);
//!     idempotency_concurrency_contract(one).await;
//!     tickets_contract(&*store).await;
//!     tickets_concurrency_contract(one).await;
//!     pipeline_exactly_once(one, one, PipelineSpec::default()).await;
//! }
//! ```

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
pub use triage_clock::now_ms;

use triage_core::Participant;
use triage_core::listing::{Cursor, MAX_PAGE_BYTES, STORE_CHUNK, list_page, newest_first};
use triage_core::ports::{
    ClaimOutcome, ClaimTimes, DedupeKey, IdempotencyStore, TicketFilter, TicketStore,
};
use triage_core::threading::Signal;
use triage_core::ticket::{AppliedRule, AttachmentMeta, Ticket, TicketWrite, ticket_id};

use crate::unique_name;

// ---------------------------------------------------------------- helpers

/// Claim times at `now_ms` with a lease of `lease_ms` and a TTL of `ttl_s`
/// seconds from now (either may be negative: already expired).
pub fn times(now_ms: i64, lease_ms: i64, ttl_s: i64) -> ClaimTimes {
    ClaimTimes {
        now_ms,
        lease_until_ms: now_ms + lease_ms,
        expires_at_s: now_ms / 1000 + ttl_s,
    }
}

/// One day, in seconds: the TTL used when a test does not care.
pub const DAY_S: i64 = 24 * 3600;

/// A fresh dedupe key in a grant no other test uses.
pub fn fresh_key(label: &str) -> DedupeKey {
    DedupeKey {
        grant_id: unique_name("grant"),
        message_id: format!("msg-{label}"),
    }
}

/// A realistic ticket for the first message `message_id` of a ticket:
/// id from [`ticket_id`], count 1, `received_at = created_at =
/// last_message_at = at`, nested participants, attachments and rules.
pub fn sample_ticket(grant_id: &str, message_id: &str, thread_id: Option<&str>, at: i64) -> Ticket {
    Ticket {
        id: ticket_id(grant_id, message_id),
        grant_id: grant_id.to_string(),
        message_id: message_id.to_string(),
        thread_id: thread_id.map(str::to_string),
        subject: format!("Réservation n°{message_id} ✓"),
        requester: Participant {
            name: "Ann Requester".into(),
            email: "ann@example.com".into(),
        },
        sender: Some("ann@example.com".into()),
        to: vec![Participant {
            name: String::new(),
            email: "support@example.org".into(),
        }],
        cc: vec![],
        category: "general".into(),
        queue: "support".into(),
        priority: "normal".into(),
        status: "open".into(),
        received_at: at,
        created_at: at,
        last_message_at: at,
        message_count: 1,
        message_ids: vec![message_id.to_string()],
        snippet: "Hello, my order did not arrive".into(),
        attachments: vec![AttachmentMeta {
            filename: "invoice.pdf".into(),
            content_type: "application/pdf".into(),
            size: 12_345,
            inline: false,
            sha256: Some("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03".into()),
        }],
        applied_rules: vec![AppliedRule {
            rule: "default".into(),
            decision: "queue=support".into(),
        }],
        thread_keys: vec![],
        recipients_omitted: 0,
        attachments_omitted: 0,
        language: Some("en".into()),
    }
}

/// All tickets of one grant, in the store's order (newest first).
pub async fn tickets_of<S: TicketStore>(store: &S, grant_id: &str) -> Vec<Ticket> {
    store
        .list(&TicketFilter::default())
        .await
        .unwrap_or_else(|e| panic!("list failed: {e}"))
        .into_iter()
        .filter(|t| t.grant_id == grant_id)
        .collect()
}

/// The single ticket of a grant (panics unless there is exactly one).
pub async fn only_ticket<S: TicketStore>(store: &S, grant_id: &str) -> Ticket {
    let mut all = tickets_of(store, grant_id).await;
    assert_eq!(
        all.len(),
        1,
        "expected exactly one ticket for grant {grant_id}, got {:#?}",
        all.iter()
            .map(|t| (&t.id, t.message_count, &t.message_ids))
            .collect::<Vec<_>>()
    );
    all.remove(0)
}

pub(crate) async fn write_ok<S: TicketStore>(store: &S, t: &Ticket) -> TicketWrite {
    store
        .write(t)
        .await
        .unwrap_or_else(|e| panic!("write of message {} failed: {e}", t.message_id))
}

async fn claim_ok<S: IdempotencyStore>(store: &S, key: &DedupeKey, t: ClaimTimes) -> ClaimOutcome {
    store
        .claim(key, t)
        .await
        .unwrap_or_else(|e| panic!("claim of {} failed: {e}", key.as_key()))
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

// ---------------------------------------------------------------- idempotency

/// A key never seen is claimed.
pub async fn claim_new_is_claimed<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("new");
    let t = times(now_ms(), 60_000, DAY_S);
    assert_eq!(claim_ok(store, &key, t).await, ClaimOutcome::Claimed);
}

/// A second claim while the first lease is live is `InProgress` with the
/// holder's lease end, and does not steal the record.
pub async fn claim_with_live_lease_is_in_progress<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("live-lease");
    let now = now_ms();
    let first = times(now, 60_000, DAY_S);
    assert_eq!(claim_ok(store, &key, first).await, ClaimOutcome::Claimed);
    let second = times(now + 10, 90_000, DAY_S);
    assert_eq!(
        claim_ok(store, &key, second).await,
        ClaimOutcome::InProgress {
            lease_until_ms: first.lease_until_ms
        }
    );
    // Still the first holder's lease, not the second caller's.
    assert_eq!(
        claim_ok(store, &key, times(now + 20, 5, DAY_S)).await,
        ClaimOutcome::InProgress {
            lease_until_ms: first.lease_until_ms
        }
    );
}

/// Once a lease has ended, another worker takes the record over, and then
/// holds its own lease.
pub async fn claim_after_lease_expiry_is_claimed<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("lease-expiry");
    let now = now_ms();
    assert_eq!(
        claim_ok(store, &key, times(now, 1_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
    let later = times(now + 2_000, 30_000, DAY_S);
    assert_eq!(claim_ok(store, &key, later).await, ClaimOutcome::Claimed);
    assert_eq!(
        claim_ok(store, &key, times(now + 3_000, 30_000, DAY_S)).await,
        ClaimOutcome::InProgress {
            lease_until_ms: later.lease_until_ms
        }
    );
}

/// A completed record answers `Completed` with its outcome, even long after
/// the lease, until its TTL.
pub async fn completed_claim_returns_outcome<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("completed");
    let now = now_ms();
    assert_eq!(
        claim_ok(store, &key, times(now, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
    store
        .complete(
            &key,
            "created:t_0123456789abcdef01234567",
            now / 1000 + DAY_S,
        )
        .await
        .unwrap_or_else(|e| panic!("complete failed: {e}"));
    let expected = ClaimOutcome::Completed {
        outcome: "created:t_0123456789abcdef01234567".into(),
    };
    assert_eq!(
        claim_ok(store, &key, times(now + 1, 60_000, DAY_S)).await,
        expected
    );
    // Lease long over, TTL not yet: still completed.
    assert_eq!(
        claim_ok(store, &key, times(now + 3_600_000, 60_000, DAY_S)).await,
        expected
    );
}

/// A record whose TTL has passed is treated as absent although still stored
/// (TTL deletion is lazy), whether it is COMPLETED or IN_PROGRESS.
pub async fn claim_after_ttl_passed_is_claimed<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("ttl-completed");
    let now = now_ms();
    assert_eq!(
        claim_ok(store, &key, times(now, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
    store
        .complete(&key, "created:old", now / 1000 - 10)
        .await
        .unwrap_or_else(|e| panic!("complete failed: {e}"));
    assert_eq!(
        claim_ok(store, &key, times(now + 1, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed,
        "a COMPLETED record past its TTL must count as absent"
    );

    let key = fresh_key("ttl-in-progress");
    // Lease still live, TTL already passed.
    assert_eq!(
        claim_ok(store, &key, times(now, 600_000, -10)).await,
        ClaimOutcome::Claimed
    );
    assert_eq!(
        claim_ok(store, &key, times(now + 1, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed,
        "an IN_PROGRESS record past its TTL must count as absent"
    );
}

/// After `release`, the next claim runs at once.
pub async fn release_then_claim_is_claimed<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("release");
    let now = now_ms();
    assert_eq!(
        claim_ok(store, &key, times(now, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
    store
        .release(&key)
        .await
        .unwrap_or_else(|e| panic!("release failed: {e}"));
    assert_eq!(
        claim_ok(store, &key, times(now + 1, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
}

/// Releasing a key that has no record is not an error.
pub async fn release_missing_is_ok<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("release-missing");
    store
        .release(&key)
        .await
        .unwrap_or_else(|e| panic!("release of a missing record failed: {e}"));
}

/// `release` never removes a COMPLETED record.
pub async fn release_keeps_completed<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("release-completed");
    let now = now_ms();
    assert_eq!(
        claim_ok(store, &key, times(now, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
    store
        .complete(&key, "appended:t_x", now / 1000 + DAY_S)
        .await
        .unwrap_or_else(|e| panic!("complete failed: {e}"));
    store
        .release(&key)
        .await
        .unwrap_or_else(|e| panic!("release of a completed record failed: {e}"));
    assert_eq!(
        claim_ok(store, &key, times(now + 1, 60_000, DAY_S)).await,
        ClaimOutcome::Completed {
            outcome: "appended:t_x".into()
        }
    );
}

/// Records of different messages (and grants) are independent.
pub async fn keys_are_independent<S: IdempotencyStore>(store: &S) {
    let a = fresh_key("a");
    let b = DedupeKey {
        grant_id: a.grant_id.clone(),
        message_id: "msg-b".into(),
    };
    let c = DedupeKey {
        grant_id: unique_name("grant"),
        message_id: a.message_id.clone(),
    };
    let t = times(now_ms(), 60_000, DAY_S);
    assert_eq!(claim_ok(store, &a, t).await, ClaimOutcome::Claimed);
    assert_eq!(claim_ok(store, &b, t).await, ClaimOutcome::Claimed);
    assert_eq!(claim_ok(store, &c, t).await, ClaimOutcome::Claimed);
}

/// Every sequential idempotency behaviour.
pub async fn idempotency_contract<S: IdempotencyStore>(store: &S) {
    claim_new_is_claimed(store).await;
    claim_with_live_lease_is_in_progress(store).await;
    claim_after_lease_expiry_is_claimed(store).await;
    completed_claim_returns_outcome(store).await;
    claim_after_ttl_passed_is_claimed(store).await;
    release_then_claim_is_claimed(store).await;
    release_missing_is_ok(store).await;
    release_keeps_completed(store).await;
    keys_are_independent(store).await;
}

/// `n` workers claim the same new key at once: exactly one `Claimed`, the
/// others `InProgress`.
pub async fn concurrent_claims_have_one_winner<S: IdempotencyStore + 'static>(
    stores: &[Arc<S>],
    n: usize,
) {
    assert!(!stores.is_empty(), "at least one store");
    let key = fresh_key("race");
    let now = now_ms();
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let store = stores[i % stores.len()].clone();
        let (key, barrier) = (key.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let t = times(now + i as i64, 60_000, DAY_S);
            claim_ok(&*store, &key, t).await
        }));
    }
    let mut claimed = 0;
    for task in tasks {
        match task.await.unwrap_or_else(|e| panic!("task failed: {e}")) {
            ClaimOutcome::Claimed => claimed += 1,
            ClaimOutcome::InProgress { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(claimed, 1, "exactly one of {n} concurrent claims must win");
}

/// Every concurrent idempotency behaviour (8 workers, spread over `stores`).
pub async fn idempotency_concurrency_contract<S: IdempotencyStore + 'static>(stores: &[Arc<S>]) {
    concurrent_claims_have_one_winner(stores, 8).await;
}

// ---------------------------------------------------------------- tickets

/// A first message creates its ticket; the stored ticket reads back equal
/// (every field, nested ones included).
pub async fn ticket_create_is_created<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let mut t = sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    t.cc = vec![Participant {
        name: "Bob".into(),
        email: "bob@example.com".into(),
    }];
    t.thread_keys = vec!["m1@mail.example.com".into()];
    assert_eq!(
        write_ok(store, &t).await,
        TicketWrite::Created {
            ticket_id: t.id.clone()
        }
    );
    assert_eq!(only_ticket(store, &grant).await, t);

    // No thread id, no thread keys: a ticket of its own.
    let lone = sample_ticket(&grant, "m-lone", None, 1_700_000_001);
    assert_eq!(
        write_ok(store, &lone).await,
        TicketWrite::Created {
            ticket_id: lone.id.clone()
        }
    );
    let all = tickets_of(store, &grant).await;
    assert_eq!(all.len(), 2);
    assert!(
        all.contains(&lone),
        "ticket without thread id reads back equal"
    );
}

/// Writing the same first message again is `AlreadyRecorded` and changes
/// nothing.
pub async fn ticket_rewrite_is_already_recorded<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let mut t = sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    t.thread_keys = vec!["m1@mail.example.com".into()];
    write_ok(store, &t).await;
    for _ in 0..2 {
        assert_eq!(
            write_ok(store, &t).await,
            TicketWrite::AlreadyRecorded {
                ticket_id: t.id.clone()
            }
        );
    }
    let stored = only_ticket(store, &grant).await;
    assert_eq!(stored.message_count, 1);
    assert_eq!(stored.message_ids, vec!["m1".to_string()]);

    // Same for a ticket with no thread at all.
    let lone = sample_ticket(&grant, "m-lone", None, 1_700_000_001);
    write_ok(store, &lone).await;
    assert_eq!(
        write_ok(store, &lone).await,
        TicketWrite::AlreadyRecorded {
            ticket_id: lone.id.clone()
        }
    );
    assert_eq!(tickets_of(store, &grant).await.len(), 2);
}

/// A second message of the same thread joins the ticket: count 2, both ids,
/// `last_message_at` moves forward; its redelivery changes nothing.
pub async fn second_message_same_thread_appends<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    write_ok(store, &first).await;
    let second = sample_ticket(&grant, "m2", Some("th1"), 1_700_000_500);
    assert_eq!(
        write_ok(store, &second).await,
        TicketWrite::Appended {
            ticket_id: first.id.clone(),
            signal: Signal::ThreadId
        }
    );
    assert_eq!(
        write_ok(store, &second).await,
        TicketWrite::AlreadyRecorded {
            ticket_id: first.id.clone()
        },
        "a redelivered appended message is already recorded"
    );
    // The first message again: still recorded, not appended.
    assert_eq!(
        write_ok(store, &first).await,
        TicketWrite::AlreadyRecorded {
            ticket_id: first.id.clone()
        }
    );
    let stored = only_ticket(store, &grant).await;
    assert_eq!(stored.id, first.id);
    assert_eq!(stored.message_count, 2);
    assert_eq!(sorted(&stored.message_ids), vec!["m1", "m2"]);
    assert_eq!(stored.last_message_at, 1_700_000_500);
    assert_eq!(stored.created_at, first.created_at);
    assert_eq!(
        stored.subject, first.subject,
        "the opening message names the ticket"
    );
}

/// An older message arriving late does not move `last_message_at` back.
pub async fn late_message_keeps_last_message_at<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = sample_ticket(&grant, "m1", Some("th1"), 1_700_000_900);
    write_ok(store, &first).await;
    let late = sample_ticket(&grant, "m0", Some("th1"), 1_700_000_100);
    assert!(matches!(
        write_ok(store, &late).await,
        TicketWrite::Appended { .. }
    ));
    let stored = only_ticket(store, &grant).await;
    assert_eq!(stored.last_message_at, 1_700_000_900);
    assert_eq!(stored.message_count, 2);
}

/// A message in another provider thread whose `thread_keys` hold an earlier
/// ticket's Message-ID (a reply, `In-Reply-To`/`References`) joins that
/// ticket; a third message matching only the reply's keys joins it too.
pub async fn thread_keys_match_earlier_message_id<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let mut first = sample_ticket(&grant, "m1", Some("th-a"), 1_700_000_000);
    first.thread_keys = vec!["root@mail.example.com".into()];
    write_ok(store, &first).await;

    let mut reply = sample_ticket(&grant, "m2", Some("th-b"), 1_700_000_100);
    reply.thread_keys = vec![
        "reply@mail.example.net".into(),
        "root@mail.example.com".into(),
    ];
    assert_eq!(
        write_ok(store, &reply).await,
        TicketWrite::Appended {
            ticket_id: first.id.clone(),
            signal: Signal::MessageId
        }
    );

    // Knows only the reply's Message-ID, in yet another thread.
    let mut third = sample_ticket(&grant, "m3", None, 1_700_000_200);
    third.thread_keys = vec!["reply@mail.example.net".into()];
    assert_eq!(
        write_ok(store, &third).await,
        TicketWrite::Appended {
            ticket_id: first.id.clone(),
            signal: Signal::MessageId
        }
    );
    // And the reply's provider thread now leads to the ticket as well.
    let fourth = sample_ticket(&grant, "m4", Some("th-b"), 1_700_000_300);
    assert_eq!(
        write_ok(store, &fourth).await,
        TicketWrite::Appended {
            ticket_id: first.id.clone(),
            signal: Signal::ThreadId
        }
    );

    let stored = only_ticket(store, &grant).await;
    assert_eq!(stored.message_count, 4);
    assert_eq!(sorted(&stored.message_ids), vec!["m1", "m2", "m3", "m4"]);
}

/// A message already recorded stays recorded once even when a redelivery
/// now leads elsewhere (its thread id or keys point at another ticket):
/// `AlreadyRecorded` on the ticket that has it; no count changes.
pub async fn recorded_message_is_never_counted_twice<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let a = sample_ticket(&grant, "a1", Some("th-a"), 1_700_000_000);
    let b = sample_ticket(&grant, "b1", Some("th-b"), 1_700_000_000);
    write_ok(store, &a).await;
    write_ok(store, &b).await;
    let x = sample_ticket(&grant, "x", Some("th-a"), 1_700_000_100);
    assert_eq!(
        write_ok(store, &x).await,
        TicketWrite::Appended {
            ticket_id: a.id.clone(),
            signal: Signal::ThreadId
        }
    );
    // Redelivered with another thread id (e.g. the provider re-threaded it).
    let mut moved = x.clone();
    moved.thread_id = Some("th-b".into());
    assert_eq!(
        write_ok(store, &moved).await,
        TicketWrite::AlreadyRecorded {
            ticket_id: a.id.clone()
        }
    );
    let all = tickets_of(store, &grant).await;
    let count = |id: &str| all.iter().find(|t| t.id == id).map(|t| t.message_count);
    assert_eq!(count(&a.id), Some(2));
    assert_eq!(count(&b.id), Some(1));
}

/// Threads of different grants never mix, even with equal thread ids and keys.
pub async fn grants_do_not_share_threads<S: TicketStore>(store: &S) {
    let g1 = unique_name("grant");
    let g2 = unique_name("grant");
    let mut a = sample_ticket(&g1, "m1", Some("th1"), 1_700_000_000);
    a.thread_keys = vec!["same@example.com".into()];
    let mut b = sample_ticket(&g2, "m2", Some("th1"), 1_700_000_000);
    b.thread_keys = vec!["same@example.com".into()];
    assert!(matches!(
        write_ok(store, &a).await,
        TicketWrite::Created { .. }
    ));
    assert!(matches!(
        write_ok(store, &b).await,
        TicketWrite::Created { .. }
    ));
    assert_eq!(only_ticket(store, &g1).await.message_count, 1);
    assert_eq!(only_ticket(store, &g2).await.message_count, 1);
}

/// `list` filters on queue, priority and status (combined with AND) and
/// returns newest first (`created_at` descending).
pub async fn list_filters_and_orders<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let make = |mid: &str, queue: &str, priority: &str, status: &str, at: i64| {
        let mut t = sample_ticket(&grant, mid, Some(&format!("th-{mid}")), at);
        t.queue = queue.into();
        t.priority = priority.into();
        t.status = status.into();
        t
    };
    let a = make("a", "billing", "high", "open", 1_000);
    let b = make("b", "billing", "normal", "closed", 2_000);
    let c = make("c", "support", "high", "open", 3_000);
    let d = make("d", "support", "low", "open", 4_000);
    for t in [&b, &d, &a, &c] {
        write_ok(store, t).await;
    }

    let ids = |v: &[Ticket]| v.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
    let check = |filter: TicketFilter, expected: Vec<&Ticket>| {
        let grant = grant.clone();
        let expected: Vec<String> = expected.iter().map(|t| t.id.clone()).collect();
        async move {
            let all = store
                .list(&filter)
                .await
                .unwrap_or_else(|e| panic!("list {filter:?} failed: {e}"));
            for t in &all {
                assert!(
                    filter.queue.as_ref().is_none_or(|q| &t.queue == q)
                        && filter.priority.as_ref().is_none_or(|p| &t.priority == p)
                        && filter.status.as_ref().is_none_or(|s| &t.status == s),
                    "ticket {} does not match {filter:?}",
                    t.id
                );
            }
            assert!(
                all.windows(2).all(|w| w[0].created_at >= w[1].created_at),
                "list {filter:?} is not newest first"
            );
            let mine: Vec<Ticket> = all.into_iter().filter(|t| t.grant_id == grant).collect();
            assert_eq!(ids(&mine), expected, "list {filter:?}");
        }
    };

    check(TicketFilter::default(), vec![&d, &c, &b, &a]).await;
    check(
        TicketFilter {
            queue: Some("billing".into()),
            ..Default::default()
        },
        vec![&b, &a],
    )
    .await;
    check(
        TicketFilter {
            priority: Some("high".into()),
            ..Default::default()
        },
        vec![&c, &a],
    )
    .await;
    check(
        TicketFilter {
            status: Some("closed".into()),
            ..Default::default()
        },
        vec![&b],
    )
    .await;
    check(
        TicketFilter {
            queue: Some("support".into()),
            priority: Some("high".into()),
            status: Some("open".into()),
            limit: None,
            after: None,
        },
        vec![&c],
    )
    .await;
    // A limit keeps the newest.
    let everything = store
        .list(&TicketFilter::default())
        .await
        .unwrap_or_else(|e| panic!("list failed: {e}"));
    let two = store
        .list(&TicketFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("list failed: {e}"));
    assert_eq!(
        ids(&two),
        ids(&everything[..2]),
        "limit 2 lists the two newest"
    );
    let none = store
        .list(&TicketFilter {
            queue: Some(unique_name("no-such-queue")),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("list failed: {e}"));
    assert!(none.is_empty(), "unknown queue lists nothing");
}

/// Every sequential ticket behaviour.
pub async fn tickets_contract<S: TicketStore>(store: &S) {
    ticket_create_is_created(store).await;
    ticket_rewrite_is_already_recorded(store).await;
    second_message_same_thread_appends(store).await;
    late_message_keeps_last_message_at(store).await;
    thread_keys_match_earlier_message_id(store).await;
    recorded_message_is_never_counted_twice(store).await;
    grants_do_not_share_threads(store).await;
    list_filters_and_orders(store).await;
    list_pages_with_a_cursor(store).await;
    list_page_reads_in_chunks_and_stops_at_the_byte_cap(store).await;
}

/// `listing::list_page` over the store: pages larger than one store chunk,
/// cut by count or by bytes, walked with their cursors, list every ticket
/// once and in order.
pub async fn list_page_reads_in_chunks_and_stops_at_the_byte_cap<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let queue = unique_name("chunks");
    let n = STORE_CHUNK * 2 + 17;
    let mut written = Vec::new();
    for i in 0..n {
        let at = 1_000_000 + i64::try_from(i / 3).unwrap_or(0);
        let mut t = sample_ticket(&grant, &format!("c{i}"), Some(&format!("thc{i}")), at);
        t.queue = queue.clone();
        write_ok(store, &t).await;
        written.push(t);
    }
    written.sort_by(newest_first);
    let want: Vec<String> = written.iter().map(|t| t.id.clone()).collect();
    let filter = TicketFilter {
        queue: Some(queue.clone()),
        ..Default::default()
    };
    let one = serde_json::to_vec(&written[0]).map_or(0, |v| v.len() + 1);
    for (limit, max_bytes) in [
        (1000, MAX_PAGE_BYTES),
        (STORE_CHUNK + 20, MAX_PAGE_BYTES),
        (1000, one * 40),
    ] {
        let mut walked = Vec::new();
        let mut after = None;
        loop {
            let page = list_page(
                store,
                &TicketFilter {
                    after: after.take(),
                    ..filter.clone()
                },
                limit,
                max_bytes,
            )
            .await
            .unwrap_or_else(|e| panic!("list_page failed: {e}"));
            assert!(page.tickets.len() <= limit, "page over its limit");
            assert!(
                serde_json::to_vec(&page.tickets).map_or(0, |v| v.len()) <= max_bytes,
                "page over its byte cap"
            );
            walked.extend(page.tickets.iter().map(|t| t.id.clone()));
            match page.next_cursor {
                Some(c) => after = Some(Cursor::decode(&c).unwrap_or_else(|e| panic!("{e}"))),
                None => break,
            }
            assert!(walked.len() <= n, "paging repeats tickets");
        }
        assert_eq!(walked, want, "limit {limit}, max_bytes {max_bytes}");
    }
}

/// Walking the listing page by page with [`Cursor`]s lists every ticket
/// once, in newest-first order, ties on `created_at` included; the counts
/// of omitted recipients and attachments are kept.
pub async fn list_pages_with_a_cursor<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let queue = unique_name("pages");
    let mut written = Vec::new();
    for (i, at) in [5_000, 5_000, 4_000, 4_000, 4_000, 3_000, 2_000]
        .iter()
        .enumerate()
    {
        let mut t = sample_ticket(&grant, &format!("p{i}"), Some(&format!("thp{i}")), *at);
        t.queue = queue.clone();
        t.recipients_omitted = u32::try_from(i).unwrap_or(0) * 10;
        t.attachments_omitted = 3;
        write_ok(store, &t).await;
        written.push(t);
    }
    written.sort_by(newest_first);
    let filter = |after: Option<Cursor>, limit: usize| TicketFilter {
        queue: Some(queue.clone()),
        limit: Some(limit),
        after,
        ..Default::default()
    };
    for page_size in [1, 2, 3, 7, 10] {
        let mut walked: Vec<Ticket> = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list(&filter(after.clone(), page_size))
                .await
                .unwrap_or_else(|e| panic!("list page failed: {e}"));
            assert!(
                page.len() <= page_size,
                "page of {page_size}: {}",
                page.len()
            );
            let Some(last) = page.last() else { break };
            after = Some(Cursor::after(last));
            walked.extend(page);
            assert!(
                walked.len() <= written.len(),
                "paging by {page_size} repeats tickets"
            );
        }
        let ids = |v: &[Ticket]| v.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&walked), ids(&written), "pages of {page_size}");
        for (got, want) in walked.iter().zip(&written) {
            assert_eq!(
                got.recipients_omitted, want.recipients_omitted,
                "{}",
                got.id
            );
            assert_eq!(got.attachments_omitted, 3, "{}", got.id);
        }
    }
}

/// How the messages of a concurrently written new thread find each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadBy {
    /// Same provider thread id.
    ThreadId,
    /// No thread id; all reference the same root Message-ID.
    ThreadKey,
}

/// `n` tasks write `n` different messages of one new thread at once:
/// exactly one ticket, one `Created`, `n - 1` `Appended`, count `n`; then all
/// again at once: all `AlreadyRecorded`, count unchanged.
/// Write every message at once (released together by a barrier), the
/// `i`-th through `stores[i % stores.len()]`; the outcomes in order.
pub(crate) async fn write_at_once<S: TicketStore + 'static>(
    stores: &[Arc<S>],
    messages: &[Ticket],
) -> Vec<TicketWrite> {
    let barrier = Arc::new(tokio::sync::Barrier::new(messages.len()));
    let mut tasks = Vec::new();
    for (i, t) in messages.iter().cloned().enumerate() {
        let (store, barrier) = (stores[i % stores.len()].clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            write_ok(&*store, &t).await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| panic!("task failed: {e}")));
    }
    results
}

pub async fn concurrent_new_thread_one_ticket<S: TicketStore + 'static>(
    stores: &[Arc<S>],
    n: usize,
    by: ThreadBy,
) {
    assert!(!stores.is_empty(), "at least one store");
    let store: &S = &stores[0];
    let grant = unique_name("grant");
    let messages: Vec<Ticket> = (0..n)
        .map(|i| {
            let mid = format!("m{i:03}");
            let mut t = match by {
                ThreadBy::ThreadId => {
                    sample_ticket(&grant, &mid, Some("th-race"), 1_700_000_000 + i as i64)
                }
                ThreadBy::ThreadKey => sample_ticket(&grant, &mid, None, 1_700_000_000 + i as i64),
            };
            t.thread_keys = vec![
                format!("{mid}@mail.example.com"),
                "root@mail.example.com".into(),
            ];
            t
        })
        .collect();

    for round in 0..2 {
        let results = write_at_once(stores, &messages).await;
        let stored = only_ticket(store, &grant).await;
        let count = |f: fn(&TicketWrite) -> bool| results.iter().filter(|w| f(w)).count();
        if round == 0 {
            assert_eq!(
                count(|w| matches!(w, TicketWrite::Created { .. })),
                1,
                "{results:?}"
            );
            assert_eq!(
                count(|w| matches!(w, TicketWrite::Appended { .. })),
                n - 1,
                "{results:?}"
            );
        } else {
            assert_eq!(
                count(|w| matches!(w, TicketWrite::AlreadyRecorded { .. })),
                n,
                "{results:?}"
            );
        }
        assert!(
            results.iter().all(|w| w.ticket_id() == stored.id),
            "{results:?}"
        );
        assert_eq!(stored.message_count as usize, n, "round {round}");
        let expected: Vec<String> = sorted(
            &messages
                .iter()
                .map(|t| t.message_id.clone())
                .collect::<Vec<_>>(),
        );
        assert_eq!(sorted(&stored.message_ids), expected, "round {round}");
        assert_eq!(stored.last_message_at, 1_700_000_000 + n as i64 - 1);
    }
}

/// `n` concurrent deliveries of one message (first of a thread, then a
/// second one of the same thread): each recorded once.
pub async fn concurrent_duplicates_count_once<S: TicketStore + 'static>(
    stores: &[Arc<S>],
    n: usize,
) {
    assert!(!stores.is_empty(), "at least one store");
    let store: &S = &stores[0];
    let grant = unique_name("grant");
    let first = sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    let second = sample_ticket(&grant, "m2", Some("th1"), 1_700_000_100);
    for (t, fresh) in [(&first, "created"), (&second, "appended")] {
        let barrier = Arc::new(tokio::sync::Barrier::new(n));
        let mut tasks = Vec::new();
        for i in 0..n {
            let store = stores[i % stores.len()].clone();
            let (barrier, t) = (barrier.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                write_ok(&*store, &t).await
            }));
        }
        let mut fresh_writes = 0;
        for task in tasks {
            match task.await.unwrap_or_else(|e| panic!("task failed: {e}")) {
                TicketWrite::Created { .. } | TicketWrite::Appended { .. } => fresh_writes += 1,
                TicketWrite::AlreadyRecorded { ticket_id } => assert_eq!(ticket_id, first.id),
            }
        }
        assert_eq!(fresh_writes, 1, "exactly one of {n} deliveries is {fresh}");
    }
    let stored = only_ticket(store, &grant).await;
    assert_eq!(stored.message_count, 2);
    assert_eq!(sorted(&stored.message_ids), vec!["m1", "m2"]);
}

/// Every concurrent ticket behaviour (8 writers, spread over `stores`: pass
/// one store, or several independent ones to act as several processes).
pub async fn tickets_concurrency_contract<S: TicketStore + 'static>(stores: &[Arc<S>]) {
    concurrent_new_thread_one_ticket(stores, 8, ThreadBy::ThreadId).await;
    concurrent_new_thread_one_ticket(stores, 8, ThreadBy::ThreadKey).await;
    concurrent_duplicates_count_once(stores, 8).await;
}

// ---------------------------------------------------------------- pipeline

/// Shape of [`pipeline_exactly_once`].
#[derive(Debug, Clone, Copy)]
pub struct PipelineSpec {
    /// Concurrent workers.
    pub workers: usize,
    /// Distinct threads (= expected tickets).
    pub threads: usize,
    /// Messages per thread (= expected `message_count` of each ticket).
    pub messages_per_thread: usize,
    /// Deliveries of each message (at-least-once queue).
    pub deliveries: usize,
    /// Every `crash_every`-th message's first processing "crashes" after the
    /// ticket write (no complete, no release, lease left to expire) and is
    /// redelivered; 0 = never.
    pub crash_every: usize,
}

impl Default for PipelineSpec {
    /// 8 workers, 100 single-message threads, 3 deliveries each, a crash
    /// every 7th message.
    fn default() -> Self {
        PipelineSpec {
            workers: 8,
            threads: 100,
            messages_per_thread: 1,
            deliveries: 3,
            crash_every: 7,
        }
    }
}

/// What [`pipeline_exactly_once`] observed, for extra assertions.
#[derive(Debug, Clone, Default)]
pub struct PipelineReport {
    pub created: usize,
    pub appended: usize,
    pub already_recorded: usize,
    pub completed_duplicates: usize,
    pub in_progress_requeues: usize,
    pub crashes: usize,
    pub transient_errors: usize,
}

/// The worker's loop run by `spec.workers` tasks (worker `w` uses
/// `idems[w % len]` and `ticket_stores[w % len]`) over a queue holding every
/// message `spec.deliveries` times (duplicates side by side, so they race):
/// claim -> write -> complete, `InProgress` -> requeue, `Completed` -> drop,
/// transient error -> release + requeue. Asserts exactly `threads` tickets,
/// each with exactly its messages once, and exactly one `Created` per
/// thread and one `Appended` per later message.
pub async fn pipeline_exactly_once<I, T>(
    idems: &[Arc<I>],
    ticket_stores: &[Arc<T>],
    spec: PipelineSpec,
) -> PipelineReport
where
    I: IdempotencyStore + 'static,
    T: TicketStore + 'static,
{
    assert!(
        !idems.is_empty() && !ticket_stores.is_empty(),
        "at least one store of each"
    );
    let grant = unique_name("grant");
    let base = 1_700_000_000i64;
    let messages: Arc<Vec<Ticket>> = Arc::new(
        (0..spec.threads)
            .flat_map(|th| (0..spec.messages_per_thread).map(move |k| (th, k)))
            .map(|(th, k)| {
                let mid = format!("m-{th:04}-{k:02}");
                let mut t =
                    sample_ticket(&grant, &mid, Some(&format!("th-{th:04}")), base + k as i64);
                t.thread_keys = vec![format!("{mid}@mail.example.com")];
                if k > 0 {
                    t.thread_keys.push(format!("m-{th:04}-00@mail.example.com"));
                }
                t
            })
            .collect(),
    );
    let queue: VecDeque<usize> = (0..messages.len())
        .flat_map(|i| std::iter::repeat_n(i, spec.deliveries))
        .collect();
    let pending = Arc::new(AtomicUsize::new(queue.len()));
    let queue = Arc::new(tokio::sync::Mutex::new(queue));
    let crashed: Arc<Vec<AtomicBool>> = Arc::new(
        (0..messages.len())
            .map(|_| AtomicBool::new(false))
            .collect(),
    );

    let mut workers = Vec::new();
    for w in 0..spec.workers {
        let (idem, tickets, messages, queue, pending, crashed) = (
            idems[w % idems.len()].clone(),
            ticket_stores[w % ticket_stores.len()].clone(),
            messages.clone(),
            queue.clone(),
            pending.clone(),
            crashed.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut report = PipelineReport::default();
            let mut idle_rounds = 0u32;
            while pending.load(Ordering::SeqCst) > 0 {
                let next = queue.lock().await.pop_front();
                let Some(i) = next else {
                    idle_rounds += 1;
                    assert!(idle_rounds < 20_000, "pipeline stalled");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                };
                let msg = &messages[i];
                let key = DedupeKey {
                    grant_id: msg.grant_id.clone(),
                    message_id: msg.message_id.clone(),
                };
                let crash = spec.crash_every > 0
                    && i % spec.crash_every == 0
                    && !crashed[i].swap(true, Ordering::SeqCst);
                let now = now_ms();
                // A crashing worker's lease is over by the time the message
                // comes back (simulated by a lease that already ended).
                let t = if crash {
                    times(now, -1, DAY_S)
                } else {
                    times(now, 60_000, DAY_S)
                };
                match idem.claim(&key, t).await {
                    Ok(ClaimOutcome::Claimed) => {}
                    Ok(ClaimOutcome::Completed { .. }) => {
                        report.completed_duplicates += 1;
                        pending.fetch_sub(1, Ordering::SeqCst);
                        continue;
                    }
                    Ok(ClaimOutcome::InProgress { .. }) => {
                        report.in_progress_requeues += 1;
                        queue.lock().await.push_back(i);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    Err(e) => {
                        assert!(e.is_transient(), "claim of {} failed: {e}", key.as_key());
                        report.transient_errors += 1;
                        queue.lock().await.push_back(i);
                        continue;
                    }
                }
                let written = match tickets.write(msg).await {
                    Ok(w) => w,
                    Err(e) => {
                        assert!(e.is_transient(), "write of {} failed: {e}", key.as_key());
                        report.transient_errors += 1;
                        release_ok(&*idem, &key).await;
                        queue.lock().await.push_back(i);
                        continue;
                    }
                };
                let outcome = match &written {
                    TicketWrite::Created { ticket_id } => {
                        report.created += 1;
                        format!("created:{ticket_id}")
                    }
                    TicketWrite::Appended { ticket_id, .. } => {
                        report.appended += 1;
                        format!("appended:{ticket_id}")
                    }
                    TicketWrite::AlreadyRecorded { ticket_id } => {
                        report.already_recorded += 1;
                        format!("already:{ticket_id}")
                    }
                };
                if crash {
                    report.crashes += 1;
                    queue.lock().await.push_back(i);
                    continue;
                }
                match idem.complete(&key, &outcome, now / 1000 + DAY_S).await {
                    Ok(()) => {
                        pending.fetch_sub(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        assert!(e.is_transient(), "complete of {} failed: {e}", key.as_key());
                        report.transient_errors += 1;
                        release_ok(&*idem, &key).await;
                        queue.lock().await.push_back(i);
                    }
                }
            }
            report
        }));
    }

    let mut total = PipelineReport::default();
    for w in workers {
        let r = w.await.unwrap_or_else(|e| panic!("worker failed: {e}"));
        total.created += r.created;
        total.appended += r.appended;
        total.already_recorded += r.already_recorded;
        total.completed_duplicates += r.completed_duplicates;
        total.in_progress_requeues += r.in_progress_requeues;
        total.crashes += r.crashes;
        total.transient_errors += r.transient_errors;
    }

    let stored = tickets_of(&*ticket_stores[0], &grant).await;
    assert_eq!(
        stored.len(),
        spec.threads,
        "one ticket per thread ({total:?})"
    );
    let mut by_thread: HashMap<String, &Ticket> = HashMap::new();
    for t in &stored {
        let thread = t.thread_id.clone().unwrap_or_default();
        assert!(
            by_thread.insert(thread.clone(), t).is_none(),
            "two tickets for {thread}"
        );
        assert_eq!(
            t.message_count as usize, spec.messages_per_thread,
            "ticket {} of {thread}: {:?} ({total:?})",
            t.id, t.message_ids
        );
        let ids: BTreeSet<&String> = t.message_ids.iter().collect();
        assert_eq!(
            ids.len(),
            t.message_ids.len(),
            "duplicate message id on {}",
            t.id
        );
        let expected: BTreeSet<String> = (0..spec.messages_per_thread)
            .map(|k| format!("m-{}-{k:02}", thread.trim_start_matches("th-")))
            .collect();
        assert_eq!(ids, expected.iter().collect(), "messages of {thread}");
    }
    assert_eq!(total.created, spec.threads, "{total:?}");
    assert_eq!(
        total.appended,
        spec.threads * spec.messages_per_thread.saturating_sub(1),
        "{total:?}"
    );
    total
}

async fn release_ok<S: IdempotencyStore>(store: &S, key: &DedupeKey) {
    if let Err(e) = store.release(key).await {
        assert!(e.is_transient(), "release of {} failed: {e}", key.as_key());
    }
}
