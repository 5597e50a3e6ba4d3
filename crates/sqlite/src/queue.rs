//! The durable local queue: SQS semantics on two SQLite tables.
//!
//! * `queue_messages`: messages waiting or in flight. `visible_at_ms` is the
//!   instant (unix ms, the consumer's clock) from which the message may be
//!   received; 0 means "now". Receiving sets it to `now + visibility` and
//!   increments `receive_count`; a message neither acked nor nacked before
//!   then is received again. That is how messages in flight when the
//!   process crashed or was killed come back at the next start.
//! * `queue_dead_letters`: messages moved aside with a reason, body and
//!   attributes intact, until redriven.
//!
//! Ids are `INTEGER PRIMARY KEY AUTOINCREMENT`, never reused, so a late
//! `ack` of a deleted message can never delete another one. A message moved
//! to the dead-letter table keeps its id there; a redriven message gets a
//! new id in the queue.
//!
//! # Redrive policy
//!
//! The queue does not dead-letter on its own: the consumer decides, with
//! [`Delivery::exceeds`] (SQS's `maxReceiveCount`: a message received more
//! than `max_receive_count` times is dead-lettered instead of processed),
//! or on a permanent failure, by calling [`SqliteQueue::dead_letter`].
//!
//! # Clocks
//!
//! `send_all` needs no clock (new messages are visible at once);
//! `receive`, `depth` and `in_flight` take `now_ms` from the caller, like
//! the rest of the core. Enqueue and dead-letter instants are recorded from
//! the system clock, for display only.

use std::time::{Duration, Instant};

use rusqlite::{OptionalExtension, Transaction};
use triage_core::envelope::QueuedMessage;
use triage_core::ports::{NotificationQueue, QueueError};

use crate::SqliteDb;
use crate::db::now_ms;
use crate::error::{Ctx, SqliteError};

const INSERT_MESSAGE: &str = "INSERT INTO queue_messages \
     (entry_id, body, attributes, enqueued_at_ms, visible_at_ms, receive_count, last_error) \
     VALUES (?1, ?2, ?3, ?4, 0, 0, NULL)";

pub(crate) const SELECT_VISIBLE: &str = "SELECT id, entry_id, body, attributes, receive_count, \
     enqueued_at_ms, last_error FROM queue_messages \
     WHERE visible_at_ms <= ?1 ORDER BY visible_at_ms, id LIMIT ?2";

pub(crate) const MARK_RECEIVED: &str = "UPDATE queue_messages \
     SET visible_at_ms = ?2, receive_count = receive_count + 1 WHERE id = ?1";

pub(crate) const DELETE_MESSAGE: &str = "DELETE FROM queue_messages WHERE id = ?1";

pub(crate) const MAKE_VISIBLE: &str =
    "UPDATE queue_messages SET visible_at_ms = ?2, last_error = ?3 WHERE id = ?1";

/// Like `MAKE_VISIBLE`, and the receive given back: waiting is not a failure.
pub(crate) const DEFER: &str = "UPDATE queue_messages SET visible_at_ms = ?2, last_error = ?3, \
     receive_count = max(receive_count - 1, 0) WHERE id = ?1";

pub(crate) const COPY_TO_DEAD_LETTERS: &str = "INSERT INTO queue_dead_letters \
     (id, entry_id, body, attributes, enqueued_at_ms, receive_count, reason, dead_at_ms) \
     SELECT id, entry_id, body, attributes, enqueued_at_ms, receive_count, ?2, ?3 \
     FROM queue_messages WHERE id = ?1";

pub(crate) const COUNT_VISIBLE: &str =
    "SELECT count(*) FROM queue_messages WHERE visible_at_ms <= ?1";

pub(crate) const COUNT_IN_FLIGHT: &str =
    "SELECT count(*) FROM queue_messages WHERE visible_at_ms > ?1";

const COUNT_DEAD: &str = "SELECT count(*) FROM queue_dead_letters";

