//! Ports: the small traits the core owns and the adapter crates implement.
//!
//! Each trait is one capability (queue, idempotency, tickets, message source),
//! so a new provider, store or sink is one new adapter. Methods return
//! `impl Future + Send` so handlers stay generic and run on multi-threaded
//! runtimes (Lambda, the local `triage` server, tests).

use std::collections::HashMap;
use std::future::Future;
use std::time::Instant;

use crate::envelope::QueuedMessage;
use crate::message::Message;
use crate::ticket::{Priority, Ticket, TicketStatus, TicketWrite};

// ---------------------------------------------------------------- queue

/// Why a queue refused or could not take messages. Every variant means
/// "not durably queued": ingest answers 503 so the provider retries.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue timed out after {0} ms")]
    Timeout(u64),
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// Some entries of a batch were refused; carries the entry ids.
    #[error("queue refused {} of the batch: {reason}", failed_ids.len())]
    Partial {
        failed_ids: Vec<String>,
        reason: String,
    },
}

/// Where verified notifications go (SQS in AWS, an in-process queue locally).
pub trait NotificationQueue: Send + Sync {
    /// Queue every message, or fail. Returning `Ok` means every message is
    /// durably accepted.
    fn send_all(
        &self,
        messages: &[QueuedMessage],
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

// ---------------------------------------------------------------- stores

/// A transient store failure (throttling, timeout) is retried by redelivery;
/// a permanent one (bad configuration, item too large) goes to the DLQ.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store throttled: {0}")]
    Throttled(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store rejected the request: {0}")]
    Rejected(String),
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        !matches!(self, StoreError::Rejected(_))
    }
}

/// Key of one idempotency record: one message of one grant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupeKey {
    pub grant_id: String,
    pub message_id: String,
}

impl DedupeKey {
    /// The single string key stored in tables: `grant_id#message_id`.
    pub fn as_key(&self) -> String {
        format!("{}#{}", self.grant_id, self.message_id)
    }
}

/// Timing of a claim, all from the caller's clock.
#[derive(Debug, Clone, Copy)]
pub struct ClaimTimes {
    /// Now, unix milliseconds.
    pub now_ms: i64,
    /// The lease ends at this instant (unix ms); after it another worker may
    /// take over. Must end before the SQS visibility timeout.
    pub lease_until_ms: i64,
    /// The record expires (TTL attribute, unix seconds).
    pub expires_at_s: i64,
}

/// The claim rule every idempotency store applies (DynamoDB writes it as
/// its condition expression): a record may be claimed when it is absent,
/// when its TTL has passed (TTL deletion is lazy), or when it is in
/// progress under a lease that has ended.
pub fn claimable(existing: Option<(bool, i64, i64)>, now_ms: i64) -> bool {
    match existing {
        None => true,
        Some((in_progress, lease_until_ms, expires_at_s)) => {
            expires_at_s < now_ms.div_euclid(1000) || (in_progress && lease_until_ms < now_ms)
        }
    }
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// We own the record now (new, expired TTL, or expired lease).
    Claimed,
    /// Already processed; carries the recorded outcome (e.g. `created:TICKET`).
    Completed { outcome: String },
    /// Another worker holds a live lease: retry later, never drop.
    InProgress { lease_until_ms: i64 },
}

/// Powertools-style idempotency records.
pub trait IdempotencyStore: Send + Sync {
    /// Conditionally claim the record: succeeds when absent, when its TTL has
    /// passed (TTL deletion is lazy) or when it is IN_PROGRESS with an expired lease.
    fn claim(
        &self,
        key: &DedupeKey,
        times: ClaimTimes,
    ) -> impl Future<Output = Result<ClaimOutcome, StoreError>> + Send;

    /// Mark the record COMPLETED with a short outcome string (kept until TTL).
    fn complete(
        &self,
        key: &DedupeKey,
        outcome: &str,
        expires_at_s: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Release a claim after a failure so a retry can run at once.
    fn release(&self, key: &DedupeKey) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Filters for listing tickets.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub queue: Option<String>,
    pub priority: Option<Priority>,
    pub status: Option<TicketStatus>,
    /// At most this many, newest first; `None`: all of them.
    pub limit: Option<usize>,
    /// Only tickets after this one in newest-first order (the next page).
    pub after: Option<crate::listing::Cursor>,
}

/// Tickets, with threading. Writes are idempotent: writing the same message
/// twice never makes two tickets nor counts a message twice.
pub trait TicketStore: Send + Sync {
    /// Create the ticket, or append the message to the ticket that already
    /// owns its thread (thread id, or any of `ticket.thread_keys`).
    fn write(
        &self,
        ticket: &Ticket,
    ) -> impl Future<Output = Result<TicketWrite, StoreError>> + Send;

