//! Creating a ticket without a transaction: claim its pointers, then put
//! the ticket.
//!
//! A `TransactWriteItems` costs two write units per item and KB; claiming
//! the pointers one by one costs one each and keeps the guarantee that
//! matters: a ticket item is written only by the writer that holds every
//! pointer of its thread, so two messages of one new thread never make two
//! tickets, and the ticket's event (carried by its item to the stream) is
//! never announced for a ticket that loses a race.
//!
//! 1. Claim, in order, the thread pointer, the first [`TXN_KEY_POINTERS`]
//!    thread-key pointers and, when the ticket takes it, the subject
//!    pointer: a conditional `PutItem` each, with `ticket_id` = the new
//!    ticket and `claimed_at_ms`. Thread and key pointers:
//!    `attribute_not_exists(pk) OR ticket_id = :tid` (a claim of this
//!    ticket left by an interrupted attempt is ours), plus
//!    `OR ticket_id = :dead` for a pointer found abandoned (below). The
//!    subject pointer: unchanged since the lookup (`attribute_not_exists`
//!    or `ticket_id = :seen`) or ours.
//! 2. A claim whose condition fails means another writer holds that
//!    pointer: the claims made so far are undone (deleted, or a taken-over
//!    pointer put back, each only while it still names this ticket) and the
//!    write goes back to its lookup, which finds the other ticket.
//! 3. Put the ticket item (`attribute_not_exists(pk)`); failing means a
//!    redelivery of the same message created it first -> already recorded.
//! 4. Put the remaining key pointers (first writer keeps them).
//!
//! Between 1 and 3 a pointer names a ticket that does not exist yet. A
//! writer whose lookup finds such a pointer (and no pin) checks the
//! ticket: while the pointer is younger than [`ABANDONED_AFTER_MS`] the
//! ticket is being created, so it backs off and looks again (giving up as
//! `Unavailable`: the message is redelivered); once older, the writer that
//! claimed it died between 1 and 3 (or its message failed for good), and
//! the pointer is taken over by the next new ticket of the thread. When
//! the dead writer's message is redelivered, its lookup finds the new
//! ticket and appends to it. A message is pinned only to a ticket that
//! exists, and tickets are never deleted, so a pin never dangles.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use triage_core::events::{CREATED_MARKER, LAST_EVENT_ATTRIBUTE};
use triage_core::ports::StoreError;
use triage_core::ticket::Ticket;

use super::{
    Create, DynamoTickets, Found, Keys, MSGID_PREFIX, SUBJECT_PREFIX, TXN_KEY_POINTERS, n, s,
};
use crate::attr::ticket_to_item;
use crate::error::map_sdk_error;

/// The attribute of a pointer saying when it was claimed (unix ms).
pub(super) const CLAIMED_AT_ATTRIBUTE: &str = "claimed_at_ms";

/// Age after which a pointer naming a ticket that does not exist is
/// abandoned. Longer than one write can take: the worker's timeout is 30 s
/// and every DynamoDB call is bounded by 3 s; shorter than the queue's
/// visibility timeout (180 s), so the thread's next delivery takes it over.
pub const ABANDONED_AFTER_MS: i64 = 120_000;

/// Pointers that name a ticket which does not exist and are old enough to
/// take over: pk -> the dead ticket id.
pub(super) type Abandoned = HashMap<String, String>;

/// One pointer claimed by a create, and what it held before.
struct Claimed {
    pk: String,
    kind: &'static str,
    before: Option<String>,
}

fn kind_of(pk: &str) -> &'static str {
    if pk.starts_with(SUBJECT_PREFIX) {
        "subject"
    } else if pk.starts_with(MSGID_PREFIX) {
        "msgid"
    } else {
        "thread"
    }
}

impl DynamoTickets {
    /// Create `ticket` (see the module doc): claim its pointers, then put it.
    #[cfg(test)]
    pub(super) async fn create(
        &self,
        ticket: &Ticket,
        keys: &Keys,
        found: &Found,
        claims_subject: bool,
    ) -> Result<Create, StoreError> {
        self.create_taking_over(ticket, keys, found, claims_subject, &Abandoned::new())
            .await
    }

