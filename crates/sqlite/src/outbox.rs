//! The event outbox (issue #12): every ticket write that makes an event
//! (`ticket.created`, `message.added`) inserts it into `outbox` in the same
//! transaction, so a crash after the write cannot lose it; the dispatcher
//! drains the table through the core's [`EventOutbox`] port.
//!
//! A row is `pending` until every destination of its route has the event
//! (then it is deleted) or its attempts run out (then it is `dead`, with
//! its reason, until [`SqliteStore::redrive_events`] makes it pending
//! again). `delivered` keeps the destinations that already took it, so a
//! retry or a redrive delivers only to the others.

use rusqlite::Transaction;
use triage_core::dispatch::{EventOutbox, Pending, Settled};
use triage_core::events::{self, TicketEvent};
use triage_core::ports::StoreError;
use triage_core::ticket::{Ticket, TicketWrite};

use crate::SqliteStore;
use crate::db::now_ms;
use crate::error::{Ctx, SqliteError};

const INSERT_EVENT: &str = "INSERT OR IGNORE INTO outbox \
     (event_id, ticket_id, event, created_at_ms) VALUES (?1, ?2, ?3, ?4)";

pub(crate) const SELECT_DUE: &str = "SELECT event_id, event, delivered, attempts FROM outbox \
     WHERE status = 'pending' AND next_attempt_ms <= ?1 \
     ORDER BY next_attempt_ms, created_at_ms LIMIT ?2";

pub(crate) const DELETE_EVENT: &str = "DELETE FROM outbox WHERE event_id = ?1";

pub(crate) const UPDATE_EVENT: &str = "UPDATE outbox SET delivered = ?2, attempts = ?3, \
     status = ?4, next_attempt_ms = ?5, last_error = ?6 WHERE event_id = ?1";

const SELECT_DEAD: &str = "SELECT event_id, ticket_id, attempts, delivered, last_error FROM outbox \
     WHERE status = 'dead' ORDER BY created_at_ms LIMIT ?1";

const REDRIVE_OLDEST: &str = "UPDATE outbox SET status = 'pending', attempts = 0, \
     next_attempt_ms = 0 WHERE event_id IN (SELECT event_id FROM outbox \
     WHERE status = 'dead' ORDER BY created_at_ms LIMIT ?1)";

const COUNT: &str = "SELECT status, count(*) FROM outbox GROUP BY status";

/// Insert the event of `written`, if it makes one, inside the ticket's
/// transaction. A redelivered write finds the row already there.
pub(crate) fn record(
    tx: &Transaction<'_>,
    ticket: &Ticket,
    written: &TicketWrite,
) -> Result<(), SqliteError> {
    let Some(event) = events::for_write(ticket, written) else {
        return Ok(());
    };
    let context = format!("outbox event {}", event.id);
    let json = serde_json::to_string(&event).map_err(|source| SqliteError::Encode {
        context: context.clone(),
        source,
    })?;
    tx.prepare_cached(INSERT_EVENT)
        .and_then(|mut st| st.execute((&event.id, &event.ticket_id, &json, now_ms())))
        .ctx(|| context)?;
    Ok(())
}

/// A dead event, as `triage dlq` shows it: ids, counts and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadEvent {
    pub event_id: String,
    pub ticket_id: String,
    pub attempts: u32,
    pub delivered: Vec<String>,
    pub reason: String,
}

/// How many events wait, and how many are dead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub dead: u64,
}

