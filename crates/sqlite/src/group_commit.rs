//! Group commit: every write of a [`SqliteDb`](crate::SqliteDb) goes to one
//! writer thread, which commits the writes that queued while its previous
//! commit ran as ONE transaction, with one fsync.
//!
//! * **Batches.** The thread takes the oldest waiting write, then every
//!   write already waiting behind it, up to [`MAX_BATCH_WRITES`] writes or
//!   [`MAX_BATCH_BYTES`] of declared payload (a queue send declares its
//!   bodies). Nothing waits for more writes to arrive: under light load a
//!   batch is one write, as before; under load the batch is whatever queued
//!   during the previous commit.
//! * **Isolation.** The batch runs in one `BEGIN IMMEDIATE` transaction;
//!   each write runs inside its own `SAVEPOINT`: released when the write
//!   returns `Ok`, rolled back to (and released) when it returns an error or
//!   panics, so a failing write leaves nothing and the others are kept.
//!   Writes run one after another in queue order, each seeing the ones
//!   before it, exactly as if they had been separate transactions.
//! * **Durability.** Every caller is answered after the `COMMIT` of the
//!   transaction holding its write (WAL, `synchronous=FULL`: durable on
//!   return). A failed `COMMIT` fails every write of the batch, none of them
//!   acknowledged. An error that makes SQLite abandon the whole transaction
//!   (I/O, disk full) fails the writes that ran before it in that
//!   transaction; the writes after it run in a new transaction.
//! * **Fairness.** The queue is FIFO and every writer (the webhook
//!   endpoint, the worker, the outbox drain) uses it: a write waits for at
//!   most the batch in progress and the writes queued ahead of it, never
//!   for a later one.
//! * **Deadlines.** A write with a deadline ([`SqliteDb::write_by`](crate::SqliteDb))
//!   is skipped when its caller has given up before it runs, and rolled
//!   back to its savepoint when the caller gives up while it runs; once it
//!   is released into the batch its caller waits for the batch's outcome.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::db::BUSY_TIMEOUT;
use crate::error::SqliteError;

/// At most this many writes share one transaction.
pub const MAX_BATCH_WRITES: usize = 256;

/// A batch takes no further write once the payload its writes declared
/// reaches this many bytes (a single larger write still goes alone).
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// [`Deadline::gate`]: the caller still waits.
pub(crate) const PENDING: u8 = 0;
/// The write is released into its batch; the caller waits for the commit.
pub(crate) const COMMITTING: u8 = 1;
/// The caller gave up; the write must not be committed.
pub(crate) const ABANDONED: u8 = 2;

/// Counters of the writer, for tests and diagnostics
/// ([`SqliteDb::write_stats`](crate::SqliteDb::write_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Writes handed to the writer thread.
    pub submitted: u64,
    /// Transactions committed (one fsync each).
    pub commits: u64,
    /// Writes made durable by those commits.
    pub committed_writes: u64,
    /// Transactions rolled back whole: their `COMMIT` failed, or SQLite
    /// abandoned them half way (every write kept in them failed).
    pub failed_commits: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    submitted: AtomicU64,
    commits: AtomicU64,
    committed_writes: AtomicU64,
    failed_commits: AtomicU64,
}

impl Counters {
    pub(crate) fn submitted(&self) {
        self.submitted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> WriteStats {
        WriteStats {
            submitted: self.submitted.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            committed_writes: self.committed_writes.load(Ordering::Relaxed),
            failed_commits: self.failed_commits.load(Ordering::Relaxed),
        }
    }
}

/// When the caller of a write stops waiting.
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) started: Instant,
    /// [`PENDING`], then [`COMMITTING`] (set by the writer) or
    /// [`ABANDONED`] (set by the caller), whichever comes first.
    pub(crate) gate: Arc<AtomicU8>,
}

