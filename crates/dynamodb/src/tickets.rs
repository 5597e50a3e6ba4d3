//! Tickets with threading and idempotent writes, in one DynamoDB table
//! (hash key `pk` S; tickets have no TTL).
//!
//! # Item layout
//!
//! | `pk`                               | what                 | other attributes                 |
//! |------------------------------------|----------------------|----------------------------------|
//! | `ticket#<ticket id>`               | the ticket           | every `Ticket` field, same names |
//! | `thread#<grant_id>#<thread_id>`    | thread pointer       | `ticket_id`, `kind`              |
//! | `msgid#<grant_id>#<thread key>`    | RFC key pointer      | `ticket_id`, `kind`              |
//! | `seen#<grant_id>#<message_id>`     | append pin           | `ticket_id`, `kind`, `thread_signal` |
//! | `subject#<grant_id>#<subject key>` | subject pointer      | `ticket_id`, `kind`              |
//!
//! A ticket item stores each `Ticket` field as a top-level attribute named
//! exactly like the field (`id`, `grant_id`, `message_id`, `thread_id`,
//! `subject`, `requester` (M: `email`, `name`), `to`, `cc` (L of M),
//! `category`, `queue`, `priority`, `status`, `received_at`, `created_at`,
//! `last_message_at`, `message_count` (N), `message_ids` (L of S),
//! `snippet`, `attachments`, `applied_rules`, `thread_keys`); a missing
//! `thread_id` is stored as NULL; `priority` and `status` are the enums'
//! names (S: `high`, `new`), and an item whose priority or status names no
//! known value is unreadable (`list` skips it with a warning). `last_event` holds the event of the write
//! that last changed the ticket: the marker
//! [`CREATED_MARKER`](triage_core::events::CREATED_MARKER) when it is created
//! (the reader rebuilds that event from the ticket's fields), the
//! `message.added` event as JSON with each append. The table's stream
//! carries it to the `dispatch` function, so an event is committed with its write
//! and a crash right after the write loses nothing. Thread keys are the message's RFC
//! `Message-ID`, `In-Reply-To` and `References` values. Pointers are written
//! once and never change: the first ticket to claim a key keeps it. The
//! subject pointer is the exception: the newest ticket with a normalised
//! subject takes it over (see `tickets_threading.rs`; the subject key is a
//! digest, [`triage_core::threading::subject_key`]).
//!
//! # Writing a message (`write`)
//!
//! The ticket id is deterministic (grant id + the message id that opens the
//! ticket), so the ticket item itself marks "this message opened a ticket".
//!
//! 1. One consistent `BatchGetItem` reads `ticket#<ticket.id>`,
//!    `seen#<grant>#<message_id>`, the thread pointer, every thread-key
//!    pointer and the subject pointer.
//! 2. `ticket#<ticket.id>` exists: the message already opened that ticket
//!    (a redelivery) -> `AlreadyRecorded` (after putting any of its
//!    pointers still missing, e.g. those put after the ticket).
//! 3. Otherwise the target ticket is, in this order, the one pinned by
//!    `seen#...`, the thread pointer's, or the first thread key's (a
//!    pointer's ticket is checked to exist: between a create's claims and
//!    its ticket item it does not, see `tickets_create.rs`); failing
//!    those, threading's weak signals: the ticket the subject's reference
//!    names, else the subject pointer's, read and handed to the core's
//!    `threading::decide` (participant check, window), which says append
//!    or create.
//! 4. Append, reporting the signal that found the target:
//!    * pin the message to the target with a conditional put of
//!      `seen#<grant>#<message_id>` (`attribute_not_exists(pk)`; if another
//!      delivery pinned it first, its target and signal win). The pin makes every
//!      redelivery of the message go to the same ticket even if pointers
//!      appear in between, so a message is never counted on two tickets;
//!    * one `UpdateItem` on the ticket: `ADD message_count 1`,
//!      `message_ids = list_append(message_ids, [id])` and
//!      `last_message_at = :t`, conditioned on `attribute_exists(pk) AND NOT
//!      contains(message_ids, :mid) AND last_message_at < :t`, with
//!      `ALL_OLD` on failure. The old item says why it failed: the message
//!      is on the ticket already -> `AlreadyRecorded`; the ticket has a
//!      newer message -> the same update without the time (expressions
//!      have no `max`);
//!    * put the pointers that were missing (thread, thread keys) to the
//!      target, each `attribute_not_exists(pk)`.
//! 5. A new ticket (with the reason in `applied_rules` when threading
//!    refused a candidate): claim its pointers one conditional put at a
//!    time, then put the ticket item (`tickets_create.rs`). A pointer
//!    another ticket holds undoes the claims and goes back to 1 (it will
//!    append, or decide again on the new subject pointer); the ticket item
//!    existing means a redelivery raced us -> `AlreadyRecorded`.
//!
//!    Attempts are bounded ([`WRITE_ATTEMPTS`]); running out is `Unavailable`
//!    (transient: the message is redelivered).
//!
//! So two messages of a new thread written at once give one ticket with
//! `message_count` 2, and a message already recorded never changes a count.
//! Cost (no transactions: one write unit per KB and item): a new ticket is
//! one read, one unit per pointer (thread, each thread key, the subject
//! when it threads) and the ticket item's size in KB; an append is one
//! read, one existence check, one pin (1 unit) and one update (the ticket
//! item's size in KB, plus pointers it lacked). A message no thread or
//! header pointer placed also reads the candidate ticket (`GetItem`), when
//! a reference or the subject pointer names one. `bench/write_units.sh`
//! measures it (BENCHMARKS.md).
//!
//! # In-process single flight
//!
//! Within one process (one store and its clones), writes that share a key
//! (ticket id, thread pointer, thread-key pointer, subject pointer) run one
//! at a time. The
//! algorithm above is correct without it (writers in different Lambda
//! instances race only through DynamoDB's conditions); it saves the
//! undone claims and waits, and their capacity, that a worker handling
//! several messages of one new thread concurrently would cause itself.
//! It also keeps tests against moto deterministic: moto (5.x) evaluates a
//! condition and applies the write without a lock, so two concurrent
//! conditional puts of one new key can both pass and concurrent updates of
//! one item can lose an `ADD`. Tests that race separately built stores are
//! therefore `#[ignore]`d on moto, and the race interleavings are tested
//! deterministically instead (`tickets_race_tests.rs`,
//! `tickets_create_tests.rs`).
//!
//! # Listing
//!
//! `list` is a paginated, consistent `Scan` filtered on
//! `begins_with(pk, "ticket#")` (plus queue/priority/status), sorted by
//! `created_at` descending in memory. That suits the local server and admin
//! tooling on a small table; it reads the whole table, so a hot path would
//! need a GSI (e.g. on `queue` + `created_at`) and `Query` instead.
//!
//! Limits: a ticket item is at most 400 KB, so a thread with many thousands
//! of messages eventually fails its append with `Rejected` (ValidationException).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use triage_core::events::{self, LAST_EVENT_ATTRIBUTE};
use triage_core::listing::newest_first;
use triage_core::ports::{StoreError, TicketFilter, TicketStore};
use triage_core::threading::{self, Decision, Signal};
use triage_core::ticket::{Ticket, TicketWrite};