impl SqliteStore {
    /// Events waiting and dead.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, SqliteError> {
        self.db
            .read("count outbox", |conn| {
                let ctx = || "count outbox".to_string();
                let mut st = conn.prepare_cached(COUNT).ctx(ctx)?;
                let mut rows = st.query([]).ctx(ctx)?;
                let mut counts = OutboxCounts::default();
                while let Some(row) = rows.next().ctx(ctx)? {
                    let status: String = row.get(0).ctx(ctx)?;
                    let n: i64 = row.get(1).ctx(ctx)?;
                    let n = u64::try_from(n).unwrap_or(0);
                    match status.as_str() {
                        "dead" => counts.dead = n,
                        _ => counts.pending = n,
                    }
                }
                Ok(counts)
            })
            .await
    }

    /// Up to `limit` dead events, oldest first.
    pub async fn dead_events(&self, limit: usize) -> Result<Vec<DeadEvent>, SqliteError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .read("list dead events", move |conn| {
                let ctx = || "list dead events".to_string();
                let mut st = conn.prepare_cached(SELECT_DEAD).ctx(ctx)?;
                let mut rows = st.query([limit]).ctx(ctx)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().ctx(ctx)? {
                    let delivered: String = row.get(3).ctx(ctx)?;
                    let attempts: i64 = row.get(2).ctx(ctx)?;
                    out.push(DeadEvent {
                        event_id: row.get(0).ctx(ctx)?,
                        ticket_id: row.get(1).ctx(ctx)?,
                        attempts: u32::try_from(attempts).unwrap_or(0),
                        delivered: serde_json::from_str(&delivered).unwrap_or_default(),
                        reason: row
                            .get::<_, Option<String>>(4)
                            .ctx(ctx)?
                            .unwrap_or_default(),
                    });
                }
                Ok(out)
            })
            .await
    }

    /// Make dead events pending again (the oldest `max`, or all), with
    /// fresh attempts; returns how many.
    pub async fn redrive_events(&self, max: Option<u64>) -> Result<u64, SqliteError> {
        let limit = max.map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX));
        self.db
            .write("redrive events".into(), move |tx| {
                let n = tx
                    .execute(REDRIVE_OLDEST, [limit])
                    .ctx(|| "redrive events".to_string())?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }
}

/// One `SELECT_DUE` row, or why it cannot be read.
fn read_due(row: &rusqlite::Row<'_>) -> Result<Result<Pending, (String, String)>, SqliteError> {
    let ctx = || "read outbox row".to_string();
    let id: String = row.get(0).ctx(ctx)?;
    let event: String = row.get(1).ctx(ctx)?;
    let delivered: String = row.get(2).ctx(ctx)?;
    let attempts: i64 = row.get(3).ctx(ctx)?;
    let event: TicketEvent = match serde_json::from_str(&event) {
        Ok(e) => e,
        Err(e) => return Ok(Err((id, format!("unreadable event: {e}")))),
    };
    let delivered: Vec<String> = match serde_json::from_str(&delivered) {
        Ok(d) => d,
        Err(e) => return Ok(Err((id, format!("unreadable delivered list: {e}")))),
    };
    Ok(Ok(Pending {
        event,
        delivered,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    }))
}

fn update(tx: &Transaction<'_>, event_id: &str, settled: &Settled) -> Result<(), SqliteError> {
    let ctx = || format!("settle event {event_id}");
    let encode = |d: &Vec<String>| serde_json::to_string(d).unwrap_or_else(|_| "[]".into());
    match settled {
        Settled::Done => tx.execute(DELETE_EVENT, [event_id]).ctx(ctx)?,
        Settled::Retry {
            delivered,
            attempts,
            next_attempt_ms,
            reason,
        } => tx
            .execute(
                UPDATE_EVENT,
                (
                    event_id,
                    encode(delivered),
                    attempts,
                    "pending",
                    next_attempt_ms,
                    reason,
                ),
            )
            .ctx(ctx)?,
        Settled::Dead {
            delivered,
            attempts,
            reason,
        } => tx
            .execute(
                UPDATE_EVENT,
                (event_id, encode(delivered), attempts, "dead", 0i64, reason),
            )
            .ctx(ctx)?,
    };
    Ok(())
}

impl EventOutbox for SqliteStore {
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (due, unreadable) = self
            .db
            .read("read due events", move |conn| {
                let ctx = || "read due events".to_string();
                let mut st = conn.prepare_cached(SELECT_DUE).ctx(ctx)?;
                let mut rows = st.query((now_ms, limit)).ctx(ctx)?;
                let (mut due, mut bad) = (Vec::new(), Vec::new());
                while let Some(row) = rows.next().ctx(ctx)? {
                    match read_due(row)? {
                        Ok(p) => due.push(p),
                        Err(b) => bad.push(b),
                    }
                }
                Ok((due, bad))
            })
            .await?;
        // A row that cannot be read is dead-lettered, with its reason,
        // rather than read again and again.
        for (id, reason) in unreadable {
            tracing::warn!(event = %id, "unreadable outbox row dead-lettered");
            let settled = Settled::Dead {
                delivered: vec![],
                attempts: 0,
                reason,
            };
            EventOutbox::settle(self, &id, &settled).await?;
        }
        Ok(due)
    }

    async fn settle(&self, event_id: &str, settled: &Settled) -> Result<(), StoreError> {
        let id = event_id.to_string();
        let settled = settled.clone();
        self.db
            .write(format!("settle event {event_id}"), move |tx| {
                update(tx, &id, &settled)
            })
            .await?;
        Ok(())
    }
}