const LIST_DEAD: &str = "SELECT id, reason, receive_count, attributes, enqueued_at_ms, \
     dead_at_ms FROM queue_dead_letters ORDER BY dead_at_ms, id LIMIT ?1";

pub(crate) const SELECT_DEAD: &str = "SELECT entry_id, body, attributes, enqueued_at_ms, reason \
     FROM queue_dead_letters WHERE id = ?1";

const SELECT_DEAD_IDS: &str = "SELECT id FROM queue_dead_letters ORDER BY dead_at_ms, id";

const REQUEUE: &str = "INSERT INTO queue_messages \
     (entry_id, body, attributes, enqueued_at_ms, visible_at_ms, receive_count, last_error) \
     VALUES (?1, ?2, ?3, ?4, 0, 0, ?5)";

pub(crate) const DELETE_DEAD: &str = "DELETE FROM queue_dead_letters WHERE id = ?1";

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Queue id: pass it to `ack`, `nack`, `dead_letter`.
    pub id: i64,
    /// The batch entry id it was sent with.
    pub entry_id: String,
    /// The envelope, exactly as sent.
    pub body: String,
    /// Attributes as sent: names and values, in order.
    pub attributes: Vec<(String, String)>,
    /// How many times it has been received, this time included (1 = first).
    pub receive_count: u32,
    /// When it was sent (unix ms, system clock).
    pub enqueued_at_ms: i64,
    /// The reason of the last `nack`, if any.
    pub last_error: Option<String>,
}

impl Delivery {
    /// The value of attribute `name`, if present.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// SQS's `maxReceiveCount` rule: true when this message has now been
    /// received more than `max_receive_count` times, so it should be
    /// dead-lettered instead of processed again.
    pub fn exceeds(&self, max_receive_count: u32) -> bool {
        self.receive_count > max_receive_count
    }
}

/// One dead-lettered message, without its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The id it had in the queue (and keeps in the dead-letter table).
    pub id: i64,
    pub reason: String,
    pub receive_count: u32,
    /// Routing attributes (grant id, message id, type...), as sent.
    pub attributes: Vec<(String, String)>,
    pub enqueued_at_ms: i64,
    pub dead_lettered_at_ms: i64,
}

/// Which dead letters to redrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedriveSelection {
    All,
    /// These dead-letter ids; unknown ids are skipped.
    Ids(Vec<i64>),
}

/// One redriven (or, in a dry run, redrivable) dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redriven {
    /// Its id in the dead-letter table.
    pub dead_letter_id: i64,
    /// Its new id in the queue; `None` in a dry run.
    pub queue_id: Option<i64>,
}

/// The local queue and its dead-letter table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: SqliteDb,
}