    /// [`Self::create`], also taking over the `abandoned` pointers.
    pub(super) async fn create_taking_over(
        &self,
        ticket: &Ticket,
        keys: &Keys,
        found: &Found,
        claims_subject: bool,
        abandoned: &Abandoned,
    ) -> Result<Create, StoreError> {
        let now = triage_clock::now_ms();
        let mut claimed: Vec<Claimed> = Vec::new();
        let subject = keys.subject.iter().filter(|_| claims_subject);
        let headers = keys
            .thread
            .iter()
            .chain(keys.msgids.iter().take(TXN_KEY_POINTERS));
        for pk in headers.chain(subject) {
            let kind = kind_of(pk);
            let before = if kind == "subject" {
                found
                    .get(pk)
                    .map(|p| p.ticket_id.clone())
                    .filter(|t| *t != ticket.id)
            } else {
                abandoned.get(pk).cloned()
            };
            // The subject pointer is expected as the lookup saw it; header
            // pointers absent (or abandoned by `before`).
            let must_be_absent = kind != "subject" || before.is_none();
            match self
                .claim(pk, kind, &ticket.id, before.as_deref(), must_be_absent, now)
                .await
            {
                Ok(true) => claimed.push(Claimed {
                    pk: pk.clone(),
                    kind,
                    before,
                }),
                Ok(false) => {
                    self.undo(&claimed, &ticket.id).await?;
                    return Ok(Create::PointerTaken);
                }
                Err(e) => {
                    // Claims left behind name a ticket that does not exist;
                    // the redelivery finds them its own (see the module doc).
                    return Err(e);
                }
            }
        }

        let what = self.what("create", &ticket.id);
        let mut stored = ticket.clone();
        if !stored.message_ids.contains(&stored.message_id) {
            stored.message_ids.insert(0, stored.message_id.clone());
        }
        let listed = u32::try_from(stored.message_ids.len()).unwrap_or(u32::MAX);
        stored.message_count = stored.message_count.max(listed);
        let mut item = ticket_to_item(keys.ticket.clone(), &stored)?;
        // The creation's event is the ticket's own fields: a marker, which
        // the stream's reader turns back into the event (`CREATED_MARKER`).
        item.insert(LAST_EVENT_ATTRIBUTE.to_string(), s(CREATED_MARKER));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if let Err(e) = result {
            return match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(Create::TicketExists),
                _ => Err(map_sdk_error(&what, &e)),
            };
        }
        for pk in keys.msgids.iter().skip(TXN_KEY_POINTERS) {
            self.put_once(pk, "msgid", &ticket.id).await?;
        }
        tracing::debug!(ticket = %ticket.id, pointers = claimed.len(), "ticket created");
        Ok(Create::Created)
    }

    /// Point `pk` at `ticket_id` if it is absent (when `must_be_absent`),
    /// names `before`, or names `ticket_id` already. `Ok(false)`: another
    /// ticket holds it.
    async fn claim(
        &self,
        pk: &str,
        kind: &str,
        ticket_id: &str,
        before: Option<&str>,
        must_be_absent: bool,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut condition = vec!["ticket_id = :tid"];
        if must_be_absent {
            condition.push("attribute_not_exists(pk)");
        }
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("ticket_id", s(ticket_id))
            .item("kind", s(kind))
            .item(CLAIMED_AT_ATTRIBUTE, n(now_ms))
            .expression_attribute_values(":tid", s(ticket_id));
        if let Some(before) = before {
            condition.push("ticket_id = :before");
            put = put.expression_attribute_values(":before", s(before));
        }
        match put
            .condition_expression(condition.join(" OR "))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(map_sdk_error(
                    &self.what("claim pointer for", ticket_id),
                    &e,
                )),
            },
        }
    }

    /// Undo `claimed`, newest first: each pointer still naming `ticket_id`
    /// goes back to what it held (deleted when it held nothing).
    async fn undo(&self, claimed: &[Claimed], ticket_id: &str) -> Result<(), StoreError> {
        let what = self.what("undo claim for", ticket_id);
        for c in claimed.iter().rev() {
            let result = match &c.before {
                Some(before) => self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .item("pk", s(&c.pk))
                    .item("ticket_id", s(before))
                    .item("kind", s(c.kind))
                    .item(CLAIMED_AT_ATTRIBUTE, n(0))
                    .condition_expression("ticket_id = :tid")
                    .expression_attribute_values(":tid", s(ticket_id))
                    .send()
                    .await
                    .map(|_| ())
                    .or_else(|e| match e.as_service_error() {
                        Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(()),
                        _ => Err(map_sdk_error(&what, &e)),
                    }),
                None => self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .key("pk", s(&c.pk))
                    .condition_expression("ticket_id = :tid")
                    .expression_attribute_values(":tid", s(ticket_id))
                    .send()
                    .await
                    .map(|_| ())
                    .or_else(|e| match e.as_service_error() {
                        Some(DeleteItemError::ConditionalCheckFailedException(_)) => Ok(()),
                        _ => Err(map_sdk_error(&what, &e)),
                    }),
            };
            result?;
        }
        Ok(())
    }

    /// When the pointer `pk` was claimed (unix ms; 0 for pointers written
    /// before claims were dated, which always named an existing ticket).
    pub(super) async fn claimed_at(&self, pk: &str, ticket_id: &str) -> Result<i64, StoreError> {
        let what = self.what("read claim for", ticket_id);
        let item = self.read_item(pk, CLAIMED_AT_ATTRIBUTE, &what).await?;
        Ok(item
            .as_ref()
            .and_then(|i| crate::attr::get_i64(i, CLAIMED_AT_ATTRIBUTE))
            .unwrap_or(0))
    }
}

#[cfg(test)]
#[path = "tickets_create_tests.rs"]
mod tests;
