//! Threading's lookups and writes in the tickets table (the rules are the
//! core's [`triage_core::threading`]; this finds the candidate it decides
//! on and keeps the subject pointers).
//!
//! * Subject pointer `subject#<grant_id>#<subject key>` (`ticket_id`,
//!   `kind`): the ticket most recently created with that normalised subject
//!   (the key is a digest: no subject text in keys). It is read in the
//!   write's first `BatchGetItem` and claimed by the create, conditioned on
//!   the value that read saw (`attribute_not_exists(pk)`, or
//!   `ticket_id = :seen`). So a ticket is created only by a writer whose
//!   decision was made on the current pointer: of two messages of one new
//!   subject written at once, one create undoes its claims and its next
//!   round finds the other's ticket (and appends, when the decision says
//!   so). One item per new ticket with a subject that threads: +1 WCU.
//! * The candidate is read from the ticket item (`GetItem`, consistent,
//!   projected on `id`, `grant_id`, `requester`, `to`, `cc`, `sender`,
//!   `last_message_at`), not kept on the pointer: the window needs the
//!   ticket's `last_message_at`, which every append moves, so a copy on the
//!   pointer would cost a write per append; the participants never change,
//!   and the read happens only for messages no thread or header pointer
//!   placed. A reference is read the same way; a ticket of another grant,
//!   or none, finds nothing.
//! * The append pin (`seen#...`) records the signal (`thread_signal`), so a
//!   redelivery that finishes an interrupted append reports the same one
//!   ([`header_target`]: the pin, else the thread pointer, else a key's).

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use triage_core::ports::StoreError;
use triage_core::threading::{Candidate, Signal};
use triage_core::ticket::Ticket;

use super::{DynamoTickets, Found, Keys, s, ticket_pk};
use crate::attr::{get_s, item_to_json};
use crate::error::map_sdk_error;

/// The attribute of an append pin naming the signal that placed it.
pub(super) const SIGNAL_ATTRIBUTE: &str = "thread_signal";

/// The attributes of a ticket a candidate is read from.
const CANDIDATE_PROJECTION: &str = "id, grant_id, requester, #to, cc, sender, last_message_at";

impl DynamoTickets {
    /// The first candidate of the message's weak signals: the ticket its
    /// subject refers to, else the one its subject pointer (as `found`)
    /// names.
    pub(super) async fn weak_candidate(
        &self,
        ticket: &Ticket,
        keys: &Keys,
        found: &Found,
    ) -> Result<Option<(Signal, Candidate)>, StoreError> {
        let grant = &ticket.grant_id;
        if let Some(id) = &keys.reference
            && let Some(c) = self.candidate(id, grant).await?
        {
            return Ok(Some((Signal::TicketRef, c)));
        }
        let Some(pointed) = keys.subject.as_ref().and_then(|pk| found.get(pk)) else {
            return Ok(None);
        };
        Ok(self
            .candidate(&pointed.ticket_id, grant)
            .await?
            .map(|c| (Signal::Subject, c)))
    }

    /// Ticket `id` of `grant` as a candidate, if it exists.
    async fn candidate(&self, id: &str, grant: &str) -> Result<Option<Candidate>, StoreError> {
        let what = self.what("read candidate", id);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&ticket_pk(id)))
            .consistent_read(true)
            .projection_expression(CANDIDATE_PROJECTION)
            .expression_attribute_names("#to", "to")
            .send()
            .await
            .map_err(|e| map_sdk_error(&what, &e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let candidate: Candidate = item_to_json(&item)
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| StoreError::Rejected(format!("{what}: unreadable ticket item")))?;
        Ok((candidate.grant_id == grant).then_some(candidate))
    }

    /// Pin the message to `target` (first pin wins), recording `signal`;
    /// returns the pinned target and its signal.
    pub(super) async fn pin(
        &self,
        keys: &Keys,
        ticket: &Ticket,
        target: String,
        signal: Signal,
    ) -> Result<(String, Signal), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&keys.seen))
            .item("ticket_id", s(&target))
            .item("kind", s("seen"))
            .item(SIGNAL_ATTRIBUTE, s(signal.as_str()))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok((target, signal)),
            Err(e) => e,
        };
        let Some(PutItemError::ConditionalCheckFailedException(ccf)) = err.as_service_error()
        else {
            return Err(map_sdk_error(&self.what("pin", &ticket.id), &err));
        };
        // Another delivery of this message pinned it first: its target wins.
        let old = ccf.item();
        let pinned_signal = old
            .and_then(|i| get_s(i, SIGNAL_ATTRIBUTE))
            .and_then(Signal::parse)
            .unwrap_or(signal);
        let pinned = match old.and_then(|i| get_s(i, "ticket_id")) {
            Some(t) => Some(t.to_string()),
            // Emulators may omit the old item: read it.
            None => self.read_target(&keys.seen, &ticket.id).await?,
        };
        Ok((pinned.unwrap_or(target), pinned_signal))
    }
}

/// The ticket the message's pin, else its thread pointer, else its first
/// thread-key pointer names, with the signal that found it.
pub(super) fn header_target(keys: &Keys, found: &Found) -> Option<(String, Signal)> {
    let named = |pk: &String| found.get(pk).filter(|p| !p.ticket_id.is_empty());
    let thread = keys.thread.as_ref().and_then(named);
    if let Some(pin) = named(&keys.seen) {
        let signal = pin.signal.unwrap_or_else(|| {
            Signal::of_pin(thread.is_some_and(|t| t.ticket_id == pin.ticket_id))
        });
        return Some((pin.ticket_id.clone(), signal));
    }
    if let Some(t) = thread {
        return Some((t.ticket_id.clone(), Signal::ThreadId));
    }
    keys.msgids
        .iter()
        .find_map(named)
        .map(|p| (p.ticket_id.clone(), Signal::MessageId))
}