    /// List tickets, filtered, in [`crate::listing::newest_first`] order,
    /// starting after `filter.after` when set.
    fn list(
        &self,
        filter: &TicketFilter,
    ) -> impl Future<Output = Result<Vec<Ticket>, StoreError>> + Send;
}

// ---------------------------------------------------------------- provider API

/// Errors of the provider's API. Not-found is not an error (`Ok(None)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Worth retrying later: 429/5xx exhausted, timeouts, connection errors.
    #[error("provider API transient failure: {0}")]
    Transient(String),
    /// The provider asked to wait (`Retry-After`) longer than the caller
    /// could: retry after `retry_after_ms`, which is not a fault of the
    /// message (`redelivery::Setback::Throttled`).
    #[error("provider API asked to wait {retry_after_ms} ms: {detail}")]
    Throttled { retry_after_ms: u64, detail: String },
    /// Retrying will not help: 400/401/403, malformed response.
    #[error("provider API permanent failure: {0}")]
    Permanent(String),
}

/// Role of a folder, from its provider attributes (`\Sent`, `\Drafts`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FolderRole {
    Inbox,
    Sent,
    Drafts,
    Trash,
    Spam,
    Other,
}

/// Reads messages and folders from the provider (the Nylas API).
pub trait MessageSource: Send + Sync {
    /// The full message with headers; `Ok(None)` when it is gone (404).
    /// Retries stop at `deadline`.
    fn fetch_message(
        &self,
        grant_id: &str,
        message_id: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<Option<Message>, FetchError>> + Send;

    /// Folder id -> role for one grant. Callers cache it.
    fn folder_roles(
        &self,
        grant_id: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<HashMap<String, FolderRole>, FetchError>> + Send;
}

// ---------------------------------------------------------------- raw mail

/// Where a raw message is stored: one object of a bucket (Amazon SES
/// receiving writes each message to S3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectLocation {
    pub bucket: String,
    /// The object key, decoded (S3 event notifications URL-encode it).
    pub key: String,
}

/// A raw message read from its object, up to a size cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawObject {
    /// The first bytes of the object: all of it unless it is larger than
    /// the cap the caller gave.
    pub bytes: Vec<u8>,
    /// The object's whole size in bytes.
    pub size: u64,
}

impl RawObject {
    /// True when `bytes` stops short of the object's end.
    pub fn truncated(&self) -> bool {
        (self.bytes.len() as u64) < self.size
    }
}

/// Reads raw RFC 5322 messages stored as objects.
pub trait RawMailStore: Send + Sync {
    /// The object at `at`, at most its first `max_bytes` (a larger object
    /// is read only that far). `Ok(None)`: there is no such object (deleted,
    /// or expired by the bucket's lifecycle rule). Throttling and 5xx are
    /// `Transient` (or `Throttled`), access denied and malformed answers
    /// `Permanent`. Retries stop at `deadline`.
    fn fetch_raw(
        &self,
        at: &ObjectLocation,
        max_bytes: usize,
        deadline: Instant,
    ) -> impl Future<Output = Result<Option<RawObject>, FetchError>> + Send;
}

/// A raw mail store when one is configured: `None` reads like
/// [`NoRawMail`].
impl<T: RawMailStore> RawMailStore for Option<T> {
    async fn fetch_raw(
        &self,
        at: &ObjectLocation,
        max_bytes: usize,
        deadline: Instant,
    ) -> Result<Option<RawObject>, FetchError> {
        match self {
            Some(store) => store.fetch_raw(at, max_bytes, deadline).await,
            None => NoRawMail.fetch_raw(at, max_bytes, deadline).await,
        }
    }
}

/// No raw mail store: every read is a permanent failure (a runner that
/// receives no raw-MIME family).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRawMail;

impl RawMailStore for NoRawMail {
    async fn fetch_raw(
        &self,
        _: &ObjectLocation,
        _: usize,
        _: Instant,
    ) -> Result<Option<RawObject>, FetchError> {
        Err(FetchError::Permanent(
            "no raw mail store configured (SES_MAIL_BUCKET is not set)".into(),
        ))
    }
}

