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
//!
//! # Suites
//!
//! One file each beside this one, re-exported here (call them as
//! `triage_testkit::contract::...`):
//!
//! - `idempotency.rs`: the [`IdempotencyStore`] contract,
//!   [`idempotency_contract`] (claims, leases, completion, TTL, release) and
//!   [`idempotency_concurrency_contract`] (one winner among concurrent
//!   claims).
//! - `tickets.rs`: the [`TicketStore`] contract, [`tickets_contract`]
//!   (create, record once, append by thread id or Message-ID, grants apart),
//!   which also runs the listing behaviours of `tickets_listing.rs`
//!   (filters, order, limits, cursors, `listing::list_page`).
//! - `tickets_concurrency.rs`: [`tickets_concurrency_contract`] (one ticket
//!   for a new thread written at once, concurrent duplicates counted once).
//! - `pipeline.rs`: both stores together, [`pipeline_exactly_once`] (the
//!   worker's loop over an at-least-once queue, with crashes and transient
//!   errors: every message on its ticket exactly once).
//!
//! This file holds what they share: [`sample_ticket`], [`tickets_of`],
//! [`only_ticket`], [`fresh_key`], [`times`], [`DAY_S`] and [`now_ms`].
//! The threading, acknowledgement and reconciliation contracts are
//! [`crate::threading_contract`], [`crate::ack_contract`] and
//! [`crate::reconcile_contract`].
//!
//! [`IdempotencyStore`]: triage_core::ports::IdempotencyStore

mod idempotency;
mod pipeline;
mod tickets;
mod tickets_concurrency;
mod tickets_listing;

pub use idempotency::{
    claim_after_lease_expiry_is_claimed, claim_after_ttl_passed_is_claimed, claim_new_is_claimed,
    claim_with_live_lease_is_in_progress, completed_claim_returns_outcome,
    concurrent_claims_have_one_winner, idempotency_concurrency_contract, idempotency_contract,
    keys_are_independent, release_keeps_completed, release_missing_is_ok,
    release_then_claim_is_claimed,
};
pub use pipeline::{PipelineReport, PipelineSpec, pipeline_exactly_once};
pub use tickets::{
    grants_do_not_share_threads, late_message_keeps_last_message_at,
    recorded_message_is_never_counted_twice, second_message_same_thread_appends,
    thread_keys_match_earlier_message_id, ticket_create_is_created,
    ticket_rewrite_is_already_recorded, tickets_contract,
};
pub(crate) use tickets_concurrency::write_at_once;
pub use tickets_concurrency::{
    ThreadBy, concurrent_duplicates_count_once, concurrent_new_thread_one_ticket,
    tickets_concurrency_contract,
};
pub use tickets_listing::{
    list_filters_and_orders, list_page_reads_in_chunks_and_stops_at_the_byte_cap,
    list_pages_with_a_cursor,
};

pub use triage_clock::now_ms;
use triage_core::Participant;
use triage_core::ports::{ClaimTimes, DedupeKey, TicketFilter, TicketStore};
use triage_core::ticket::{
    AppliedRule, AttachmentMeta, Priority, Ticket, TicketStatus, TicketWrite, ticket_id,
};

use crate::unique_name;

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
        priority: Priority::Medium,
        status: TicketStatus::New,
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

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}
