//! The embedded local store of inbox-triage: everything the AWS deployment
//! keeps in SQS and DynamoDB, in ONE SQLite file (default
//! [`DEFAULT_PATH`], `./.triage/triage.db`), for the local `triage` binary.
//!
//! * [`SqliteDb`] is the file (WAL mode, `synchronous=FULL`, busy timeout,
//!   schema migrations by `PRAGMA user_version`). Open once, clone freely.
//! * [`SqliteStore`] implements [`IdempotencyStore`](triage_core::ports::IdempotencyStore)
//!   and [`TicketStore`](triage_core::ports::TicketStore) with the DynamoDB
//!   adapter's semantics (see [`idempotency`] and [`tickets`]); each
//!   operation is one atomic write (a savepoint of a `BEGIN IMMEDIATE`
//!   transaction) instead of conditional writes.
//! * [`SqliteQueue`] implements [`NotificationQueue`](triage_core::ports::NotificationQueue)
//!   plus the consumer API of the local worker loop (receive with a
//!   visibility timeout, ack, nack, dead-letter, redrive); see [`queue`].
//!
//! * The event outbox ([`outbox`]): events written in the ticket's
//!   transaction, drained through [`EventOutbox`](triage_core::dispatch::EventOutbox).
//!
//! * Acknowledgement records ([`acks`]): once per ticket, per-sender windows.
//!
//! * Reconciliation ([`reconcile`]): cursors per provider and grant, and
//!   which messages the idempotency records already know.
//!
//! * The queue as the core's `QueueConsumer` ([`consumer`]), and the
//!   figures of `triage stats` ([`stats`]).
//!
//! * Group commit ([`group_commit`]): all writes of a process go through
//!   one writer thread, which commits the writes that queued while its
//!   previous commit ran in ONE transaction with one fsync, each write in
//!   its own savepoint (a failing write leaves nothing, the others stay),
//!   every caller answered only once its transaction is durable.
//!
//! # Schema (version [`SCHEMA_VERSION`])
//!
//! | table                | key                                   | holds                                   |
//! |----------------------|---------------------------------------|-----------------------------------------|
//! | `idempotency`        | `(grant_id, message_id)`              | `status`, `lease_until_ms`, `expires_at` (s), `outcome`, `updated_at_ms` |
//! | `tickets`            | `id`                                  | every `Ticket` field; nested values as JSON text |
//! | `ticket_pointers`    | `(grant_id, kind, ptr_key)`           | `ticket_id`; `kind` = `thread`, `msgid` or `seen` |
//! | `ticket_subjects`    | `(grant_id, subject_key)`             | `ticket_id`: the newest ticket with that normalised subject (a digest) |
//! | `queue_messages`     | `id` (autoincrement)                  | `entry_id`, `body`, `attributes` (JSON pairs), `enqueued_at_ms`, `visible_at_ms`, `receive_count`, `last_error` |
//! | `queue_dead_letters` | `id` (the queue id it had)            | the message plus `reason`, `dead_at_ms` |
//! | `ack_ledger`         | `key`                                 | `window_start`, `slots`, `expires_at` (s) |
//! | `reconcile_cursors`  | `(provider, grant_id)`                | `cursor_s`, `updated_at_ms` |
//! | `outbox`             | `event_id`                            | `ticket_id`, `event` (JSON), `delivered` (JSON names), `attempts`, `status` (`pending`/`dead`), `next_attempt_ms`, `created_at_ms`, `last_error` |
//!
//! Indexes: `idempotency(expires_at)`, `tickets(created_at DESC, id)`,
//! `tickets(queue|priority|status, created_at DESC, id)`,
//! `queue_messages(visible_at_ms, id)`, `queue_dead_letters(dead_at_ms, id)`,
//! `outbox(status, next_attempt_ms, created_at_ms)`.
//! Every lookup on a write path is by key or index ([`LOOKUP_QUERIES`]), so
//! a write costs the same however many rows are stored.
//!
//! # Blocking and errors
//!
//! SQLite calls block; writes run on the writer thread, reads on tokio's
//! blocking pool. Nothing on a runtime path unwraps or panics: failures are
//! [`SqliteError`], mapped at the trait boundaries to `StoreError`
//! (`SQLITE_BUSY` -> `Throttled`, I/O and lock failures -> `Unavailable`,
//! bad data -> `Rejected`) and `QueueError` (`SQLITE_BUSY` -> `Timeout`,
//! anything else -> `Unavailable`).

