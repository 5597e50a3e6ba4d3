//! Wiring for the local runner: which store and queue (embedded SQLite by
//! default; DynamoDB and SQS with the usual AWS environment), and the worker
//! loop that consumes the queue with the same `Worker` as the Lambda.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use triage_clock::now_ms;

use futures_util::StreamExt;
use tokio::sync::{Notify, watch};
use triage_core::acknowledgement::{AckLedger, Acknowledgements};
use triage_core::envelope::QueuedMessage;
use triage_core::ports::{
    ClaimOutcome, ClaimTimes, DedupeKey, IdempotencyStore, NotificationQueue, QueueError,
    StoreError, TicketFilter, TicketStore,
};
use triage_core::redelivery::{self, Disposition, disposition};
use triage_core::remember::RememberCompleted;
use triage_core::ticket::{Ticket, TicketWrite};
use triage_dynamodb::{DynamoAckLedger, DynamoIdempotency, DynamoTickets};
use triage_nylas::{CachedFolders, NylasClient};
use triage_sqlite::{SqliteDb, SqliteQueue, SqliteStore};
use triage_sqs::SqsQueue;
use triage_worker::compose::AckSenders;
use triage_worker::{Failure, Worker};

use crate::memqueue::MemoryQueue;
use crate::output::{Event, Printer};

/// How long a received message stays invisible to other consumers.
pub const VISIBILITY: Duration = Duration::from_secs(30);
/// How long to wait before a failed message is tried again (the core's
/// redelivery rule).
pub const RETRY_DELAY: Duration = Duration::from_millis(redelivery::RETRY_DELAY_MS as u64);

/// Idempotency store chosen at run time.
#[derive(Clone)]
pub enum AnyIdempotency {
    Sqlite(SqliteStore),
    Dynamo(DynamoIdempotency),
}

/// Acknowledgement records chosen at run time (beside the idempotency
/// records: the SQLite file, or the idempotency table).
pub enum AnyLedger {
    Sqlite(SqliteStore),
    Dynamo(DynamoAckLedger),
}

impl AckLedger for AnyLedger {
    async fn record_once(&self, key: &str, expires_at_s: i64) -> Result<bool, StoreError> {
        match self {
            AnyLedger::Sqlite(s) => s.record_once(key, expires_at_s).await,
            AnyLedger::Dynamo(s) => s.record_once(key, expires_at_s).await,
        }
    }
    async fn take_sender_slot(
        &self,
        key: &str,
        limit: u32,
        now_s: i64,
        window_s: i64,
    ) -> Result<bool, StoreError> {
        match self {
            AnyLedger::Sqlite(s) => s.take_sender_slot(key, limit, now_s, window_s).await,
            AnyLedger::Dynamo(s) => s.take_sender_slot(key, limit, now_s, window_s).await,
        }
    }
}

/// Ticket store chosen at run time.
#[derive(Clone)]
pub enum AnyTickets {
    Sqlite(SqliteStore),
    Dynamo(DynamoTickets),
}

impl IdempotencyStore for AnyIdempotency {
    async fn claim(&self, key: &DedupeKey, times: ClaimTimes) -> Result<ClaimOutcome, StoreError> {
        match self {
            AnyIdempotency::Sqlite(s) => s.claim(key, times).await,
            AnyIdempotency::Dynamo(s) => s.claim(key, times).await,
        }
    }
    async fn complete(
        &self,
        key: &DedupeKey,
        outcome: &str,
        expires_at_s: i64,
    ) -> Result<(), StoreError> {
        match self {
            AnyIdempotency::Sqlite(s) => s.complete(key, outcome, expires_at_s).await,
            AnyIdempotency::Dynamo(s) => s.complete(key, outcome, expires_at_s).await,
        }
    }
    async fn release(&self, key: &DedupeKey) -> Result<(), StoreError> {
        match self {
            AnyIdempotency::Sqlite(s) => s.release(key).await,
            AnyIdempotency::Dynamo(s) => s.release(key).await,
        }
    }
}