impl Deadline {
    fn gave_up(&self, context: &str) -> SqliteError {
        SqliteError::Deadline {
            context: context.to_string(),
            waited_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn live(&self, now: Instant) -> bool {
        now < self.at && self.gate.load(Ordering::Acquire) == PENDING
    }
}

/// One write waiting for the writer thread.
pub(crate) struct Job {
    pub(crate) context: String,
    /// Payload size the write declared (for [`MAX_BATCH_BYTES`]).
    pub(crate) bytes: usize,
    pub(crate) deadline: Option<Deadline>,
    pub(crate) work: Box<dyn Work>,
}

impl Job {
    /// Answer the caller: `Ok` only when its write ran and was committed.
    fn answer(self, outcome: Result<(), SqliteError>) {
        let outcome = match (outcome, &self.deadline) {
            (Err(e), Some(d)) if e.is_busy() => Err(d.gave_up(&self.context)),
            (outcome, _) => outcome,
        };
        self.work.answer(outcome);
    }

    /// The error of a write whose transaction did not commit.
    fn not_committed(&self, e: &rusqlite::Error) -> SqliteError {
        SqliteError::Sqlite {
            context: format!("{}: commit", self.context),
            source: copy_error(e),
        }
    }
}

/// A write, type-erased: run it in the transaction, answer later.
pub(crate) trait Work: Send {
    /// Run the write; keep its output for [`answer`](Work::answer).
    fn run(&mut self, tx: &Transaction<'_>) -> Result<(), SqliteError>;
    /// Send the caller its output (when `outcome` is `Ok`) or the error.
    fn answer(self: Box<Self>, outcome: Result<(), SqliteError>);
}

/// [`Work`] for a closure returning `T`, answered on a oneshot channel.
pub(crate) struct Task<T, F> {
    f: Option<F>,
    out: Option<T>,
    reply: oneshot::Sender<Result<T, SqliteError>>,
}

impl<T, F> Task<T, F> {
    pub(crate) fn new(f: F, reply: oneshot::Sender<Result<T, SqliteError>>) -> Self {
        Task {
            f: Some(f),
            out: None,
            reply,
        }
    }
}

impl<T, F> Work for Task<T, F>
where
    T: Send,
    F: FnOnce(&Transaction<'_>) -> Result<T, SqliteError> + Send,
{
    fn run(&mut self, tx: &Transaction<'_>) -> Result<(), SqliteError> {
        let Some(f) = self.f.take() else {
            return Err(SqliteError::Task {
                context: "group commit".into(),
                detail: "a write was run twice".into(),
            });
        };
        self.out = Some(f(tx)?);
        Ok(())
    }

    fn answer(self: Box<Self>, outcome: Result<(), SqliteError>) {
        let Task { out, reply, .. } = *self;
        let answer = match (outcome, out) {
            (Ok(()), Some(out)) => Ok(out),
            (Err(e), _) => Err(e),
            (Ok(()), None) => Err(SqliteError::Task {
                context: "group commit".into(),
                detail: "a write was answered without running".into(),
            }),
        };
        // The caller may have stopped waiting (a deadline, a dropped
        // future): the write's outcome stands either way.
        let _ = reply.send(answer);
    }
}

/// The writer thread: batches from `jobs` until every sender is gone.
pub(crate) fn run_writer(
    conn: Arc<Mutex<Connection>>,
    jobs: Receiver<Job>,
    counters: Arc<Counters>,
) {
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let mut bytes = first.bytes;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_WRITES && bytes < MAX_BATCH_BYTES {
            match jobs.try_recv() {
                Ok(job) if bytes.saturating_add(job.bytes) > MAX_BATCH_BYTES => {
                    carry = Some(job);
                    break;
                }
                Ok(job) => {
                    bytes = bytes.saturating_add(job.bytes);
                    batch.push(job);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        commit_batch(&conn, batch, &counters);
    }
}

/// Commit `batch`: normally one transaction; more only when SQLite
/// abandoned a transaction half way (see the module docs).
fn commit_batch(conn: &Mutex<Connection>, batch: Vec<Job>, counters: &Counters) {
    let mut conn = match conn.lock() {
        Ok(conn) => conn,
        Err(_) => {
            for job in batch {
                let e = SqliteError::Poisoned(job.context.clone());
                job.answer(Err(e));
            }
            return;
        }
    };
    let mut waiting: VecDeque<Job> = batch.into();
    while !waiting.is_empty() {
        one_transaction(&mut conn, &mut waiting, counters);
    }
}

/// What became of one write in the transaction.
enum Ran {
    /// Released into the transaction: its fate is the `COMMIT`'s.
    Kept(Job),
    /// Failed (or skipped) and rolled back: answered with its error.
    Failed(Job, SqliteError),
}

/// Run writes from the front of `waiting` in one transaction and commit it.
/// Takes at least one write off `waiting`, and answers every write it takes.
fn one_transaction(conn: &mut Connection, waiting: &mut VecDeque<Job>, counters: &Counters) {
    // Writes whose callers already gave up are answered without running.
    let now = Instant::now();
    let mut live = VecDeque::with_capacity(waiting.len());
    for job in waiting.drain(..) {
        match &job.deadline {
            Some(d) if !d.live(now) => {
                let e = d.gave_up(&job.context);
                job.answer(Err(e));
            }
            _ => live.push_back(job),
        }
    }
    *waiting = live;
    if waiting.is_empty() {
        return;
    }

    // When every caller has a deadline, wait for another process's write
    // lock no longer than the latest of them.
    let busy = waiting
        .iter()
        .map(|job| {
            job.deadline
                .as_ref()
                .map(|d| d.at.saturating_duration_since(now))
        })
        .try_fold(Duration::ZERO, |max, left| left.map(|left| max.max(left)))
        .map_or(BUSY_TIMEOUT, |left| left.min(BUSY_TIMEOUT));
    let shortened = busy < BUSY_TIMEOUT && conn.busy_timeout(busy).is_ok();

    let done = transact(conn, waiting);
    restore_busy_timeout(conn, shortened);
    let (ran, outcome) = match done {
        Ok(done) => done,
        Err(e) => {
            for job in waiting.drain(..) {
                let e = SqliteError::Sqlite {
                    context: format!("{}: begin", job.context),
                    source: copy_error(&e),
                };
                job.answer(Err(e));
            }
            return;
        }
    };

    let kept = ran.iter().filter(|r| matches!(r, Ran::Kept(_))).count();
    match &outcome {
        Ok(()) => {
            counters.commits.fetch_add(1, Ordering::Relaxed);
            let kept = u64::try_from(kept).unwrap_or(u64::MAX);
            counters.committed_writes.fetch_add(kept, Ordering::Relaxed);
        }
        Err(e) => {
            counters.failed_commits.fetch_add(1, Ordering::Relaxed);
            if kept > 0 {
                tracing::warn!(writes = kept, error = %e, "sqlite group commit failed; none of its writes acknowledged");
            }
        }
    }
    for r in ran {
        match r {
            Ran::Kept(job) => match &outcome {
                Ok(()) => job.answer(Ok(())),
                Err(e) => {
                    let e = job.not_committed(e);
                    job.answer(Err(e));
                }
            },
            Ran::Failed(job, e) => job.answer(Err(e)),
        }
    }
}

/// The writes a transaction ran, and the outcome of its `COMMIT`.
type Transacted = (Vec<Ran>, Result<(), rusqlite::Error>);

/// Begin, run writes from the front of `waiting`, commit; or the error of
/// the `BEGIN`.
fn transact(
    conn: &mut Connection,
    waiting: &mut VecDeque<Job>,
) -> Result<Transacted, rusqlite::Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (ran, broken) = run_writes(&tx, waiting);
    let outcome = match broken {
        // SQLite rolled the transaction back already, or it cannot go on:
        // dropping `tx` rolls back whatever is left of it.
        Some(e) => {
            drop(tx);
            Err(e)
        }
        None => tx.commit(),
    };
    Ok((ran, outcome))
}

/// Run writes from the front of `waiting`, each in its own savepoint.
/// Stops early, with the error, when the transaction became unusable
/// (the writes not run stay in `waiting`).
fn run_writes(
    tx: &Transaction<'_>,
    waiting: &mut VecDeque<Job>,
) -> (Vec<Ran>, Option<rusqlite::Error>) {
    let mut ran = Vec::with_capacity(waiting.len());
    while let Some(mut job) = waiting.pop_front() {
        if let Some(d) = job.deadline.as_ref().filter(|d| !d.live(Instant::now())) {
            let e = d.gave_up(&job.context);
            ran.push(Ran::Failed(job, e));
            continue;
        }
        if let Err(e) = savepoint(tx, "SAVEPOINT triage_write") {
            let broken = tx.is_autocommit().then(|| copy_error(&e));
            let e = SqliteError::Sqlite {
                context: format!("{}: savepoint", job.context),
                source: e,
            };
            ran.push(Ran::Failed(job, e));
            if broken.is_some() {
                return (ran, broken);
            }
            continue;
        }
        let result = match catch_unwind(AssertUnwindSafe(|| job.work.run(tx))) {
            Ok(result) => result,
            Err(_) => Err(SqliteError::Task {
                context: job.context.clone(),
                detail: "the write panicked; rolled back".into(),
            }),
        };
        // A write with a deadline is released only if its caller still waits.
        let result = result.and_then(|()| match &job.deadline {
            Some(d)
                if d.gate
                    .compare_exchange(PENDING, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
                    .is_err() =>
            {
                Err(d.gave_up(&job.context))
            }
            _ => Ok(()),
        });
        let settled = match &result {
            Ok(()) => savepoint(tx, "RELEASE triage_write"),
            Err(_) if tx.is_autocommit() => Err(transaction_gone()),
            Err(_) => savepoint(tx, "ROLLBACK TO triage_write")
                .and_then(|()| savepoint(tx, "RELEASE triage_write")),
        };
        match (result, settled) {
            (Ok(()), Ok(())) => ran.push(Ran::Kept(job)),
            (Err(e), Ok(())) => ran.push(Ran::Failed(job, e)),
            (result, Err(e)) => {
                // The transaction cannot go on: whatever this write did
                // cannot be separated from the others any more.
                let own = match result {
                    Err(own) => own,
                    Ok(()) => SqliteError::Sqlite {
                        context: format!("{}: release savepoint", job.context),
                        source: copy_error(&e),
                    },
                };
                ran.push(Ran::Failed(job, own));
                return (ran, Some(e));
            }
        }
    }
    (ran, None)
}

fn savepoint(tx: &Transaction<'_>, sql: &str) -> Result<(), rusqlite::Error> {
    tx.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn transaction_gone() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("the shared transaction was rolled back by a failing write; nothing written".into()),
    )
}

/// Back to the usual wait for another process's lock, after a batch that
/// shortened it. A failure here shows on the next write.
fn restore_busy_timeout(conn: &Connection, shortened: bool) {
    if shortened {
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
    }
}

/// A copy of `e` for each caller of a batch (rusqlite errors are not
/// `Clone`): SQLite failures keep their codes, anything else its message.
fn copy_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::mpsc;

    use rusqlite::ErrorCode;
    use tempfile::TempDir;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::SqliteDb;
    use crate::error::Ctx;

    fn open() -> (TempDir, SqliteDb) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(dir.path().join("gc/triage.db")).expect("open db");
        (dir, db)
    }

    async fn create_table(db: &SqliteDb) {
        db.write("create t".into(), |tx| {
            tx.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY)")
                .ctx(|| "create t".into())
        })
        .await
        .expect("create t");
    }

    fn insert(tx: &Transaction<'_>, k: i64) -> Result<(), SqliteError> {
        tx.execute("INSERT INTO t (k) VALUES (?1)", [k])
            .map(|_| ())
            .ctx(|| format!("insert {k}"))
    }

    async fn stored(db: &SqliteDb) -> BTreeSet<i64> {
        db.read("read t", |conn| {
            let mut st = conn.prepare("SELECT k FROM t").ctx(|| "read t".into())?;
            let rows = st.query_map([], |r| r.get(0)).ctx(|| "read t".into())?;
            rows.collect::<Result<_, _>>().ctx(|| "read t".into())
        })
        .await
        .expect("read t")
    }

    /// Keep the writer thread inside a write until the sender is used (or
    /// dropped): writes submitted meanwhile wait together for the next batch.
    async fn hold_writer(db: &SqliteDb) -> (mpsc::Sender<()>, JoinHandle<Result<(), SqliteError>>) {
        let (running, is_running) = oneshot::channel();
        let (release, released) = mpsc::channel::<()>();
        let db = db.clone();
        let held = tokio::spawn(async move {
            db.write("hold the writer".into(), move |_tx| {
                let _ = running.send(());
                let _ = released.recv();
                Ok(())
            })
            .await
        });
        is_running.await.expect("the holding write runs");
        (release, held)
    }

    /// Wait (without a time limit) until `n` writes were handed over.
    async fn until_submitted(db: &SqliteDb, n: u64) {
        while db.write_stats().submitted < n {
            tokio::task::yield_now().await;
        }
    }

    fn spawn_write<F>(db: &SqliteDb, k: i64, f: F) -> JoinHandle<Result<(), SqliteError>>
    where
        F: FnOnce(&Transaction<'_>) -> Result<(), SqliteError> + Send + 'static,
    {
        let db = db.clone();
        tokio::spawn(async move { db.write(format!("write {k}"), f).await })
    }

    /// 200 concurrent writes, a quarter failing on purpose (an error after
    /// an insert, a constraint violation after an insert, a panic): every
    /// successful one is committed, no failed one left a row, and they
    /// shared commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_failed_ones_leave_nothing() {
        let (_dir, db) = open();
        create_table(&db).await;
        let fails = |k: i64| k % 10 == 3 || k % 10 == 7 || k == 99;

        let (release, held) = hold_writer(&db).await;
        let before = db.write_stats();
        let n: i64 = 200;
        let writes: Vec<_> = (0..n)
            .map(|k| {
                spawn_write(&db, k, move |tx| {
                    insert(tx, k)?;
                    match k {
                        99 => panic!("write 99 panics on purpose"),
                        _ if k % 10 == 3 => Err(SqliteError::Inconsistent(format!(
                            "write {k} fails on purpose"
                        ))),
                        // The same key again: SQLite refuses the statement.
                        _ if k % 10 == 7 => insert(tx, k),
                        _ => Ok(()),
                    }
                })
            })
            .collect();
        until_submitted(&db, before.submitted + n as u64).await;
        release.send(()).expect("release");
        held.await.expect("join").expect("the holding write");

        let mut succeeded = BTreeSet::new();
        for (k, write) in (0..n).zip(writes) {
            match write.await.expect("join") {
                Ok(()) => {
                    assert!(!fails(k), "write {k} should have failed");
                    succeeded.insert(k);
                }
                Err(e) => assert!(fails(k), "write {k} failed: {e}"),
            }
        }
        let expected: BTreeSet<i64> = (0..n).filter(|k| !fails(*k)).collect();
        assert_eq!(succeeded, expected);
        assert_eq!(stored(&db).await, expected, "exactly the successful writes");

        let after = db.write_stats();
        let commits = after.commits - before.commits;
        let committed = after.committed_writes - before.committed_writes;
        assert_eq!(
            committed,
            expected.len() as u64 + 1,
            "+1: the holding write"
        );
        assert!(
            commits < committed,
            "{commits} commits for {committed} writes"
        );
        // All 200 queued behind the holding write: one batch (<= 256).
        assert_eq!(commits, 2);
        assert_eq!(after.failed_commits, before.failed_commits);
    }

    /// A `COMMIT` that fails (a deferred foreign key, checked at commit)
    /// fails every write of its batch, and none of them is written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_fails_every_write_of_its_batch() {
        let (_dir, db) = open();
        db.with_writer_connection(|conn| {
            conn.execute_batch(
                "PRAGMA foreign_keys = ON;
                 CREATE TABLE t (k INTEGER PRIMARY KEY);
                 CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER
                     REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
            )
        })
        .expect("schema");

        let (release, held) = hold_writer(&db).await;
        let before = db.write_stats();
        let n: i64 = 20;
        let writes: Vec<_> = (0..n)
            .map(|k| {
                spawn_write(&db, k, move |tx| {
                    insert(tx, k)?;
                    if k == 13 {
                        // Accepted now, refused by the COMMIT.
                        tx.execute("INSERT INTO child (id, parent) VALUES (1, 42)", [])
                            .ctx(|| "dangling child".into())?;
                    }
                    Ok(())
                })
            })
            .collect();
        until_submitted(&db, before.submitted + n as u64).await;
        release.send(()).expect("release");
        held.await.expect("join").expect("the holding write");

        for (k, write) in (0..n).zip(writes) {
            let e = write
                .await
                .expect("join")
                .expect_err("every write of the batch fails");
            assert_eq!(
                e.sqlite_code(),
                Some(ErrorCode::ConstraintViolation),
                "write {k}: {e}"
            );
            assert!(e.to_string().contains(": commit"), "write {k}: {e}");
        }
        assert!(stored(&db).await.is_empty(), "nothing of the batch written");
        let after = db.write_stats();
        assert_eq!(after.failed_commits - before.failed_commits, 1);
        assert_eq!(after.commits - before.commits, 1, "the holding write only");

        // The connection goes on.
        db.write("after".into(), |tx| insert(tx, 100))
            .await
            .expect("a later write");
        assert_eq!(stored(&db).await, BTreeSet::from([100]));
    }

    /// A write that ends the shared transaction itself: it and the writes
    /// before it in that transaction fail (none acknowledged); the writes
    /// after it run in a new transaction.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_ends_the_transaction_fails_the_writes_before_it() {
        let (_dir, db) = open();
        create_table(&db).await;

        let (release, held) = hold_writer(&db).await;
        let before = db.write_stats();
        let n: i64 = 10;
        let mut writes = Vec::new();
        for k in 0..n {
            writes.push(spawn_write(&db, k, move |tx| {
                insert(tx, k)?;
                if k == 4 {
                    tx.execute_batch("ROLLBACK").ctx(|| "rollback".into())?;
                }
                Ok(())
            }));
            // In order: write k is queued before write k + 1.
            until_submitted(&db, before.submitted + k as u64 + 1).await;
        }
        release.send(()).expect("release");
        held.await.expect("join").expect("the holding write");

        for (k, write) in (0..n).zip(writes) {
            let answer = write.await.expect("join");
            assert_eq!(answer.is_ok(), k > 4, "write {k}: {answer:?}");
        }
        assert_eq!(stored(&db).await, (5..n).collect());
        let after = db.write_stats();
        assert_eq!(after.failed_commits - before.failed_commits, 1);
        assert_eq!(after.commits - before.commits, 2);
    }

    /// A write with a deadline whose caller gives up while it waits for the
    /// writer is never committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_given_up_before_it_ran_is_not_committed() {
        let (_dir, db) = open();
        create_table(&db).await;

        let (release, held) = hold_writer(&db).await;
        let late = db
            .write_by(
                Instant::now() + Duration::from_millis(20),
                "late write".into(),
                0,
                |tx| insert(tx, 1),
            )
            .await;
        assert!(
            matches!(late, Err(SqliteError::Deadline { .. })),
            "{late:?}"
        );
        let kept = spawn_write(&db, 2, |tx| insert(tx, 2));
        release.send(()).expect("release");
        held.await.expect("join").expect("the holding write");
        kept.await.expect("join").expect("write 2");
        assert_eq!(stored(&db).await, BTreeSet::from([2]));
    }
}