use crate::attr::{Item, get_s, item_to_ticket};
use crate::error::map_sdk_error;
use crate::keylock::KeyLocks;

/// Prefix of ticket items.
pub const TICKET_PREFIX: &str = "ticket#";
/// Prefix of thread pointers.
pub const THREAD_PREFIX: &str = "thread#";
/// Prefix of RFC thread-key pointers.
pub const MSGID_PREFIX: &str = "msgid#";
/// Prefix of append pins.
pub const SEEN_PREFIX: &str = "seen#";
/// Prefix of subject pointers.
pub const SUBJECT_PREFIX: &str = "subject#";

/// Bound on lookup/create/append rounds of one `write`.
pub const WRITE_ATTEMPTS: usize = 8;
/// Thread-key pointers a create claims before it puts the ticket; the rest
/// are put after it (the first writer keeps them). The name is from when
/// creation was one transaction of at most 100 actions.
pub const TXN_KEY_POINTERS: usize = 90;
/// DynamoDB's partition key limit, in bytes.
const MAX_PK_BYTES: usize = 2048;

/// Tickets in one DynamoDB table.
///
/// Clones share one in-process single flight (see the module doc); build one
/// store per process and clone it.
#[derive(Debug, Clone)]
pub struct DynamoTickets {
    client: Client,
    table: String,
    locks: Arc<KeyLocks>,
}

