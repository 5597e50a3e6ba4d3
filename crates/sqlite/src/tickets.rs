//! Tickets with threading and idempotent writes, with the semantics of the
//! DynamoDB adapter.
//!
//! # Tables
//!
//! * `tickets`: one row per ticket, every [`Ticket`] field a column of the
//!   same name; `requester`, `to`, `cc`, `message_ids`, `attachments`,
//!   `applied_rules` and `thread_keys` hold JSON text; a missing `thread_id`
//!   is NULL; `priority` and `status` hold the enums' names (`high`, `new`:
//!   [`Priority::as_str`](triage_core::ticket::Priority::as_str),
//!   [`TicketStatus::as_str`](triage_core::ticket::TicketStatus::as_str)).
//!   A row whose priority or status names no known value is unreadable:
//!   `list` skips it with a warning.
//! * `ticket_pointers`: `(grant_id, kind, ptr_key) -> ticket_id`, where
//!   `kind` is `thread` (provider thread id), `msgid` (an RFC
//!   `Message-ID`/`In-Reply-To`/`References` value from `thread_keys`) or
//!   `seen` (a message appended to a ticket: its message id). Pointers are
//!   written once and never change: the first ticket to claim a key keeps it.
//! * `ticket_subjects`: `(grant_id, subject_key) -> ticket_id`, the newest
//!   ticket with a normalised subject ([`crate::threading`]).
//!
//! # Writing a message
//!
//! One `BEGIN IMMEDIATE` transaction (so concurrent writers, in this process
//! or others, are serialized by SQLite's write lock and no retry loop is
//! needed):
//!
//! 1. A ticket whose id is `ticket.id` exists: the message already opened
//!    it (a redelivery) -> `AlreadyRecorded` (missing pointers are added).
//! 2. Otherwise the target is, in this order, the ticket pinned by the
//!    message's `seen` pointer, the thread pointer's, or the first thread
//!    key pointer's. Pin the message to the target; if the target's
//!    `message_ids` already holds the message -> `AlreadyRecorded`, else
//!    append it (`message_count + 1`) -> `Appended` with the signal that
//!    found it. In both cases `last_message_at = max(old, new)` and the
//!    missing pointers are added.
//! 3. No pointer at all: the ticket its subject's reference names, else the
//!    one its subject pointer names ([`crate::threading`]), goes to the
//!    core's `threading::decide`: an append as in 2, or
//! 4. a new ticket: insert it (its `message_ids` made to hold the opening
//!    message, `message_count` at least their number, a refused
//!    candidate's reason in `applied_rules`), its thread and thread-key
//!    pointers, and point its subject pointer at it -> `Created`.
//!
//! Every lookup is by primary key, so a write costs the same however many
//! tickets are stored.
//!
//! # Listing
//!
//! `list` filters with SQL on `queue`, `priority`, `status` and orders by
//! `created_at` descending then `id`, each served by an index.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, Row, Transaction};
use serde::Serialize;
use serde::de::DeserializeOwned;
use triage_core::ports::{StoreError, TicketFilter, TicketStore};
use triage_core::threading::{self, Decision, Signal};
use triage_core::ticket::{Ticket, TicketWrite};

use crate::SqliteStore;
use crate::error::{Ctx, SqliteError};

const KIND_THREAD: &str = "thread";
const KIND_MSGID: &str = "msgid";
const KIND_SEEN: &str = "seen";

pub(crate) const SELECT_TICKET_EXISTS: &str = "SELECT 1 FROM tickets WHERE id = ?1";

pub(crate) const SELECT_POINTER: &str = "SELECT ticket_id FROM ticket_pointers \
     WHERE grant_id = ?1 AND kind = ?2 AND ptr_key = ?3";

const INSERT_POINTER: &str = "INSERT OR IGNORE INTO ticket_pointers \
     (grant_id, kind, ptr_key, ticket_id) VALUES (?1, ?2, ?3, ?4)";

pub(crate) const SELECT_APPEND_STATE: &str =
    "SELECT message_ids, message_count FROM tickets WHERE id = ?1";

pub(crate) const UPDATE_APPEND: &str = "UPDATE tickets SET message_ids = ?2, \
     message_count = ?3, last_message_at = max(last_message_at, ?4) WHERE id = ?1";