impl TicketStore for AnyTickets {
    async fn write(&self, ticket: &Ticket) -> Result<TicketWrite, StoreError> {
        match self {
            AnyTickets::Sqlite(s) => s.write(ticket).await,
            AnyTickets::Dynamo(s) => s.write(ticket).await,
        }
    }
    async fn list(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        match self {
            AnyTickets::Sqlite(s) => s.list(filter).await,
            AnyTickets::Dynamo(s) => s.list(filter).await,
        }
    }
}

/// Queue chosen at run time: the embedded durable queue, SQS, or the
/// in-process (not durable) queue for load tests.
#[derive(Clone)]
pub enum AnyQueue {
    Local {
        queue: SqliteQueue,
        wake: Arc<Notify>,
        /// When set, `send_all` answers within this long (committed, or a
        /// timeout with nothing written): see [`AnyQueue::with_enqueue_deadline`].
        deadline: Option<Duration>,
    },
    Sqs(SqsQueue),
    Memory(MemoryQueue),
}

impl NotificationQueue for AnyQueue {
    async fn send_all(&self, messages: &[QueuedMessage]) -> Result<(), QueueError> {
        match self {
            AnyQueue::Local {
                queue,
                wake,
                deadline,
            } => {
                match deadline {
                    Some(d) => queue.send_all_by(messages, Instant::now() + *d).await?,
                    None => queue.send_all(messages).await?,
                }
                wake.notify_one();
                Ok(())
            }
            AnyQueue::Sqs(q) => q.send_all(messages).await,
            AnyQueue::Memory(q) => q.send_all(messages).await,
        }
    }
}

impl AnyQueue {
    /// Bound every enqueue on the embedded queue to `deadline` (the webhook
    /// endpoint owes the provider an answer well inside its own timeout,
    /// even while another process holds the database's write lock). SQS has
    /// its own timeouts; the memory queue does not wait.
    pub fn with_enqueue_deadline(self, deadline: Duration) -> AnyQueue {
        match self {
            AnyQueue::Local { queue, wake, .. } => AnyQueue::Local {
                queue,
                wake,
                deadline: Some(deadline),
            },
            other => other,
        }
    }
}

pub type LocalWorker = Worker<
    RememberCompleted<AnyIdempotency>,
    AnyTickets,
    CachedFolders<NylasClient>,
    Acknowledgements<AnyLedger, AckSenders>,
>;

/// Store and queue selection (CLI flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Dynamodb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QueueKind {
    /// The embedded durable queue (SQLite file).
    Local,
    /// Amazon SQS (QUEUE_URL), or moto.
    Sqs,
    /// In this process only, not durable: for load tests and demos.
    Memory,
}

/// Open the stores.
pub async fn stores(
    kind: StoreKind,
    db: Option<&SqliteDb>,
) -> Result<(AnyIdempotency, AnyTickets), String> {
    stores_and_ledger(kind, db)
        .await
        .map(|(idempotency, tickets, _)| (idempotency, tickets))
}

/// Open the stores and the acknowledgement records.
pub async fn stores_and_ledger(
    kind: StoreKind,
    db: Option<&SqliteDb>,
) -> Result<(AnyIdempotency, AnyTickets, AnyLedger), String> {
    match kind {
        StoreKind::Sqlite => {
            let db = db.ok_or("the embedded database is not open")?;
            let s = SqliteStore::new(db.clone());
            Ok((
                AnyIdempotency::Sqlite(s.clone()),
                AnyTickets::Sqlite(s.clone()),
                AnyLedger::Sqlite(s),
            ))
        }
        StoreKind::Dynamodb => {
            let idem = env_required("IDEMPOTENCY_TABLE")?;
            let tickets = env_required("TICKETS_TABLE")?;
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let sdk = triage_dynamodb::with_short_timeouts(&sdk);
            Ok((
                AnyIdempotency::Dynamo(DynamoIdempotency::new(&sdk, idem.clone())),
                AnyTickets::Dynamo(DynamoTickets::new(&sdk, tickets)),
                AnyLedger::Dynamo(DynamoAckLedger::new(&sdk, idem)),
            ))
        }
    }
}