/// The keys one message touches.
struct Keys {
    ticket: String,
    seen: String,
    thread: Option<String>,
    /// Thread-key pointers, deduplicated, in the message's order.
    msgids: Vec<String>,
    /// The subject pointer, when the subject threads.
    subject: Option<String>,
    /// The ticket id the subject refers to.
    reference: Option<String>,
}

impl Keys {
    fn of(ticket: &Ticket) -> Keys {
        let grant = &ticket.grant_id;
        let fits = |pk: &String| {
            let ok = pk.len() <= MAX_PK_BYTES;
            if !ok {
                tracing::warn!(ticket = %ticket.id, "thread key too long for a pointer; skipped");
            }
            ok
        };
        let thread = ticket
            .thread_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| format!("{THREAD_PREFIX}{grant}#{t}"))
            .filter(fits);
        let mut seen_keys = HashSet::new();
        let msgids = ticket
            .thread_keys
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty())
            .map(|k| format!("{MSGID_PREFIX}{grant}#{k}"))
            .filter(fits)
            .filter(|pk| seen_keys.insert(pk.clone()))
            .collect();
        let lookups = threading::lookups(ticket);
        Keys {
            ticket: ticket_pk(&ticket.id),
            seen: format!("{SEEN_PREFIX}{grant}#{}", ticket.message_id),
            thread,
            msgids,
            subject: lookups
                .subject
                .map(|k| format!("{SUBJECT_PREFIX}{grant}#{k}"))
                .filter(fits),
            reference: lookups.reference,
        }
    }

    /// Every pointer key (thread first), for lookups and pointer puts.
    fn pointers(&self) -> impl Iterator<Item = &String> {
        self.thread.iter().chain(self.msgids.iter())
    }
}

/// The event of a write, as the JSON the ticket item carries in
/// [`LAST_EVENT_ATTRIBUTE`] for the table's stream.
fn event_json(ticket: &Ticket, write: &TicketWrite) -> Result<String, StoreError> {
    let event = events::for_write(ticket, write).ok_or_else(|| {
        StoreError::Rejected(format!("ticket {}: a write without an event", ticket.id))
    })?;
    serde_json::to_string(&event)
        .map_err(|_| StoreError::Rejected(format!("event {}: not serialisable", event.id)))
}