pub(crate) const UPDATE_LAST_MESSAGE_AT: &str =
    "UPDATE tickets SET last_message_at = ?2 WHERE id = ?1 AND last_message_at < ?2";

const INSERT_TICKET: &str = r#"INSERT INTO tickets (id, grant_id, message_id, thread_id,
    subject, requester, "to", cc, category, queue, priority, status, received_at,
    created_at, last_message_at, message_count, message_ids, snippet, attachments,
    applied_rules, thread_keys, recipients_omitted, attachments_omitted, language, sender)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
    ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)"#;

const TICKET_COLUMNS: &str = r#"id, grant_id, message_id, thread_id, subject, requester,
    "to", cc, category, queue, priority, status, received_at, created_at,
    last_message_at, message_count, message_ids, snippet, attachments, applied_rules,
    thread_keys, recipients_omitted, attachments_omitted, language, sender"#;

/// The list query for a filter: only the given conditions, so the planner
/// can use the matching index.
pub(crate) fn list_sql(filter: &TicketFilter) -> String {
    let mut sql = format!("SELECT {TICKET_COLUMNS} FROM tickets");
    let mut n = 0;
    let and = |sql: &mut String, n: usize| sql.push_str(if n == 1 { " WHERE " } else { " AND " });
    for (column, value) in [
        ("queue", filter.queue.as_deref()),
        ("priority", filter.priority.map(|p| p.as_str())),
        ("status", filter.status.map(|st| st.as_str())),
    ] {
        if value.is_some() {
            n += 1;
            and(&mut sql, n);
            sql.push_str(&format!("{column} = ?{n}"));
        }
    }
    if filter.after.is_some() {
        // After the cursor in `listing::newest_first` order.
        n += 1;
        and(&mut sql, n);
        let (at, id) = (n, n + 1);
        sql.push_str(&format!(
            "(created_at < ?{at} OR (created_at = ?{at} AND id > ?{id}))"
        ));
    }
    sql.push_str(" ORDER BY created_at DESC, id");
    if let Some(limit) = filter.limit {
        // A number, not user text: safe to write into the statement.
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    sql
}

/// The values for [`list_sql`]'s parameters, in order.
pub(crate) fn list_params(filter: &TicketFilter) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    let mut values: Vec<Value> = [
        filter.queue.as_deref(),
        filter.priority.map(|p| p.as_str()),
        filter.status.map(|st| st.as_str()),
    ]
    .into_iter()
    .flatten()
    .map(|v| Value::Text(v.to_string()))
    .collect();
    if let Some(c) = &filter.after {
        values.push(Value::Integer(c.created_at));
        values.push(Value::Text(c.id.clone()));
    }
    values
}

/// The pointers one message touches.
struct Keys {
    grant: String,
    thread: Option<String>,
    /// Thread keys, trimmed, non-empty, deduplicated, in the message's order.
    msgids: Vec<String>,
}

impl Keys {
    fn of(ticket: &Ticket) -> Keys {
        let thread = ticket
            .thread_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let mut seen = HashSet::new();
        let msgids = ticket
            .thread_keys
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty() && seen.insert(*k))
            .map(str::to_string)
            .collect();
        Keys {
            grant: ticket.grant_id.clone(),
            thread,
            msgids,
        }
    }

    /// Every thread pointer (thread first), as `(kind, key)`.
    fn pointers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.thread
            .iter()
            .map(|t| (KIND_THREAD, t.as_str()))
            .chain(self.msgids.iter().map(|k| (KIND_MSGID, k.as_str())))
    }
}

fn pointer(
    tx: &Transaction<'_>,
    grant: &str,
    kind: &str,
    key: &str,
) -> rusqlite::Result<Option<String>> {
    tx.prepare_cached(SELECT_POINTER)?
        .query_row((grant, kind, key), |r| r.get(0))
        .optional()
}

fn put_pointer(
    tx: &Transaction<'_>,
    grant: &str,
    kind: &str,
    key: &str,
    ticket_id: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(INSERT_POINTER)?
        .execute((grant, kind, key, ticket_id))?;
    Ok(())
}