/// Open the queue.
pub async fn queue(kind: QueueKind, db: Option<&SqliteDb>) -> Result<AnyQueue, String> {
    match kind {
        QueueKind::Local => {
            let db = db.ok_or("the embedded database is not open")?;
            Ok(AnyQueue::Local {
                queue: SqliteQueue::new(db.clone()),
                wake: Arc::new(Notify::new()),
                deadline: None,
            })
        }
        QueueKind::Sqs => {
            let url = env_required("QUEUE_URL")?;
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            Ok(AnyQueue::Sqs(SqsQueue::new(
                &sdk,
                url,
                Duration::from_secs(3),
            )))
        }
        QueueKind::Memory => Ok(AnyQueue::Memory(MemoryQueue::new(
            crate::memqueue::DEFAULT_CAPACITY_BYTES,
        ))),
    }
}

pub fn env_required(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{name} is not set (needed for this store or queue)"))
}

/// Open the embedded database when a local store or queue needs it.
pub fn open_db(path: &Path, needed: bool) -> Result<Option<SqliteDb>, String> {
    if !needed {
        return Ok(None);
    }
    SqliteDb::open(path)
        .map(Some)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

const MISMATCH: &str = "delivery does not belong to this queue";

/// One message taken off a queue.
struct Delivery {
    handle: Handle,
    body: String,
    receive_count: u32,
}

/// How to acknowledge a delivery: a local row id or an SQS receipt handle.
enum Handle {
    Local(i64),
    Sqs(String),
    Memory,
}

impl AnyQueue {
    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, String> {
        match self {
            AnyQueue::Local { queue, .. } => queue
                .receive(max, VISIBILITY, now_ms())
                .await
                .map(|ds| {
                    ds.into_iter()
                        .map(|d| Delivery {
                            handle: Handle::Local(d.id),
                            body: d.body,
                            receive_count: d.receive_count,
                        })
                        .collect()
                })
                .map_err(|e| e.to_string()),
            AnyQueue::Sqs(q) => {
                let out = q
                    .client()
                    .receive_message()
                    .queue_url(q.queue_url())
                    .max_number_of_messages(i32::try_from(max.min(10)).unwrap_or(10))
                    .wait_time_seconds(1)
                    .message_system_attribute_names(
                        aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
                    )
                    .send()
                    .await
                    .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
                Ok(out
                    .messages()
                    .iter()
                    .map(|m| Delivery {
                        handle: Handle::Sqs(m.receipt_handle().unwrap_or_default().to_string()),
                        body: m.body().unwrap_or_default().to_string(),
                        receive_count: m
                            .attributes()
                            .and_then(|a| {
                                a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                            })
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(1),
                    })
                    .collect())
            }
            AnyQueue::Memory(q) => Ok(q
                .receive(max)
                .into_iter()
                .map(|d| Delivery {
                    handle: Handle::Memory,
                    body: d.body,
                    receive_count: d.receive_count,
                })
                .collect()),
        }
    }

    async fn ack(&self, d: &Delivery) -> Result<(), String> {
        match (self, &d.handle) {
            (AnyQueue::Local { queue, .. }, Handle::Local(id)) => {
                queue.ack(*id).await.map(|_| ()).map_err(|e| e.to_string())
            }
            (AnyQueue::Sqs(q), Handle::Sqs(receipt)) => q
                .client()
                .delete_message()
                .queue_url(q.queue_url())
                .receipt_handle(receipt)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string()),
            (AnyQueue::Memory(q), Handle::Memory) => {
                q.ack(d.body.len());
                Ok(())
            }
            _ => Err(MISMATCH.into()),
        }
    }

    /// Make the message visible again after a delay.
    async fn retry_later(&self, d: &Delivery, reason: &str) -> Result<(), String> {
        match (self, &d.handle) {
            (AnyQueue::Local { queue, .. }, Handle::Local(id)) => queue
                .nack_until(*id, reason, now_ms() + millis(RETRY_DELAY))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            (AnyQueue::Sqs(q), Handle::Sqs(receipt)) => q
                .client()
                .change_message_visibility()
                .queue_url(q.queue_url())
                .receipt_handle(receipt)
                .visibility_timeout(i32::try_from(RETRY_DELAY.as_secs()).unwrap_or(2))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string()),
            (AnyQueue::Memory(q), Handle::Memory) => {
                let (q, body, count) = (q.clone(), d.body.clone(), d.receive_count);
                tokio::spawn(async move {
                    tokio::time::sleep(RETRY_DELAY).await;
                    q.requeue(body, count);
                });
                Ok(())
            }
            _ => Err(MISMATCH.into()),
        }
    }

    /// Hide the message until `until_ms` without counting this receive
    /// toward dead-lettering (locally). SQS counts every receive, so there
    /// the message is hidden until `wait_end_ms` (a claim's lease end, a
    /// provider's wait) instead and received once more then.
    async fn wait_until(
        &self,
        d: &Delivery,
        until_ms: i64,
        wait_end_ms: i64,
        reason: &str,
    ) -> Result<(), String> {
        match (self, &d.handle) {
            (AnyQueue::Local { queue, .. }, Handle::Local(id)) => queue
                .defer(*id, reason, until_ms)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            (AnyQueue::Sqs(q), Handle::Sqs(receipt)) => {
                let until_ms = wait_end_ms.saturating_add(redelivery::LEASE_MARGIN_MS);
                let secs = (until_ms.saturating_sub(now_ms()) + 999) / 1000;
                // SQS allows at most 12 hours of visibility.
                let secs = i32::try_from(secs.clamp(1, 43_200)).unwrap_or(43_200);
                q.client()
                    .change_message_visibility()
                    .queue_url(q.queue_url())
                    .receipt_handle(receipt)
                    .visibility_timeout(secs)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            }
            (AnyQueue::Memory(q), Handle::Memory) => {
                let wait = Duration::from_millis(
                    u64::try_from(until_ms.saturating_sub(now_ms())).unwrap_or(0),
                );
                let (q, body, count) =
                    (q.clone(), d.body.clone(), d.receive_count.saturating_sub(1));
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    q.requeue(body, count);
                });
                Ok(())
            }
            _ => Err(MISMATCH.into()),
        }
    }

    /// Local: move to the dead-letter table. SQS: leave it; the queue's
    /// redrive policy moves it after `maxReceiveCount`.
    async fn dead_letter(&self, d: &Delivery, reason: &str) -> Result<bool, String> {
        match (self, &d.handle) {
            (AnyQueue::Local { queue, .. }, Handle::Local(id)) => queue
                .dead_letter(*id, reason)
                .await
                .map_err(|e| e.to_string()),
            (AnyQueue::Memory(q), Handle::Memory) => {
                q.dead_letter(d.body.len());
                tracing::warn!(reason, "in-process queue: message dropped as a dead letter");
                Ok(true)
            }
            _ => self.retry_later(d, reason).await.map(|_| false),
        }
    }

    /// Messages waiting or in flight (local only; SQS reports 0).
    pub async fn pending(&self) -> u64 {
        match self {
            AnyQueue::Local { queue, .. } => {
                let now = now_ms();
                let waiting = queue.depth(now).await.unwrap_or(0);
                let in_flight = queue.in_flight(now).await.unwrap_or(0);
                waiting + in_flight
            }
            AnyQueue::Memory(q) => q.pending(),
            AnyQueue::Sqs(_) => 0,
        }
    }

    /// Messages waiting to be received now (local only).
    pub async fn waiting(&self) -> u64 {
        match self {
            AnyQueue::Local { queue, .. } => queue.depth(now_ms()).await.unwrap_or(0),
            AnyQueue::Memory(q) => q.waiting(),
            AnyQueue::Sqs(_) => 0,
        }
    }

    async fn wait_for_work(&self) {
        match self {
            AnyQueue::Local { wake, .. } => {
                let _ = tokio::time::timeout(Duration::from_millis(500), wake.notified()).await;
            }
            AnyQueue::Memory(q) => {
                let _ = tokio::time::timeout(Duration::from_millis(500), q.notified()).await;
            }
            AnyQueue::Sqs(_) => {}
        }
    }
}