fn ticket_pk(id: &str) -> String {
    format!("{TICKET_PREFIX}{id}")
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// What a lookup found: pk -> the item's target (empty for ticket items).
type Found = HashMap<String, Pointer>;

/// A pointer or pin item as the lookup read it.
#[derive(Debug, Clone)]
struct Pointer {
    ticket_id: String,
    /// A pin's [`tickets_threading::SIGNAL_ATTRIBUTE`], if it has one.
    signal: Option<Signal>,
}

/// Result of one create.
#[derive(Debug, PartialEq, Eq)]
enum Create {
    Created,
    TicketExists,
    PointerTaken,
}

/// What one append update did.
#[derive(Debug)]
enum Appended {
    Done,
    /// The message is on the ticket already.
    AlreadyThere {
        last_message_at: Option<i64>,
    },
    /// The condition on `last_message_at` failed: the ticket has a newer
    /// message.
    NotNewer,
    /// No such ticket.
    Missing,
}

/// A pointer or pin named a ticket that does not exist.
fn missing(what: &str) -> StoreError {
    StoreError::Rejected(format!(
        "{what}: a pointer names a ticket that does not exist"
    ))
}

impl DynamoTickets {
    /// A store on `table`, with a client built from `sdk`.
    pub fn new(sdk: &SdkConfig, table: impl Into<String>) -> Self {
        Self::from_client(Client::new(sdk), table)
    }

    /// A store on `table` sharing an existing client.
    pub fn from_client(client: Client, table: impl Into<String>) -> Self {
        DynamoTickets {
            client,
            table: table.into(),
            locks: Arc::new(KeyLocks::default()),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn what(&self, op: &str, id: &str) -> String {
        format!("{op} {id} in {}", self.table)
    }

    async fn backoff(&self, attempt: usize) {
        crate::batch::backoff(&self.client, attempt).await;
    }

    /// Consistent batch read of `pks` (deduplicated by the caller).
    async fn lookup(&self, ticket_id: &str, pks: &[&String]) -> Result<Found, StoreError> {
        let what = self.what("lookup for", ticket_id);
        let projection = format!("pk, ticket_id, {}", tickets_threading::SIGNAL_ATTRIBUTE);
        let items =
            crate::batch::batch_get(&self.client, &self.table, pks, &projection, true, &what)
                .await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let pk = get_s(item, "pk")?;
                let pointer = Pointer {
                    ticket_id: get_s(item, "ticket_id").unwrap_or_default().to_string(),
                    signal: get_s(item, tickets_threading::SIGNAL_ATTRIBUTE)
                        .and_then(Signal::parse),
                };
                Some((pk.to_string(), pointer))
            })
            .collect())
    }

    /// Put a pointer item unless it exists (the first writer keeps it).
    async fn put_once(&self, pk: &str, kind: &str, ticket_id: &str) -> Result<(), StoreError> {
        self.put_unless_held(pk, kind, ticket_id, None).await
    }

    /// Put a pointer item unless another ticket holds it: it may be absent,
    /// or name `stale` (a ticket that was never created).
    async fn put_unless_held(
        &self,
        pk: &str,
        kind: &str,
        ticket_id: &str,
        stale: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk))
            .item("ticket_id", s(ticket_id))
            .item("kind", s(kind));
        put = match stale {
            Some(stale) => put
                .condition_expression("attribute_not_exists(pk) OR ticket_id = :stale")
                .expression_attribute_values(":stale", s(stale)),
            None => put.condition_expression("attribute_not_exists(pk)"),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(map_sdk_error(&self.what("put pointer for", ticket_id), &e)),
            },
        }
    }

    /// Point every pointer the lookup did not find at `target`.
    /// `own`: the message's own ticket id when it appends elsewhere; its
    /// pointers left by an interrupted create (naming that ticket, which does
    /// not exist) are moved to `target`.
    async fn ensure_pointers(
        &self,
        keys: &Keys,
        found: &Found,
        target: &str,
        own: Option<&str>,
    ) -> Result<(), StoreError> {
        for pk in keys.pointers().filter(|pk| !found.contains_key(*pk)) {
            let kind = if pk.starts_with(THREAD_PREFIX) {
                "thread"
            } else {
                "msgid"
            };
            self.put_unless_held(pk, kind, target, own.filter(|o| *o != target))
                .await?;
        }
        Ok(())
    }

    /// Read the `ticket_id` of a pointer/pin item (consistent).
    async fn read_target(&self, pk: &str, ticket_id: &str) -> Result<Option<String>, StoreError> {
        let item = self
            .read_item(pk, "ticket_id", &self.what("read pin for", ticket_id))
            .await?;
        Ok(item
            .as_ref()
            .and_then(|i| get_s(i, "ticket_id"))
            .map(str::to_string))
    }

    /// Add the message to ticket `target`, found by `signal`.
    async fn append(
        &self,
        ticket: &Ticket,
        keys: &Keys,
        found: &Found,
        target: String,
        signal: Signal,
    ) -> Result<TicketWrite, StoreError> {
        // Pin the message to its target (first pin wins).
        let (target, signal) = if found.contains_key(&keys.seen) {
            (target, signal)
        } else {
            self.pin(keys, ticket, target, signal).await?
        };
        let target_pk = ticket_pk(&target);
        let what = self.what("append to", &target);

        let appended = TicketWrite::Appended {
            ticket_id: target.clone(),
            signal,
        };
        let event = event_json(ticket, &appended)?;
        let t = ticket.last_message_at;
        // Usually the message is the thread's newest: one update appends it
        // and moves `last_message_at`. When it is not, the condition fails
        // on the time alone and a second update appends without it.
        let outcome = match self
            .append_update(&target_pk, ticket, &event, Some(t))
            .await?
        {
            Appended::Done => appended,
            Appended::AlreadyThere { last_message_at } => {
                // A crash between the two updates of an older version of
                // this store could leave the time behind: heal it.
                if last_message_at.is_some_and(|old| old < t) {
                    self.bump_last_message_at(&target_pk, &target, t).await?;
                }
                TicketWrite::AlreadyRecorded {
                    ticket_id: target.clone(),
                }
            }
            Appended::NotNewer => match self.append_update(&target_pk, ticket, &event, None).await?
            {
                Appended::Done => appended,
                Appended::AlreadyThere { .. } | Appended::NotNewer => {
                    TicketWrite::AlreadyRecorded {
                        ticket_id: target.clone(),
                    }
                }
                Appended::Missing => return Err(missing(&what)),
            },
            Appended::Missing => return Err(missing(&what)),
        };
        self.ensure_pointers(keys, found, &target, Some(&ticket.id))
            .await?;
        tracing::debug!(ticket = %target, message = %ticket.message_id, ?outcome, "ticket append");
        Ok(outcome)
    }

    /// Append the message to the ticket at `pk` in one `UpdateItem`; with
    /// `newer`, also set `last_message_at` to it, on the condition that it
    /// is later than the ticket's.
    async fn append_update(
        &self,
        pk: &str,
        ticket: &Ticket,
        event: &str,
        newer: Option<i64>,
    ) -> Result<Appended, StoreError> {
        let (set_time, time_condition) = match newer {
            Some(_) => (", last_message_at = :t", " AND last_message_at < :t"),
            None => ("", ""),
        };
        let what = self.what("append to", pk);
        let mut values = HashMap::from([
            (":event".to_string(), s(event)),
            (
                ":mids".to_string(),
                AttributeValue::L(vec![s(&ticket.message_id)]),
            ),
            (":mid".to_string(), s(&ticket.message_id)),
            (":one".to_string(), n(1)),
        ]);
        if let Some(t) = newer {
            values.insert(":t".to_string(), n(t));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression(format!(
                "SET message_ids = list_append(message_ids, :mids), #event = :event{set_time} \
                 ADD message_count :one"
            ))
            .condition_expression(format!(
                "attribute_exists(pk) AND NOT contains(message_ids, :mid){time_condition}"
            ))
            .expression_attribute_names("#event", LAST_EVENT_ATTRIBUTE)
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Appended::Done),
            Err(e) => e,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(ccf)) = err.as_service_error()
        else {
            return Err(map_sdk_error(&what, &err));
        };
        let old = match ccf.item() {
            Some(item) => Some(item.clone()),
            // Emulators may omit the old item: read it.
            None => {
                self.read_item(pk, "message_ids, last_message_at", &what)
                    .await?
            }
        };
        let Some(old) = old else {
            return Ok(Appended::Missing);
        };
        let there = match old.get("message_ids") {
            Some(AttributeValue::L(ids)) => ids
                .iter()
                .any(|v| matches!(v, AttributeValue::S(m) if *m == ticket.message_id)),
            _ => false,
        };
        let last_message_at = crate::attr::get_i64(&old, "last_message_at");
        if there {
            return Ok(Appended::AlreadyThere { last_message_at });
        }
        match newer {
            Some(t) if last_message_at.is_some_and(|old| old >= t) => Ok(Appended::NotNewer),
            _ => Err(StoreError::Unavailable(format!(
                "{what}: condition failed without a reason the item shows"
            ))),
        }
    }

    /// Consistent read of item `pk`, projected.
    async fn read_item(
        &self,
        pk: &str,
        projection: &str,
        what: &str,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .projection_expression(projection)
            .send()
            .await
            .map_err(|e| map_sdk_error(what, &e))?;
        Ok(out.item)
    }

    async fn ticket_exists(&self, pk: &str, id: &str) -> Result<bool, StoreError> {
        let item = self.read_item(pk, "pk", &self.what("read", id)).await?;
        Ok(item.is_some())
    }

    /// `last_message_at = max(last_message_at, t)`.
    async fn bump_last_message_at(&self, pk: &str, id: &str, t: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("SET last_message_at = :t")
            .condition_expression("attribute_exists(pk) AND last_message_at < :t")
            .expression_attribute_values(":t", n(t))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(map_sdk_error(
                    &self.what("update last_message_at of", id),
                    &e,
                )),
            },
        }
    }
}