fn put_pointers(tx: &Transaction<'_>, keys: &Keys, ticket_id: &str) -> rusqlite::Result<()> {
    for (kind, key) in keys.pointers() {
        put_pointer(tx, &keys.grant, kind, key, ticket_id)?;
    }
    Ok(())
}

fn to_json<T: Serialize + ?Sized>(value: &T, context: &str) -> Result<String, SqliteError> {
    serde_json::to_string(value).map_err(|source| SqliteError::Encode {
        context: context.to_string(),
        source,
    })
}

/// The signal a pointer of this kind stands for.
fn signal_of(kind: &str) -> Signal {
    if kind == KIND_THREAD {
        Signal::ThreadId
    } else {
        Signal::MessageId
    }
}

/// The whole write, inside the caller's transaction. A new ticket that
/// threading refused a candidate for records why in `ticket.applied_rules`
/// (so the event, built from `ticket`, carries it too).
fn write_in(tx: &Transaction<'_>, ticket: &mut Ticket) -> Result<TicketWrite, SqliteError> {
    let context = format!("write ticket {}", ticket.id);
    let ctx = || context.clone();
    let keys = Keys::of(ticket);

    let exists = tx
        .prepare_cached(SELECT_TICKET_EXISTS)
        .and_then(|mut st| st.exists([&ticket.id]))
        .ctx(ctx)?;
    if exists {
        put_pointers(tx, &keys, &ticket.id).ctx(ctx)?;
        return Ok(TicketWrite::AlreadyRecorded {
            ticket_id: ticket.id.clone(),
        });
    }

    let pinned = pointer(tx, &keys.grant, KIND_SEEN, &ticket.message_id).ctx(ctx)?;
    let mut header = None;
    for (kind, key) in keys.pointers() {
        if let Some(t) = pointer(tx, &keys.grant, kind, key).ctx(ctx)? {
            header = Some((t, signal_of(kind)));
            break;
        }
    }
    let target = match (&pinned, header) {
        (Some(pinned), header) => {
            let thread = header.is_some_and(|(t, sig)| sig == Signal::ThreadId && &t == pinned);
            Some((pinned.clone(), Signal::of_pin(thread)))
        }
        (None, header) => header,
    };
    if let Some((target, signal)) = target {
        return append(tx, ticket, &keys, pinned.is_none(), target, signal);
    }

    let lookups = threading::lookups(ticket);
    let found = crate::threading::weak_candidate(tx, ticket, &lookups)?;
    match threading::decide(ticket, found.as_ref().map(|(sig, c)| (*sig, c))) {
        Decision::Append { ticket_id, signal } => {
            append(tx, ticket, &keys, true, ticket_id, signal)
        }
        Decision::New {
            rule,
            claims_subject,
        } => {
            if let Some(rule) = rule {
                threading::record(&mut ticket.applied_rules, rule);
            }
            create(tx, ticket, &keys)?;
            if let Some(key) = lookups.subject.as_ref().filter(|_| claims_subject) {
                crate::threading::put_subject(tx, &keys.grant, key, &ticket.id)?;
            }
            Ok(TicketWrite::Created {
                ticket_id: ticket.id.clone(),
            })
        }
    }
}