/// Where a runner puts a queued notification the worker will not finish
/// now (`redelivery`): back on its queue for later without spending its
/// receives, or into the dead-letter queue with its reason. SQS implements
/// it with a delayed copy and `SendMessage` to the DLQ; the local queue has
/// its own `defer` and dead-letter table.
pub trait Redelivery: Send + Sync {
    /// Queue `record` again, not to be processed before `not_before_ms`,
    /// carrying `deferrals`. The caller then deletes the original.
    fn put_back(
        &self,
        record: &crate::redelivery::Record<'_>,
        not_before_ms: i64,
        deferrals: u32,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Move `record` to the dead-letter queue with `letter`'s reason. The
    /// caller then deletes the original.
    fn dead_letter(
        &self,
        record: &crate::redelivery::Record<'_>,
        letter: &crate::redelivery::DeadLetter,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// No redelivery: every call fails, so the runner falls back to its
/// queue's own retries (a batch item failure on SQS).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRedelivery;

impl Redelivery for NoRedelivery {
    async fn put_back(
        &self,
        _: &crate::redelivery::Record<'_>,
        _: i64,
        _: u32,
        _: i64,
    ) -> Result<(), QueueError> {
        Err(QueueError::Unavailable("no redelivery configured".into()))
    }

    async fn dead_letter(
        &self,
        _: &crate::redelivery::Record<'_>,
        _: &crate::redelivery::DeadLetter,
    ) -> Result<(), QueueError> {
        Err(QueueError::Unavailable(
            "no dead-letter queue configured".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_rule() {
        let now = 1_700_000_000_000;
        let now_s = now / 1000;
        assert!(claimable(None, now), "absent");
        assert!(
            claimable(Some((false, 0, now_s - 1)), now),
            "completed, TTL passed"
        );
        assert!(!claimable(Some((false, 0, now_s)), now), "completed, live");
        assert!(
            claimable(Some((true, now - 1, now_s + 60)), now),
            "lease over"
        );
        assert!(!claimable(Some((true, now, now_s + 60)), now), "lease live");
        assert!(
            !claimable(Some((true, now + 5, now_s + 60)), now),
            "lease live"
        );
    }
}

/// One message taken off a queue by a [`QueueConsumer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The queue's own token for this receive (a row id, an SQS receipt
    /// handle): passed back to acknowledge, retry or dead-letter it.
    pub handle: String,
    pub body: String,
    /// String message attributes (ids for logs and the dead-letter queue).
    pub attributes: Vec<(String, String)>,
    /// This receive's number (1 for the first).
    pub receive_count: u32,
}

impl Received {
    /// The record as the redelivery rule sees it.
    pub fn record(&self) -> crate::redelivery::Record<'_> {
        crate::redelivery::Record {
            body: &self.body,
            attributes: &self.attributes,
        }
    }
}

/// The consuming side of a queue, for runners that poll it themselves
/// (`triage`; Lambda's event source does this for the worker Lambda): the
/// SQLite queue, SQS and the in-process queue implement it, so the worker
/// loop carries out the core's redelivery rule the same way on each.
pub trait QueueConsumer: Send + Sync {
    /// Up to `max` messages, each hidden from other consumers while it is
    /// worked on.
    fn receive(
        &self,
        max: usize,
        now_ms: i64,
    ) -> impl Future<Output = Result<Vec<Received>, QueueError>> + Send;

    /// Done: delete it.
    fn ack(&self, message: &Received) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Whether `retry_at(.., counts: false, ..)` really keeps the receive
    /// from counting (the redelivery rule plans waits differently for a
    /// queue that counts every receive).
    fn gives_back_receives(&self) -> bool {
        true
    }

    /// Receive it again at `at_ms`, keeping `reason`. `counts: false` asks
    /// that this receive not count toward dead-lettering; a queue that
    /// counts every receive (SQS) cannot give it back and says so in its
    /// documentation.
    fn retry_at(
        &self,
        message: &Received,
        at_ms: i64,
        counts: bool,
        reason: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Move it to the dead-letter queue with `letter`'s reason: `Ok(true)`
    /// when moved, `Ok(false)` when this queue leaves dead-lettering to its
    /// own redrive policy (the message then comes back for it).
    fn dead_letter(
        &self,
        message: &Received,
        letter: &crate::redelivery::DeadLetter,
    ) -> impl Future<Output = Result<bool, QueueError>> + Send;
}