impl TicketStore for DynamoTickets {
    async fn write(&self, ticket: &Ticket) -> Result<TicketWrite, StoreError> {
        let keys = Keys::of(ticket);
        let mut pks: Vec<&String> = vec![&keys.ticket, &keys.seen];
        pks.extend(keys.pointers());
        pks.extend(keys.subject.iter());
        // One write at a time per key within this process.
        let _flight = self
            .locks
            .lock(
                std::iter::once(&keys.ticket)
                    .chain(keys.pointers())
                    .chain(keys.subject.iter())
                    .cloned(),
            )
            .await;

        for attempt in 0..WRITE_ATTEMPTS {
            let mut found = self.lookup(&ticket.id, &pks).await?;
            if found.contains_key(&keys.ticket) {
                // This message opened the ticket already.
                self.ensure_pointers(&keys, &found, &ticket.id, None)
                    .await?;
                return Ok(TicketWrite::AlreadyRecorded {
                    ticket_id: ticket.id.clone(),
                });
            }
            // Pointers naming this message's own ticket, which does not
            // exist: claims of an attempt that did not finish, ours to reuse.
            found.retain(|pk, p| *pk == keys.seen || p.ticket_id != ticket.id);
            let mut abandoned = tickets_create::Abandoned::new();
            let mut pending = false;
            while let Some((target, signal)) = tickets_threading::header_target(&keys, &found) {
                if found.contains_key(&keys.seen)
                    || self.ticket_exists(&ticket_pk(&target), &target).await?
                {
                    return self.append(ticket, &keys, &found, target, signal).await;
                }
                // A pointer names a ticket that does not exist (yet).
                let naming: Vec<String> = found
                    .iter()
                    .filter(|(pk, p)| **pk != keys.seen && p.ticket_id == target)
                    .map(|(pk, _)| pk.clone())
                    .collect();
                let claimed_at = match naming.first() {
                    Some(pk) => self.claimed_at(pk, &ticket.id).await?,
                    None => 0,
                };
                if triage_clock::now_ms() - claimed_at < tickets_create::ABANDONED_AFTER_MS {
                    pending = true;
                    break;
                }
                tracing::warn!(ticket = %ticket.id, dead = %target, "taking over pointers of a ticket never created");
                for pk in naming {
                    found.remove(&pk);
                    abandoned.insert(pk, target.clone());
                }
            }
            if pending {
                // Another writer is creating the thread's ticket: look again.
                tracing::debug!(ticket = %ticket.id, "thread's ticket being created; waiting");
                self.backoff(attempt).await;
                continue;
            }
            let candidate = self.weak_candidate(ticket, &keys, &found).await?;
            let (rule, claims_subject) =
                match threading::decide(ticket, candidate.as_ref().map(|(g, c)| (*g, c))) {
                    Decision::Append { ticket_id, signal } => {
                        return self.append(ticket, &keys, &found, ticket_id, signal).await;
                    }
                    Decision::New {
                        rule,
                        claims_subject,
                    } => (rule, claims_subject),
                };
            let mut new = ticket.clone();
            if let Some(rule) = rule {
                threading::record(&mut new.applied_rules, rule);
            }
            match self
                .create_taking_over(&new, &keys, &found, claims_subject, &abandoned)
                .await?
            {
                Create::Created => {
                    return Ok(TicketWrite::Created {
                        ticket_id: ticket.id.clone(),
                    });
                }
                Create::TicketExists => {
                    return Ok(TicketWrite::AlreadyRecorded {
                        ticket_id: ticket.id.clone(),
                    });
                }
                Create::PointerTaken => continue,
            }
        }
        Err(StoreError::Unavailable(format!(
            "{}: gave up after {WRITE_ATTEMPTS} attempts under contention",
            self.what("write", &ticket.id)
        )))
    }