fn append(
    tx: &Transaction<'_>,
    ticket: &Ticket,
    keys: &Keys,
    pin: bool,
    target: String,
    signal: Signal,
) -> Result<TicketWrite, SqliteError> {
    let context = format!("append {} to ticket {target}", ticket.id);
    let ctx = || context.clone();
    if pin {
        put_pointer(tx, &keys.grant, KIND_SEEN, &ticket.message_id, &target).ctx(ctx)?;
    }
    let state: Option<(String, i64)> = tx
        .prepare_cached(SELECT_APPEND_STATE)
        .and_then(|mut st| {
            st.query_row([&target], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .ctx(ctx)?;
    let Some((ids_json, count)) = state else {
        return Err(SqliteError::Inconsistent(format!(
            "{context}: a pointer names a ticket that does not exist"
        )));
    };
    let mut ids: Vec<String> =
        serde_json::from_str(&ids_json).map_err(|e| SqliteError::Corrupt {
            context: context.clone(),
            detail: format!("message_ids: {e}"),
        })?;

    let outcome = if ids.iter().any(|m| m == &ticket.message_id) {
        tx.prepare_cached(UPDATE_LAST_MESSAGE_AT)
            .and_then(|mut st| st.execute((&target, ticket.last_message_at)))
            .ctx(ctx)?;
        TicketWrite::AlreadyRecorded {
            ticket_id: target.clone(),
        }
    } else {
        ids.push(ticket.message_id.clone());
        let ids_json = to_json(&ids, &context)?;
        tx.prepare_cached(UPDATE_APPEND)
            .and_then(|mut st| {
                st.execute((
                    &target,
                    &ids_json,
                    count.saturating_add(1),
                    ticket.last_message_at,
                ))
            })
            .ctx(ctx)?;
        TicketWrite::Appended {
            ticket_id: target.clone(),
            signal,
        }
    };
    put_pointers(tx, keys, &target).ctx(ctx)?;
    Ok(outcome)
}

fn create(tx: &Transaction<'_>, ticket: &Ticket, keys: &Keys) -> Result<(), SqliteError> {
    let context = format!("create ticket {}", ticket.id);
    let mut ids = ticket.message_ids.clone();
    if !ids.contains(&ticket.message_id) {
        ids.insert(0, ticket.message_id.clone());
    }
    let listed = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    let count = ticket.message_count.max(listed);
    let params: [&dyn rusqlite::ToSql; 25] = [
        &ticket.id,
        &ticket.grant_id,
        &ticket.message_id,
        &ticket.thread_id,
        &ticket.subject,
        &to_json(&ticket.requester, &context)?,
        &to_json(&ticket.to, &context)?,
        &to_json(&ticket.cc, &context)?,
        &ticket.category,
        &ticket.queue,
        &ticket.priority.as_str(),
        &ticket.status.as_str(),
        &ticket.received_at,
        &ticket.created_at,
        &ticket.last_message_at,
        &i64::from(count),
        &to_json(&ids, &context)?,
        &ticket.snippet,
        &to_json(&ticket.attachments, &context)?,
        &to_json(&ticket.applied_rules, &context)?,
        &to_json(&ticket.thread_keys, &context)?,
        &ticket.recipients_omitted,
        &ticket.attachments_omitted,
        &ticket.language,
        &ticket.sender,
    ];
    let ctx = || context.clone();
    tx.prepare_cached(INSERT_TICKET)
        .and_then(|mut st| st.execute(&params[..]))
        .ctx(ctx)?;
    put_pointers(tx, keys, &ticket.id).ctx(ctx)?;
    Ok(())
}

fn json_col<T: DeserializeOwned>(row: &Row<'_>, i: usize, name: &str) -> Result<T, String> {
    let text: String = row.get(i).map_err(|e| format!("{name}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))
}

fn col<T: rusqlite::types::FromSql>(row: &Row<'_>, i: usize, name: &str) -> Result<T, String> {
    row.get(i).map_err(|e| format!("{name}: {e}"))
}

/// A text column holding an enum's name (priority, status), read exactly as
/// serde reads it from a ticket's JSON or a DynamoDB item: the stored name,
/// nothing else.
fn name_col<T: DeserializeOwned>(row: &Row<'_>, i: usize, name: &str) -> Result<T, String> {
    let text: String = col(row, i, name)?;
    serde_json::from_value(serde_json::Value::String(text)).map_err(|e| format!("{name}: {e}"))
}

/// One `tickets` row (columns in [`TICKET_COLUMNS`] order). A priority or
/// status that names no known value makes the row unreadable.
fn row_to_ticket(row: &Row<'_>) -> Result<Ticket, String> {
    let count: i64 = col(row, 15, "message_count")?;
    Ok(Ticket {
        id: col(row, 0, "id")?,
        grant_id: col(row, 1, "grant_id")?,
        message_id: col(row, 2, "message_id")?,
        thread_id: col(row, 3, "thread_id")?,
        subject: col(row, 4, "subject")?,
        requester: json_col(row, 5, "requester")?,
        to: json_col(row, 6, "to")?,
        cc: json_col(row, 7, "cc")?,
        category: col(row, 8, "category")?,
        queue: col(row, 9, "queue")?,
        priority: name_col(row, 10, "priority")?,
        status: name_col(row, 11, "status")?,
        received_at: col(row, 12, "received_at")?,
        created_at: col(row, 13, "created_at")?,
        last_message_at: col(row, 14, "last_message_at")?,
        message_count: u32::try_from(count).map_err(|e| format!("message_count: {e}"))?,
        message_ids: json_col(row, 16, "message_ids")?,
        snippet: col(row, 17, "snippet")?,
        attachments: json_col(row, 18, "attachments")?,
        applied_rules: json_col(row, 19, "applied_rules")?,
        thread_keys: json_col(row, 20, "thread_keys")?,
        recipients_omitted: col(row, 21, "recipients_omitted")?,
        attachments_omitted: col(row, 22, "attachments_omitted")?,
        language: col(row, 23, "language")?,
        sender: col(row, 24, "sender")?,
    })
}

impl TicketStore for SqliteStore {
    async fn write(&self, ticket: &Ticket) -> Result<TicketWrite, StoreError> {
        let mut t = ticket.clone();
        let written = self
            .db
            .write(format!("write ticket {}", ticket.id), move |tx| {
                let written = write_in(tx, &mut t)?;
                crate::outbox::record(tx, &t, &written)?;
                Ok(written)
            })
            .await?;
        tracing::debug!(ticket = %written.ticket_id(), message = %ticket.message_id, ?written, "ticket write");
        Ok(written)
    }

    async fn list(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        let sql = list_sql(filter);
        let values = list_params(filter);
        let tickets = self
            .db
            .read("list tickets", move |conn| {
                let ctx = || "list tickets".to_string();
                let mut stmt = conn.prepare_cached(&sql).ctx(ctx)?;
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(values.iter()))
                    .ctx(ctx)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().ctx(ctx)? {
                    match row_to_ticket(row) {
                        Ok(t) => out.push(t),
                        Err(detail) => {
                            let id: String = row.get(0).unwrap_or_default();
                            tracing::warn!(ticket = %id, %detail, "unreadable ticket row skipped");
                        }
                    }
                }
                Ok(out)
            })
            .await?;
        Ok(tickets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_core::ticket::{Priority, TicketStatus};

    #[test]
    fn list_sql_has_only_given_conditions() {
        assert_eq!(
            list_sql(&TicketFilter::default()),
            format!("SELECT {TICKET_COLUMNS} FROM tickets ORDER BY created_at DESC, id")
        );
        let sql = list_sql(&TicketFilter {
            queue: Some("q".into()),
            priority: None,
            status: Some(TicketStatus::New),
            limit: Some(50),
            after: None,
        });
        assert!(
            sql.ends_with("WHERE queue = ?1 AND status = ?2 ORDER BY created_at DESC, id LIMIT 50")
        );
        let sql = list_sql(&TicketFilter {
            queue: Some("q".into()),
            after: Some(triage_core::listing::Cursor {
                created_at: 5,
                id: "t_00".into(),
            }),
            ..Default::default()
        });
        assert!(
            sql.ends_with(
                "WHERE queue = ?1 AND (created_at < ?2 OR (created_at = ?2 AND id > ?3)) \
                 ORDER BY created_at DESC, id"
            ),
            "{sql}"
        );
    }

    #[test]
    fn keys_are_trimmed_and_deduplicated() {
        let mut t = triage_testkit_free_ticket();
        t.thread_id = Some("  ".into());
        t.thread_keys = vec![" a@x ".into(), "a@x".into(), "".into(), "b@x".into()];
        let k = Keys::of(&t);
        assert_eq!(k.thread, None);
        assert_eq!(k.msgids, vec!["a@x", "b@x"]);
    }

    fn triage_testkit_free_ticket() -> Ticket {
        Ticket {
            id: "t_1".into(),
            grant_id: "g".into(),
            message_id: "m".into(),
            thread_id: None,
            subject: String::new(),
            requester: Default::default(),
            sender: None,
            to: vec![],
            cc: vec![],
            category: String::new(),
            queue: String::new(),
            priority: Priority::Low,
            status: TicketStatus::New,
            received_at: 0,
            created_at: 0,
            last_message_at: 0,
            message_count: 1,
            message_ids: vec!["m".into()],
            snippet: String::new(),
            attachments: vec![],
            applied_rules: vec![],
            thread_keys: vec![],
            recipients_omitted: 0,
            attachments_omitted: 0,
            language: None,
        }
    }
}
