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
    ClaimOutcome, ClaimTimes, DedupeKey, IdempotencyStore, NotificationQueue, QueueConsumer,
    QueueError, Received, StoreError, TicketFilter, TicketStore,
};
use triage_core::redelivery::{DeadLetter, Disposition, disposition};
use triage_core::remember::RememberCompleted;
use triage_core::ticket::{Ticket, TicketWrite};
use triage_dynamodb::{DynamoAckLedger, DynamoIdempotency, DynamoTickets};
use triage_nylas::{CachedFolders, NylasClient};
use triage_sqlite::{SqliteDb, SqliteQueue, SqliteStore};
use triage_sqs::SqsQueue;
use triage_sqs::consumer::SqsConsumer;
use triage_worker::Worker;
use triage_worker::compose::AckSenders;

use crate::memqueue::MemoryQueue;
use crate::output::{Event, Printer};

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
    /// SQS: sends through the queue, polls through the consumer (with the
    /// DLQ, when `DLQ_URL` is set, for dead letters with their reason).
    Sqs {
        queue: SqsQueue,
        consumer: SqsConsumer,
    },
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
            AnyQueue::Sqs { queue, .. } => queue.send_all(messages).await,
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
    Option<crate::inbox_dir::FolderRawMail>,
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
) -> Result<(AnyIdempotency, AnyTickets), crate::error::CliError> {
    stores_and_ledger(kind, db)
        .await
        .map(|(idempotency, tickets, _)| (idempotency, tickets))
}

/// Open the stores and the acknowledgement records.
pub async fn stores_and_ledger(
    kind: StoreKind,
    db: Option<&SqliteDb>,
) -> Result<(AnyIdempotency, AnyTickets, AnyLedger), crate::error::CliError> {
    match kind {
        StoreKind::Sqlite => {
            let db = db.ok_or(crate::error::CliError::DatabaseNotOpen)?;
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
pub async fn queue(
    kind: QueueKind,
    db: Option<&SqliteDb>,
) -> Result<AnyQueue, crate::error::CliError> {
    match kind {
        QueueKind::Local => {
            let db = db.ok_or(crate::error::CliError::DatabaseNotOpen)?;
            Ok(AnyQueue::Local {
                queue: SqliteQueue::new(db.clone()),
                wake: Arc::new(Notify::new()),
                deadline: None,
            })
        }
        QueueKind::Sqs => {
            let url = env_required("QUEUE_URL")?;
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let queue = SqsQueue::new(&sdk, url, Duration::from_secs(3));
            let dlq = std::env::var("DLQ_URL")
                .ok()
                .filter(|v| !v.trim().is_empty());
            Ok(AnyQueue::Sqs {
                consumer: SqsConsumer::new(queue.clone(), dlq),
                queue,
            })
        }
        QueueKind::Memory => Ok(AnyQueue::Memory(MemoryQueue::new(
            crate::memqueue::DEFAULT_CAPACITY_BYTES,
        ))),
    }
}

pub fn env_required(name: &str) -> Result<String, crate::error::CliError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| crate::error::CliError::MissingEnv {
            name: name.to_owned(),
        })
}

/// Open the embedded database when a local store or queue needs it.
pub fn open_db(path: &Path, needed: bool) -> Result<Option<SqliteDb>, crate::error::CliError> {
    if !needed {
        return Ok(None);
    }
    SqliteDb::open(path)
        .map(Some)
        .map_err(|source| crate::error::CliError::OpenDatabase {
            path: path.to_path_buf(),
            source,
        })
}

/// The consumer side of the queue chosen at run time: each adapter's
/// [`QueueConsumer`], so the worker loop carries out the core's redelivery
/// rule the same way on each.
impl QueueConsumer for AnyQueue {
    async fn receive(&self, max: usize, now_ms: i64) -> Result<Vec<Received>, QueueError> {
        match self {
            AnyQueue::Local { queue, .. } => QueueConsumer::receive(queue, max, now_ms).await,
            AnyQueue::Sqs { consumer, .. } => consumer.receive(max, now_ms).await,
            AnyQueue::Memory(q) => QueueConsumer::receive(q, max, now_ms).await,
        }
    }

    async fn ack(&self, m: &Received) -> Result<(), QueueError> {
        match self {
            AnyQueue::Local { queue, .. } => QueueConsumer::ack(queue, m).await,
            AnyQueue::Sqs { consumer, .. } => consumer.ack(m).await,
            AnyQueue::Memory(q) => QueueConsumer::ack(q, m).await,
        }
    }

    async fn retry_at(
        &self,
        m: &Received,
        at_ms: i64,
        counts: bool,
        reason: &str,
        now_ms: i64,
    ) -> Result<(), QueueError> {
        match self {
            AnyQueue::Local { queue, .. } => queue.retry_at(m, at_ms, counts, reason, now_ms).await,
            AnyQueue::Sqs { consumer, .. } => {
                consumer.retry_at(m, at_ms, counts, reason, now_ms).await
            }
            AnyQueue::Memory(q) => q.retry_at(m, at_ms, counts, reason, now_ms).await,
        }
    }

    fn gives_back_receives(&self) -> bool {
        match self {
            AnyQueue::Local { queue, .. } => queue.gives_back_receives(),
            AnyQueue::Sqs { consumer, .. } => consumer.gives_back_receives(),
            AnyQueue::Memory(q) => q.gives_back_receives(),
        }
    }

    async fn dead_letter(&self, m: &Received, letter: &DeadLetter) -> Result<bool, QueueError> {
        match self {
            AnyQueue::Local { queue, .. } => QueueConsumer::dead_letter(queue, m, letter).await,
            AnyQueue::Sqs { consumer, .. } => consumer.dead_letter(m, letter).await,
            AnyQueue::Memory(q) => QueueConsumer::dead_letter(q, m, letter).await,
        }
    }
}

impl AnyQueue {
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
            AnyQueue::Sqs { .. } => 0,
        }
    }

    /// Messages waiting to be received now (local only).
    pub async fn waiting(&self) -> u64 {
        match self {
            AnyQueue::Local { queue, .. } => queue.depth(now_ms()).await.unwrap_or(0),
            AnyQueue::Memory(q) => q.waiting(),
            AnyQueue::Sqs { .. } => 0,
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
            AnyQueue::Sqs { .. } => {}
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
        let batch = match queue.receive(concurrency * 2, now_ms()).await {
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
                            let now = now_ms();
                            let letter = DeadLetter::new(
                                failure.code(),
                                &failure.to_string(),
                                d.receive_count,
                                now,
                            );
                            let dead_lettered =
                                match disposition(
                                    failure.setback(now),
                                    d.receive_count,
                                    0,
                                    now,
                                    queue.gives_back_receives(),
                                ) {
                                    Disposition::DeadLetter => {
                                        queue.dead_letter(&d, &letter).await.unwrap_or(false)
                                    }
                                    Disposition::RetryAt { at_ms, counts } => {
                                        if let Err(e) = queue.retry_at(&d, at_ms, counts, &letter.reason, now).await {
                                            tracing::warn!(error = %e, "could not delay the retry; the visibility timeout brings it back");
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