pub mod acks;
pub mod consumer;
pub mod db;
pub mod error;
pub mod group_commit;
pub mod idempotency;
pub mod outbox;
pub mod queue;
pub mod reconcile;
pub mod schema;
pub mod stats;
mod threading;
pub mod tickets;

pub use db::{BUSY_TIMEOUT, DEFAULT_PATH, SqliteDb};
pub use error::SqliteError;
pub use group_commit::WriteStats;
pub use outbox::{DeadEvent, OutboxCounts};
pub use queue::{DeadLetter, Delivery, RedriveSelection, Redriven, SqliteQueue};
pub use schema::SCHEMA_VERSION;

/// Idempotency records and tickets in a [`SqliteDb`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: SqliteDb,
}

impl SqliteStore {
    /// The stores in `db`.
    pub fn new(db: SqliteDb) -> Self {
        SqliteStore { db }
    }

    /// The database they live in.
    pub fn db(&self) -> &SqliteDb {
        &self.db
    }
}

impl SqliteDb {
    /// The idempotency and ticket stores of this database.
    pub fn store(&self) -> SqliteStore {
        SqliteStore::new(self.clone())
    }

    /// The queue of this database.
    pub fn queue(&self) -> SqliteQueue {
        SqliteQueue::new(self.clone())
    }
}

/// The lookup statements of the write and receive paths, by name, for
/// query-plan checks (`SqliteDb::explain_query_plan`): each must be served
/// by a primary key or an index, never a table scan.
pub const LOOKUP_QUERIES: &[(&str, &str)] = &[
    ("idempotency: read record", idempotency::SELECT_RECORD),
    ("idempotency: release", idempotency::DELETE_IN_PROGRESS),
    ("idempotency: purge expired", idempotency::DELETE_EXPIRED),
    ("reconcile: known message", reconcile::SELECT_KNOWN),
    ("reconcile: read cursor", reconcile::SELECT_CURSOR),
    ("tickets: ticket exists", tickets::SELECT_TICKET_EXISTS),
    ("tickets: read pointer", tickets::SELECT_POINTER),
    ("tickets: read append state", tickets::SELECT_APPEND_STATE),
    ("tickets: read subject pointer", threading::SELECT_SUBJECT),
    ("tickets: read candidate", threading::SELECT_CANDIDATE),
    ("tickets: append", tickets::UPDATE_APPEND),
    (
        "tickets: bump last_message_at",
        tickets::UPDATE_LAST_MESSAGE_AT,
    ),
    ("queue: select visible", queue::SELECT_VISIBLE),
    ("queue: mark received", queue::MARK_RECEIVED),
    ("queue: delete", queue::DELETE_MESSAGE),
    ("queue: make visible", queue::MAKE_VISIBLE),
    ("queue: defer", queue::DEFER),
    ("queue: copy to dead letters", queue::COPY_TO_DEAD_LETTERS),
    ("queue: count visible", queue::COUNT_VISIBLE),
    ("queue: count in flight", queue::COUNT_IN_FLIGHT),
    ("dead letters: read", queue::SELECT_DEAD),
    ("dead letters: delete", queue::DELETE_DEAD),
    ("outbox: due events", outbox::SELECT_DUE),
    ("outbox: delete", outbox::DELETE_EVENT),
    ("outbox: settle", outbox::UPDATE_EVENT),
];

/// The `list` statement for `filter` (for query-plan checks: it must read
/// in index order, with no separate sort).
pub fn list_query(filter: &triage_core::ports::TicketFilter) -> String {
    tickets::list_sql(filter)
}