fn attributes_json(attributes: &[(&'static str, String)]) -> Result<String, SqliteError> {
    serde_json::to_string(attributes).map_err(|source| SqliteError::Encode {
        context: "queue attributes".into(),
        source,
    })
}

fn parse_attributes(text: &str, id: i64) -> Result<Vec<(String, String)>, SqliteError> {
    serde_json::from_str(text).map_err(|e| SqliteError::Corrupt {
        context: format!("queue message {id}"),
        detail: format!("attributes: {e}"),
    })
}

fn count_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SqliteQueue {
    /// The queue in `db`.
    pub fn new(db: SqliteDb) -> Self {
        SqliteQueue { db }
    }

    /// The database it lives in.
    pub fn db(&self) -> &SqliteDb {
        &self.db
    }

    /// Receive up to `max` visible messages, oldest first, and hide them
    /// until `now_ms + visibility` (each one's `receive_count` grows by 1).
    /// Concurrent receivers, in this process or others, never get the same
    /// message while it is hidden.
    pub async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        now_ms: i64,
    ) -> Result<Vec<Delivery>, SqliteError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let until = now_ms.saturating_add(ms(visibility)).max(1);
        self.db
            .write("receive from queue".into(), move |tx| {
                let ctx = || "receive from queue".to_string();
                let mut raw = Vec::new();
                {
                    let mut st = tx.prepare_cached(SELECT_VISIBLE).ctx(ctx)?;
                    let mut rows = st.query((now_ms, limit)).ctx(ctx)?;
                    while let Some(r) = rows.next().ctx(ctx)? {
                        raw.push((
                            r.get::<_, i64>(0).ctx(ctx)?,
                            r.get::<_, String>(1).ctx(ctx)?,
                            r.get::<_, String>(2).ctx(ctx)?,
                            r.get::<_, String>(3).ctx(ctx)?,
                            r.get::<_, i64>(4).ctx(ctx)?,
                            r.get::<_, i64>(5).ctx(ctx)?,
                            r.get::<_, Option<String>>(6).ctx(ctx)?,
                        ));
                    }
                }
                let mut out = Vec::with_capacity(raw.len());
                let mut mark = tx.prepare_cached(MARK_RECEIVED).ctx(ctx)?;
                for (id, entry_id, body, attributes, count, enqueued_at_ms, last_error) in raw {
                    mark.execute((id, until)).ctx(ctx)?;
                    out.push(Delivery {
                        id,
                        entry_id,
                        body,
                        attributes: parse_attributes(&attributes, id)?,
                        receive_count: count_u32(count.saturating_add(1)),
                        enqueued_at_ms,
                        last_error,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// Delete a processed message. `false` when it was not in the queue
    /// (already acked, or dead-lettered).
    pub async fn ack(&self, id: i64) -> Result<bool, SqliteError> {
        self.db
            .write(format!("ack queue message {id}"), move |tx| {
                let n = tx
                    .prepare_cached(DELETE_MESSAGE)
                    .and_then(|mut st| st.execute([id]))
                    .ctx(|| format!("ack queue message {id}"))?;
                Ok(n > 0)
            })
            .await
    }

    /// Make a message visible again at once, keeping `reason` as its
    /// `last_error`. `false` when it is not in the queue.
    pub async fn nack(&self, id: i64, reason: &str) -> Result<bool, SqliteError> {
        self.nack_until(id, reason, 0).await
    }

    /// Make a message visible again from `visible_at_ms` (unix ms; a retry
    /// delay), keeping `reason` as its `last_error`.
    pub async fn nack_until(
        &self,
        id: i64,
        reason: &str,
        visible_at_ms: i64,
    ) -> Result<bool, SqliteError> {
        self.hide(MAKE_VISIBLE, "nack", id, reason, visible_at_ms)
            .await
    }

    /// Run one of the visibility updates (`MAKE_VISIBLE`, `DEFER`).
    async fn hide(
        &self,
        sql: &'static str,
        what: &'static str,
        id: i64,
        reason: &str,
        visible_at_ms: i64,
    ) -> Result<bool, SqliteError> {
        let reason = reason.to_string();
        self.db
            .write(format!("{what} queue message {id}"), move |tx| {
                let n = tx
                    .prepare_cached(sql)
                    .and_then(|mut st| st.execute((id, visible_at_ms, &reason)))
                    .ctx(|| format!("{what} queue message {id}"))?;
                Ok(n > 0)
            })
            .await
    }

    /// Hide a message until `visible_at_ms` and give back the receive that
    /// delivered it: for a message that must wait (another worker holds its
    /// claim, the provider asked for time), so waiting never counts toward
    /// dead-lettering. `false` when it is not in the queue.
    pub async fn defer(
        &self,
        id: i64,
        reason: &str,
        visible_at_ms: i64,
    ) -> Result<bool, SqliteError> {
        self.hide(DEFER, "defer", id, reason, visible_at_ms).await
    }

    /// Move a message to the dead-letter table with `reason`, body,
    /// attributes and receive count intact. `false` when it is not in the
    /// queue.
    pub async fn dead_letter(&self, id: i64, reason: &str) -> Result<bool, SqliteError> {
        let reason = reason.to_string();
        self.db
            .write(format!("dead-letter queue message {id}"), move |tx| {
                let ctx = || format!("dead-letter queue message {id}");
                let copied = tx
                    .prepare_cached(COPY_TO_DEAD_LETTERS)
                    .and_then(|mut st| st.execute((id, &reason, now_ms())))
                    .ctx(ctx)?;
                if copied == 0 {
                    return Ok(false);
                }
                tx.prepare_cached(DELETE_MESSAGE)
                    .and_then(|mut st| st.execute([id]))
                    .ctx(ctx)?;
                Ok(true)
            })
            .await
    }

    /// Messages visible at `now_ms` (waiting to be received).
    pub async fn depth(&self, now_ms: i64) -> Result<u64, SqliteError> {
        self.count("queue depth", COUNT_VISIBLE, Some(now_ms)).await
    }

    /// Messages received and hidden at `now_ms` (being processed, or
    /// abandoned by a crashed consumer until their visibility ends).
    pub async fn in_flight(&self, now_ms: i64) -> Result<u64, SqliteError> {
        self.count("queue in flight", COUNT_IN_FLIGHT, Some(now_ms))
            .await
    }

    /// Messages in the dead-letter table.
    pub async fn dlq_depth(&self) -> Result<u64, SqliteError> {
        self.count("dead-letter depth", COUNT_DEAD, None).await
    }

    async fn count(
        &self,
        what: &'static str,
        sql: &'static str,
        now_ms: Option<i64>,
    ) -> Result<u64, SqliteError> {
        self.db
            .read(what, move |conn| {
                let mut st = conn.prepare_cached(sql).ctx(|| what.into())?;
                let n: i64 = match now_ms {
                    Some(now) => st.query_row([now], |r| r.get(0)),
                    None => st.query_row([], |r| r.get(0)),
                }
                .ctx(|| what.into())?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    /// Up to `limit` dead letters, oldest first: ids, reasons, receive
    /// counts and attributes, never bodies.
    pub async fn dlq_list(&self, limit: usize) -> Result<Vec<DeadLetter>, SqliteError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .read("list dead letters", move |conn| {
                let ctx = || "list dead letters".to_string();
                let mut st = conn.prepare_cached(LIST_DEAD).ctx(ctx)?;
                let mut rows = st.query([limit]).ctx(ctx)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().ctx(ctx)? {
                    let id: i64 = r.get(0).ctx(ctx)?;
                    let attributes: String = r.get(3).ctx(ctx)?;
                    out.push(DeadLetter {
                        id,
                        reason: r.get(1).ctx(ctx)?,
                        receive_count: count_u32(r.get(2).ctx(ctx)?),
                        attributes: parse_attributes(&attributes, id)?,
                        enqueued_at_ms: r.get(4).ctx(ctx)?,
                        dead_lettered_at_ms: r.get(5).ctx(ctx)?,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// Move dead letters back to the queue (visible at once, receive count
    /// reset to 0, the dead-letter reason kept as `last_error`), in one
    /// transaction. With `dry_run`, change nothing and report what would
    /// move (`queue_id: None`).
    pub async fn dlq_redrive(
        &self,
        selection: RedriveSelection,
        dry_run: bool,
    ) -> Result<Vec<Redriven>, SqliteError> {
        self.db
            .write("redrive dead letters".into(), move |tx| {
                redrive_in(tx, &selection, dry_run)
            })
            .await
    }
}

fn redrive_in(
    tx: &Transaction<'_>,
    selection: &RedriveSelection,
    dry_run: bool,
) -> Result<Vec<Redriven>, SqliteError> {
    let ctx = || "redrive dead letters".to_string();
    let ids: Vec<i64> = match selection {
        RedriveSelection::All => {
            let mut st = tx.prepare_cached(SELECT_DEAD_IDS).ctx(ctx)?;
            let rows = st.query_map([], |r| r.get(0)).ctx(ctx)?;
            rows.collect::<Result<_, _>>().ctx(ctx)?
        }
        RedriveSelection::Ids(ids) => {
            let mut unique = Vec::with_capacity(ids.len());
            for id in ids {
                if !unique.contains(id) {
                    unique.push(*id);
                }
            }
            unique
        }
    };
    let mut out = Vec::new();
    for id in ids {
        let row: Option<(String, String, String, i64, String)> = tx
            .prepare_cached(SELECT_DEAD)
            .and_then(|mut st| {
                st.query_row([id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()
            })
            .ctx(ctx)?;
        let Some((entry_id, body, attributes, enqueued_at_ms, reason)) = row else {
            continue;
        };
        if dry_run {
            out.push(Redriven {
                dead_letter_id: id,
                queue_id: None,
            });
            continue;
        }
        tx.prepare_cached(REQUEUE)
            .and_then(|mut st| st.execute((&entry_id, &body, &attributes, enqueued_at_ms, &reason)))
            .ctx(ctx)?;
        let queue_id = tx.last_insert_rowid();
        tx.prepare_cached(DELETE_DEAD)
            .and_then(|mut st| st.execute([id]))
            .ctx(ctx)?;
        out.push(Redriven {
            dead_letter_id: id,
            queue_id: Some(queue_id),
        });
    }
    Ok(out)
}

impl SqliteQueue {
    /// [`send_all`](NotificationQueue::send_all), answering by `deadline`:
    /// `Ok` means all messages are committed; an error (a
    /// [`QueueError::Timeout`] when time ran out) means none are, even if
    /// the write lock frees up later. For callers that owe someone an answer
    /// in time (the local webhook endpoint).
    pub async fn send_all_by(
        &self,
        messages: &[QueuedMessage],
        deadline: Instant,
    ) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        let rows = rows(messages)?;
        let (n, bytes) = (rows.len(), size(&rows));
        self.db
            .write_by(
                deadline,
                format!("send {n} messages to queue"),
                bytes,
                move |tx| insert_rows(tx, &rows),
            )
            .await?;
        tracing::debug!(messages = n, "queued locally");
        Ok(())
    }
}

type Row = (String, String, String);

fn rows(messages: &[QueuedMessage]) -> Result<Vec<Row>, QueueError> {
    let mut rows = Vec::with_capacity(messages.len());
    for m in messages {
        rows.push((
            m.entry_id.clone(),
            m.body.clone(),
            attributes_json(&m.attributes)?,
        ));
    }
    Ok(rows)
}

/// The payload of `rows`, for the group commit's byte budget.
fn size(rows: &[Row]) -> usize {
    rows.iter()
        .map(|(entry_id, body, attributes)| entry_id.len() + body.len() + attributes.len())
        .sum()
}

fn insert_rows(tx: &Transaction<'_>, rows: &[Row]) -> Result<(), SqliteError> {
    let n = rows.len();
    let ctx = || format!("send {n} messages to queue");
    let now = now_ms();
    let mut st = tx.prepare_cached(INSERT_MESSAGE).ctx(ctx)?;
    for (entry_id, body, attributes) in rows {
        st.execute((entry_id, body, attributes, now)).ctx(ctx)?;
    }
    Ok(())
}

impl NotificationQueue for SqliteQueue {
    /// All messages in one transaction: `Ok` means all are committed to the
    /// file (WAL, `synchronous=FULL`); any error means none are.
    async fn send_all(&self, messages: &[QueuedMessage]) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        let rows = rows(messages)?;
        let (n, bytes) = (rows.len(), size(&rows));
        self.db
            .write_sized(format!("send {n} messages to queue"), bytes, move |tx| {
                insert_rows(tx, &rows)
            })
            .await?;
        tracing::debug!(messages = n, "queued locally");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceeds_follows_max_receive_count() {
        let d = Delivery {
            id: 1,
            entry_id: "e".into(),
            body: String::new(),
            attributes: vec![("a".into(), "1".into())],
            receive_count: 3,
            enqueued_at_ms: 0,
            last_error: None,
        };
        assert!(!d.exceeds(3));
        assert!(d.exceeds(2));
        assert_eq!(d.attribute("a"), Some("1"));
        assert_eq!(d.attribute("b"), None);
    }
}
