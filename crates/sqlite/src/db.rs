//! [`SqliteDb`]: one database file, opened once per process and cloned.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
pub(crate) use triage_clock::now_ms;

use rusqlite::{Connection, Transaction};
use tokio::sync::oneshot;

use crate::error::{Ctx, SqliteError};
use crate::group_commit::{
    ABANDONED, Counters, Deadline, Job, PENDING, Task, WriteStats, run_writer,
};
use crate::schema;

/// Where the local `triage` binary keeps its database by default.
pub const DEFAULT_PATH: &str = ".triage/triage.db";

/// How long a statement waits for another connection's write lock before
/// failing with `SQLITE_BUSY` (mapped to a transient error).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One SQLite database (file or in-memory) holding the idempotency records,
/// the tickets and the local queue.
///
/// Cheap to clone: clones share the same connections. Open it once per
/// process; several processes may open the same file (writes are serialized
/// by SQLite's lock, `BEGIN IMMEDIATE` plus [`BUSY_TIMEOUT`]).
///
/// Async callers are never blocked. Writes go to one writer thread and its
/// connection, which commits the writes waiting together in one
/// `BEGIN IMMEDIATE` transaction, each in its own savepoint (group commit:
/// see [`crate::group_commit`]); every write is answered once the
/// transaction holding it is durable. Reads (`list`, counts) run on tokio's
/// blocking pool on a second connection, which WAL mode lets run beside a
/// write.
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    path: Option<PathBuf>,
    /// Used by the writer thread (and by reads in memory).
    writer: Arc<Mutex<Connection>>,
    /// `None` in memory (a second connection would be another database).
    reader: Option<Mutex<Connection>>,
    /// The writer thread's queue; it stops when the last clone is dropped.
    jobs: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

impl Inner {
    /// Start the writer thread of `writer`.
    fn new(
        path: Option<PathBuf>,
        writer: Connection,
        reader: Option<Mutex<Connection>>,
    ) -> Result<Inner, SqliteError> {
        let writer = Arc::new(Mutex::new(writer));
        let counters = Arc::new(Counters::default());
        let (jobs, queue) = mpsc::channel();
        let (conn, thread_counters) = (writer.clone(), counters.clone());
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(conn, queue, thread_counters))
            .map_err(|e| SqliteError::Task {
                context: "start the sqlite writer thread".into(),
                detail: e.to_string(),
            })?;
        Ok(Inner {
            path,
            writer,
            reader,
            jobs,
            counters,
        })
    }
}