    async fn list(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        let mut condition = String::from("begins_with(pk, :prefix)");
        let mut names = HashMap::new();
        let mut values = HashMap::from([(":prefix".to_string(), s(TICKET_PREFIX))]);
        for (field, value) in [
            ("queue", filter.queue.as_deref()),
            ("priority", filter.priority.map(|p| p.as_str())),
            ("status", filter.status.map(|st| st.as_str())),
        ] {
            if let Some(v) = value {
                condition.push_str(&format!(" AND #{field} = :{field}"));
                names.insert(format!("#{field}"), field.to_string());
                values.insert(format!(":{field}"), s(v));
            }
        }
        let what = format!("list tickets in {}", self.table);
        let mut tickets = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .filter_expression(&condition)
                .set_expression_attribute_names((!names.is_empty()).then(|| names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| map_sdk_error(&what, &e))?;
            for item in out.items() {
                match item_to_ticket(item) {
                    Some(t) if filter.after.as_ref().is_none_or(|c| c.admits(&t)) => {
                        tickets.push(t);
                    }
                    Some(_) => {}
                    None => tracing::warn!(
                        pk = get_s(item, "pk").unwrap_or_default(),
                        "unreadable ticket item skipped"
                    ),
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        tickets.sort_by(newest_first);
        if let Some(limit) = filter.limit {
            tickets.truncate(limit);
        }
        Ok(tickets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deduplicated_trimmed_and_bounded() {
        let mut t = triage_testkit::contract::sample_ticket("g", "m1", Some(" th "), 1);
        t.thread_keys = vec![
            "a@x".into(),
            " a@x ".into(),
            "".into(),
            "b@x".into(),
            "x".repeat(3000),
        ];
        let k = Keys::of(&t);
        assert_eq!(k.ticket, format!("ticket#{}", t.id));
        assert_eq!(k.seen, "seen#g#m1");
        assert_eq!(k.thread.as_deref(), Some("thread#g#th"));
        assert_eq!(k.msgids, vec!["msgid#g#a@x", "msgid#g#b@x"]);
        t.thread_id = Some("  ".into());
        assert_eq!(Keys::of(&t).thread, None);
    }
}

#[path = "tickets_create.rs"]
mod tickets_create;

#[path = "tickets_threading.rs"]
mod tickets_threading;

#[cfg(test)]
#[path = "tickets_race_tests.rs"]
mod race_tests;
