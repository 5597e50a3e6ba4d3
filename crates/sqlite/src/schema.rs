//! Schema and migrations, versioned by `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` brings a database from version `i` to `i + 1`. Opening a
//! database runs the missing ones in one `BEGIN IMMEDIATE` transaction (so
//! two processes opening a new file at once migrate it once), and refuses a
//! file whose version is newer than this build knows. Never edit a
//! released migration: append a new one.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Ctx, SqliteError};

/// Version 1: idempotency records, tickets + pointers, queue + dead letters.
const V1: &str = r#"
CREATE TABLE idempotency (
    grant_id        TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETED')),
    lease_until_ms  INTEGER NOT NULL DEFAULT 0,
    expires_at      INTEGER NOT NULL,
    outcome         TEXT,
    updated_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (grant_id, message_id)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);

CREATE TABLE tickets (
    id              TEXT    NOT NULL PRIMARY KEY,
    grant_id        TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    thread_id       TEXT,
    subject         TEXT    NOT NULL,
    requester       TEXT    NOT NULL,
    "to"            TEXT    NOT NULL,
    cc              TEXT    NOT NULL,
    category        TEXT    NOT NULL,
    queue           TEXT    NOT NULL,
    priority        TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    received_at     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_message_at INTEGER NOT NULL,
    message_count   INTEGER NOT NULL,
    message_ids     TEXT    NOT NULL,
    snippet         TEXT    NOT NULL,
    attachments     TEXT    NOT NULL,
    applied_rules   TEXT    NOT NULL,
    thread_keys     TEXT    NOT NULL
);
CREATE INDEX tickets_by_created  ON tickets (created_at DESC, id);
CREATE INDEX tickets_by_queue    ON tickets (queue, created_at DESC, id);
CREATE INDEX tickets_by_priority ON tickets (priority, created_at DESC, id);
CREATE INDEX tickets_by_status   ON tickets (status, created_at DESC, id);

CREATE TABLE ticket_pointers (
    grant_id   TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('thread', 'msgid', 'seen')),
    ptr_key    TEXT NOT NULL,
    ticket_id  TEXT NOT NULL,
    PRIMARY KEY (grant_id, kind, ptr_key)
) WITHOUT ROWID;

CREATE TABLE queue_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id        TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    attributes      TEXT    NOT NULL,
    enqueued_at_ms  INTEGER NOT NULL,
    visible_at_ms   INTEGER NOT NULL DEFAULT 0,
    receive_count   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX queue_by_visibility ON queue_messages (visible_at_ms, id);

CREATE TABLE queue_dead_letters (
    id              INTEGER PRIMARY KEY,
    entry_id        TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    attributes      TEXT    NOT NULL,
    enqueued_at_ms  INTEGER NOT NULL,
    receive_count   INTEGER NOT NULL,
    reason          TEXT    NOT NULL,
    dead_at_ms      INTEGER NOT NULL
);
CREATE INDEX dead_letters_by_time ON queue_dead_letters (dead_at_ms, id);
"#;

/// Every migration, in order.
/// Tickets keep at most 20 recipients per list and 20 attachments; these
/// count the rest.
const V2: &str = r#"
ALTER TABLE tickets ADD COLUMN recipients_omitted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN attachments_omitted INTEGER NOT NULL DEFAULT 0;
"#;

/// Version 3: the event outbox (#12), written in the ticket's transaction
/// and drained by the dispatcher. `delivered` is a JSON list of destination
/// names that already have the event; `status` is `pending` or `dead`.
const V3: &str = r#"
CREATE TABLE outbox (
    event_id        TEXT    NOT NULL PRIMARY KEY,
    ticket_id       TEXT    NOT NULL,
    event           TEXT    NOT NULL,
    delivered       TEXT    NOT NULL DEFAULT '[]',
    attempts        INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dead')),
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    created_at_ms   INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms, created_at_ms);
"#;

/// Version 4: acknowledgement records (#12): once per ticket (`ack#...`)
/// and per-sender windows (`ack-sender#...`: `window_start` s, `slots`).
const V4: &str = r#"
CREATE TABLE ack_ledger (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL DEFAULT 0,
    slots        INTEGER NOT NULL DEFAULT 0,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Version 5: reconciliation cursors (#13), one per provider and grant
/// (unix seconds: every message received before it was looked at).
const V5: &str = r#"
CREATE TABLE reconcile_cursors (
    provider      TEXT    NOT NULL,
    grant_id      TEXT    NOT NULL,
    cursor_s      INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (provider, grant_id)
) WITHOUT ROWID;
"#;

/// Version 6: the detected language of a ticket's opening message (#14),
/// NULL when not detected (and for tickets written before).
const V6: &str = r#"
ALTER TABLE tickets ADD COLUMN language TEXT;
"#;

/// Version 7: threading by ticket reference and subject (#14): the opening
/// message's `From` address (NULL for tickets written before) and the
/// subject pointers (`subject_key` is a digest of the normalised subject).
const V7: &str = r#"
ALTER TABLE tickets ADD COLUMN sender TEXT;
CREATE TABLE ticket_subjects (
    grant_id    TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    ticket_id   TEXT NOT NULL,
    PRIMARY KEY (grant_id, subject_key)
) WITHOUT ROWID;
"#;

const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Bring the database up to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &Connection, shown: &str) -> Result<(), SqliteError> {
    let context = || format!("migrate {shown}");
    let tx =
        rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate).ctx(context)?;
    let found: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx(context)?;
    if found > SCHEMA_VERSION {
        return Err(SqliteError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    let start = usize::try_from(found).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        tx.execute_batch(sql)
            .ctx(|| format!("migrate {shown} to version {}", i + 1))?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .ctx(context)?;
        tracing::info!(
            path = shown,
            from = found,
            to = SCHEMA_VERSION,
            "sqlite schema migrated"
        );
    }
    tx.commit().ctx(context)
}