/// How the worker loop ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopMode {
    /// Run until shutdown is signalled, then drain what is queued.
    UntilShutdown,
    /// Run until the queue has nothing waiting (replay).
    UntilEmpty,
}

/// Longest drain after shutdown; what is left stays queued on disk.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Consume the queue with the worker until told to stop.
pub async fn worker_loop(
    worker: Arc<LocalWorker>,
    queue: AnyQueue,
    printer: Arc<Printer>,
    mut shutdown: watch::Receiver<bool>,
    mode: LoopMode,
    on_done: Option<Arc<dyn Fn() + Send + Sync>>,
) {
    let concurrency = worker.settings.concurrency.max(1);
    let mut drain_started: Option<Instant> = None;
    loop {
        if *shutdown.borrow() && drain_started.is_none() {
            drain_started = Some(Instant::now());
        }
        if drain_started.is_some_and(|t| t.elapsed() > DRAIN_LIMIT) {
            tracing::warn!("drain limit reached; the rest stays queued for the next start");
            return;
        }
        let batch = match queue.receive(concurrency * 2).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "queue receive failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.is_empty() {
            if mode == LoopMode::UntilEmpty && queue.pending().await == 0 {
                return;
            }
            // Draining: what is delayed for a retry stays queued on disk.
            if drain_started.is_some() && queue.waiting().await == 0 {
                return;
            }
            if drain_started.is_some() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            tokio::select! {
                _ = queue.wait_for_work() => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        futures_util::stream::iter(batch)
            .for_each_concurrent(concurrency, |d| {
                let worker = worker.clone();
                let queue = queue.clone();
                let printer = printer.clone();
                let on_done = on_done.clone();
                async move {
                    let deadline = Instant::now() + Duration::from_secs(30);
                    let (ids, result) = worker.process(&d.body, now_ms(), deadline).await;
                    let event = match result {
                        Ok(outcome) => {
                            if let Err(e) = queue.ack(&d).await {
                                tracing::warn!(error = %e, "ack failed; the message will be redelivered and deduplicated");
                            }
                            Event::Done(ids, outcome)
                        }
                        Err(failure) => {
                            // The core's redelivery rule: permanent failures
                            // dead-lettered at once, transient ones retried,
                            // waits (another worker's claim, a throttled
                            // provider) never spending a receive.
                            let reason = triage_core::logsafe::escape_capped(
                                &failure.to_string(),
                                redelivery::REASON_CAP,
                            );
                            let now = now_ms();
                            let dead_lettered =
                                match disposition(failure.setback(now), d.receive_count, 0, now) {
                                    Disposition::DeadLetter => {
                                        queue.dead_letter(&d, &reason).await.unwrap_or(false)
                                    }
                                    Disposition::RetryAt { counts: true, .. } => {
                                        let _ = queue.retry_later(&d, &reason).await;
                                        false
                                    }
                                    Disposition::RetryAt { at_ms, counts: false } => {
                                        let wait_end = match failure {
                                            Failure::InProgress { lease_until_ms } => lease_until_ms,
                                            _ => at_ms,
                                        };
                                        if let Err(e) = queue.wait_until(&d, at_ms, wait_end, &reason).await {
                                            tracing::warn!(error = %e, "could not defer; retrying sooner");
                                            let _ = queue.retry_later(&d, &reason).await;
                                        }
                                        false
                                    }
                                };
                            Event::Failed { ids, failure, dead_lettered }
                        }
                    };
                    printer.event(&event);
                    if let Some(f) = &on_done {
                        f();
                    }
                }
            })
            .await;
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