impl fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteDb")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteDb {
    /// Open (or create) the database file at `path`: creates missing parent
    /// directories, switches to WAL mode with `synchronous=FULL` (a committed
    /// write survives a crash or power loss), sets the busy timeout and
    /// brings the schema up to date (`PRAGMA user_version`).
    ///
    /// Blocking: call it at startup, or from `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteDb, SqliteError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_dir_all(parent)?;
        }
        let shown = path.display().to_string();
        let writer = Connection::open(&path).ctx(|| format!("open {shown}"))?;
        configure(&writer, &shown)?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .ctx(|| format!("set WAL mode on {shown}"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %shown, %mode, "SQLite WAL mode unavailable; using {mode}");
        }
        schema::migrate(&writer, &shown)?;

        let reader = Connection::open(&path).ctx(|| format!("open {shown} for reading"))?;
        configure(&reader, &shown)?;
        reader
            .pragma_update(None, "query_only", true)
            .ctx(|| format!("make the reader of {shown} query-only"))?;

        tracing::debug!(path = %shown, "sqlite database open");
        Ok(SqliteDb {
            inner: Arc::new(Inner::new(Some(path), writer, Some(Mutex::new(reader)))?),
        })
    }

    /// A private in-memory database (tests, dry runs). Gone when the last
    /// clone is dropped.
    pub fn open_in_memory() -> Result<SqliteDb, SqliteError> {
        let conn = Connection::open_in_memory().ctx(|| "open in-memory database".into())?;
        configure(&conn, ":memory:")?;
        schema::migrate(&conn, ":memory:")?;
        Ok(SqliteDb {
            inner: Arc::new(Inner::new(None, conn, None)?),
        })
    }

    /// The file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The schema version stored in the file (`PRAGMA user_version`).
    pub async fn schema_version(&self) -> Result<i64, SqliteError> {
        self.read("read schema version", |conn| {
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))
                .ctx(|| "read schema version".into())
        })
        .await
    }

    /// `EXPLAIN QUERY PLAN` of one statement (parameters bound to NULL):
    /// the `detail` column of every plan row. For checks that lookups use
    /// an index (see [`crate::LOOKUP_QUERIES`]).
    pub async fn explain_query_plan(&self, sql: &str) -> Result<Vec<String>, SqliteError> {
        let sql = format!("EXPLAIN QUERY PLAN {sql}");
        self.read("explain query plan", move |conn| {
            let context = || format!("explain {sql}");
            let mut stmt = conn.prepare(&sql).ctx(context)?;
            let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
            let rows = stmt
                .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
                .ctx(context)?;
            rows.collect::<Result<Vec<_>, _>>().ctx(context)
        })
        .await
    }

    /// The writer's counters: writes submitted, transactions committed
    /// (one fsync each) and the writes they held.
    pub fn write_stats(&self) -> WriteStats {
        self.inner.counters.snapshot()
    }

    /// Run `f` as one write: inside its own savepoint of a `BEGIN IMMEDIATE`
    /// transaction on the writer thread, shared with the writes queued
    /// beside it (group commit). `Ok` once that transaction is committed;
    /// when `f` fails its savepoint is rolled back (the other writes stay)
    /// and its error is the answer; when the `COMMIT` fails, every write of
    /// the transaction gets the error and nothing of them is written.
    pub(crate) async fn write<T, F>(&self, context: String, f: F) -> Result<T, SqliteError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, SqliteError> + Send + 'static,
    {
        self.write_sized(context, 0, f).await
    }

    /// [`write`](Self::write) declaring the size of its payload, so one
    /// transaction does not gather too much of it
    /// ([`MAX_BATCH_BYTES`](crate::group_commit::MAX_BATCH_BYTES)).
    pub(crate) async fn write_sized<T, F>(
        &self,
        context: String,
        bytes: usize,
        f: F,
    ) -> Result<T, SqliteError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, SqliteError> + Send + 'static,
    {
        let answer = self.submit(context.clone(), bytes, None, f)?;
        answer.await.map_err(|_| writer_stopped(context))?
    }

    /// [`write_sized`](Self::write_sized) with a deadline: answers by
    /// `deadline` (plus the time of a batch already committing it),
    /// committed or not.
    ///
    /// Waiting for the writer thread (writes of this process ahead of this
    /// one) and for SQLite's write lock (another process, bounded by a busy
    /// timeout shortened to what is left when every write of the batch has
    /// a deadline) both count. When time runs out before the write is
    /// released into its batch, it is skipped or rolled back to its
    /// savepoint, and the answer is [`SqliteError::Deadline`]: an error
    /// always means nothing was written, even when the batch commits later.
    pub(crate) async fn write_by<T, F>(
        &self,
        deadline: Instant,
        context: String,
        bytes: usize,
        f: F,
    ) -> Result<T, SqliteError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, SqliteError> + Send + 'static,
    {
        let started = Instant::now();
        let gate = Arc::new(AtomicU8::new(PENDING));
        let limit = Deadline {
            at: deadline,
            started,
            gate: gate.clone(),
        };
        let mut answer = self.submit(context.clone(), bytes, Some(limit), f)?;
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), &mut answer).await {
            Ok(done) => done.map_err(|_| writer_stopped(context))?,
            Err(_) => {
                if gate
                    .compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    // The writer will not commit it: skipped, or rolled
                    // back to its savepoint.
                    Err(SqliteError::Deadline {
                        context,
                        waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    })
                } else {
                    // Released into a batch: the commit's outcome is the answer.
                    answer.await.map_err(|_| writer_stopped(context))?
                }
            }
        }
    }

    /// Hand one write to the writer thread; its answer comes on the
    /// returned channel.
    fn submit<T, F>(
        &self,
        context: String,
        bytes: usize,
        deadline: Option<Deadline>,
        f: F,
    ) -> Result<oneshot::Receiver<Result<T, SqliteError>>, SqliteError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, SqliteError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            context,
            bytes,
            deadline,
            work: Box::new(Task::new(f, reply)),
        };
        self.inner
            .jobs
            .send(job)
            .map_err(|e| writer_stopped(e.0.context))?;
        // Counted once the job is in the writer's queue, not before: a
        // caller that sees the count knows the next batch can take it.
        self.inner.counters.submitted();
        Ok(answer)
    }

    /// Run `f` on the writer connection, outside any transaction (tests:
    /// settings a write cannot change, such as `PRAGMA foreign_keys`).
    #[cfg(test)]
    pub(crate) fn with_writer_connection<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let conn = self.inner.writer.lock().expect("writer connection");
        f(&conn)
    }

    /// Run `f` on the reader connection (the writer in memory), on the
    /// blocking pool.
    pub(crate) async fn read<T, F>(&self, context: &str, f: F) -> Result<T, SqliteError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, SqliteError> + Send + 'static,
    {
        let inner = self.inner.clone();
        let context = context.to_string();
        blocking(context.clone(), move || {
            let lock = inner.reader.as_ref().unwrap_or(&inner.writer);
            let conn = lock.lock().map_err(|_| SqliteError::Poisoned(context))?;
            f(&conn)
        })
        .await
    }
}

/// The writer thread is gone (it panicked): nothing more is written.
fn writer_stopped(context: String) -> SqliteError {
    SqliteError::Task {
        context,
        detail: "the sqlite writer thread has stopped".into(),
    }
}

/// Per-connection settings.
fn configure(conn: &Connection, shown: &str) -> Result<(), SqliteError> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .ctx(|| format!("set busy timeout on {shown}"))?;
    conn.pragma_update(None, "synchronous", "FULL")
        .ctx(|| format!("set synchronous on {shown}"))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

#[cfg(unix)]
fn create_dir_all(dir: &Path) -> Result<(), SqliteError> {
    use std::os::unix::fs::DirBuilderExt;
    // The database holds mail metadata: directories we create are private.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| SqliteError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(not(unix))]
fn create_dir_all(dir: &Path) -> Result<(), SqliteError> {
    std::fs::create_dir_all(dir).map_err(|source| SqliteError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// Run `f` on tokio's blocking pool; inline when no runtime is current
/// (then the caller is not async anyway).
async fn blocking<T, F>(context: String, f: F) -> Result<T, SqliteError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, SqliteError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| SqliteError::Task {
                context,
                detail: e.to_string(),
            })?,
        Err(_) => f(),
    }
}
