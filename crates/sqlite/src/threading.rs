//! Threading's lookups for a message no thread or header pointer placed
//! (the rules are the core's [`triage_core::threading`]; this only finds
//! the candidate it decides on), inside the ticket write's transaction.
//!
//! * `ticket_subjects`: `(grant_id, subject_key) -> ticket_id`, the ticket
//!   most recently created with that normalised subject (`subject_key` is
//!   [`triage_core::threading::subject_key`]: a digest, no subject text).
//!   Unlike the write-once `ticket_pointers`, a new ticket with the subject
//!   takes the pointer over.
//! * The candidate is read from `tickets` by id and grant: the fields the
//!   participant check and the window need (requester, sender, `to`, `cc`,
//!   `last_message_at`). A reference to a ticket of another grant, or to
//!   none, finds nothing, and the subject is looked at next.
//!
//! The write runs in one `BEGIN IMMEDIATE` transaction, so the lookup and
//! the create or append it leads to see no concurrent change: two messages
//! of one new subject written at once are serialised, and the second finds
//! the ticket the first created.

use rusqlite::{OptionalExtension, Transaction};
use triage_core::threading::{Candidate, Lookups, Signal};
use triage_core::ticket::Ticket;

use crate::error::{Ctx, SqliteError};

pub(crate) const SELECT_CANDIDATE: &str = r#"SELECT id, grant_id, requester, "to", cc, sender,
    last_message_at FROM tickets WHERE id = ?1 AND grant_id = ?2"#;

pub(crate) const SELECT_SUBJECT: &str =
    "SELECT ticket_id FROM ticket_subjects WHERE grant_id = ?1 AND subject_key = ?2";

const UPSERT_SUBJECT: &str = "INSERT INTO ticket_subjects (grant_id, subject_key, ticket_id) \
     VALUES (?1, ?2, ?3) ON CONFLICT (grant_id, subject_key) DO UPDATE SET ticket_id = ?3";

/// The first candidate of the message's weak signals: the ticket its
/// subject refers to, else the one its subject pointer names.
pub(crate) fn weak_candidate(
    tx: &Transaction<'_>,
    ticket: &Ticket,
    lookups: &Lookups,
) -> Result<Option<(Signal, Candidate)>, SqliteError> {
    let grant = &ticket.grant_id;
    if let Some(id) = &lookups.reference
        && let Some(c) = candidate(tx, id, grant)?
    {
        return Ok(Some((Signal::TicketRef, c)));
    }
    let Some(key) = &lookups.subject else {
        return Ok(None);
    };
    let context = || format!("subject pointer for ticket {}", ticket.id);
    let pointed: Option<String> = tx
        .prepare_cached(SELECT_SUBJECT)
        .and_then(|mut st| st.query_row((grant, key), |r| r.get(0)).optional())
        .ctx(context)?;
    match pointed {
        Some(id) => Ok(candidate(tx, &id, grant)?.map(|c| (Signal::Subject, c))),
        None => Ok(None),
    }
}

/// Point the subject pointer `key` of `grant` at `ticket_id`.
pub(crate) fn put_subject(
    tx: &Transaction<'_>,
    grant: &str,
    key: &str,
    ticket_id: &str,
) -> Result<(), SqliteError> {
    tx.prepare_cached(UPSERT_SUBJECT)
        .and_then(|mut st| st.execute((grant, key, ticket_id)))
        .ctx(|| format!("subject pointer of ticket {ticket_id}"))?;
    Ok(())
}

/// Ticket `id` of `grant` as a candidate, if it exists.
fn candidate(
    tx: &Transaction<'_>,
    id: &str,
    grant: &str,
) -> Result<Option<Candidate>, SqliteError> {
    let context = format!("read candidate ticket {id}");
    type Row = (String, String, String, String, String, Option<String>, i64);
    let row: Option<Row> = tx
        .prepare_cached(SELECT_CANDIDATE)
        .and_then(|mut st| {
            st.query_row((id, grant), |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .optional()
        })
        .ctx(|| context.clone())?;
    let Some((id, grant_id, requester, to, cc, sender, last_message_at)) = row else {
        return Ok(None);
    };
    Ok(Some(Candidate {
        id,
        grant_id,
        requester: from_json(&requester, "requester", &context)?,
        to: from_json(&to, "to", &context)?,
        cc: from_json(&cc, "cc", &context)?,
        sender,
        last_message_at,
    }))
}

/// A JSON column; on failure the shape of the error, never the value (it
/// may hold an address).
fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    name: &str,
    context: &str,
) -> Result<T, SqliteError> {
    serde_json::from_str(text).map_err(|e| SqliteError::Corrupt {
        context: context.to_string(),
        detail: format!(
            "{name}: {:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}
