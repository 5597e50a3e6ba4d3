//! [`SqliteDb`]: one database file, opened once per process and cloned.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub(crate) use triage_clock::now_ms;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::{Ctx, SqliteError};
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
/// Every blocking SQLite call runs on tokio's blocking pool
/// (`spawn_blocking`), so async callers are never blocked. Writes go through
/// one writer connection, each operation in one `BEGIN IMMEDIATE`
/// transaction; reads (`list`, counts) use a second connection, which WAL
/// mode lets run beside a write.
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    path: Option<PathBuf>,
    writer: Mutex<Connection>,
    /// `None` in memory (a second connection would be another database).
    reader: Option<Mutex<Connection>>,
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
            inner: Arc::new(Inner {
                path: Some(path),
                writer: Mutex::new(writer),
                reader: Some(Mutex::new(reader)),
            }),
        })
    }

    /// A private in-memory database (tests, dry runs). Gone when the last
    /// clone is dropped.
    pub fn open_in_memory() -> Result<SqliteDb, SqliteError> {
        let conn = Connection::open_in_memory().ctx(|| "open in-memory database".into())?;
        configure(&conn, ":memory:")?;
        schema::migrate(&conn, ":memory:")?;
        Ok(SqliteDb {
            inner: Arc::new(Inner {
                path: None,
                writer: Mutex::new(conn),
                reader: None,
            }),
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

    /// Run `f` inside one `BEGIN IMMEDIATE` transaction on the writer
    /// connection, on the blocking pool. Commits when `f` returns `Ok`, rolls
    /// back otherwise.
    pub(crate) async fn write<T, F>(&self, context: String, f: F) -> Result<T, SqliteError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, SqliteError> + Send + 'static,
    {
        let inner = self.inner.clone();
        let task_context = context.clone();
        blocking(task_context, move || {
            let mut conn = inner
                .writer
                .lock()
                .map_err(|_| SqliteError::Poisoned(context.clone()))?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx(|| format!("{context}: begin"))?;
            let out = f(&tx)?;
            tx.commit().ctx(|| format!("{context}: commit"))?;
            Ok(out)
        })
        .await
    }

    /// [`write`](Self::write) with a deadline: answers by `deadline` (plus
    /// the time of a commit already under way), committed or not.
    ///
    /// Waiting for the writer connection (another write of this process)
    /// and for SQLite's write lock (another process, bounded by a busy
    /// timeout shortened to what is left) both count. When time runs out
    /// first the transaction is rolled back, or never begun, and the answer
    /// is [`SqliteError::Deadline`]: an error always means nothing was
    /// written, even when the blocking task finishes later.
    pub(crate) async fn write_by<T, F>(
        &self,
        deadline: Instant,
        context: String,
        f: F,
    ) -> Result<T, SqliteError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, SqliteError> + Send + 'static,
    {
        let started = Instant::now();
        let gate = Arc::new(AtomicU8::new(PENDING));
        let inner = self.inner.clone();
        let task_gate = gate.clone();
        let task_context = context.clone();
        let gave_up = move |context: String| SqliteError::Deadline {
            context,
            waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        let task = blocking(context.clone(), move || {
            let mut conn = inner
                .writer
                .lock()
                .map_err(|_| SqliteError::Poisoned(task_context.clone()))?;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || task_gate.load(Ordering::Acquire) != PENDING {
                return Err(gave_up(task_context));
            }
            conn.busy_timeout(left.min(BUSY_TIMEOUT))
                .ctx(|| format!("{task_context}: set busy timeout"))?;
            let out =
                commit_unless_abandoned(&mut conn, &task_gate, &task_context, f).map_err(|e| {
                    if e.is_busy() {
                        gave_up(task_context.clone())
                    } else {
                        e
                    }
                });
            // Back to the usual wait for the next write on this connection.
            let restored = conn
                .busy_timeout(BUSY_TIMEOUT)
                .ctx(|| format!("{task_context}: restore busy timeout"));
            let out = out?;
            restored?;
            Ok(out)
        });
        tokio::pin!(task);
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), &mut task).await {
            Ok(done) => done,
            Err(_) => {
                if gate
                    .compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    // The task will not commit; it finishes (or never
                    // starts its transaction) on its own.
                    Err(gave_up(context))
                } else {
                    // The commit is under way: its outcome is the answer.
                    task.await
                }
            }
        }
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

/// [`SqliteDb::write_by`]'s gate: the caller still waits.
const PENDING: u8 = 0;
/// The blocking task is committing; the caller waits for the outcome.
const COMMITTING: u8 = 1;
/// The caller gave up; the blocking task must not commit.
const ABANDONED: u8 = 2;

/// One `BEGIN IMMEDIATE` transaction running `f`, committed only if the
/// gate moves from [`PENDING`] to [`COMMITTING`] (dropping `tx` rolls back).
fn commit_unless_abandoned<T, F>(
    conn: &mut Connection,
    gate: &AtomicU8,
    context: &str,
    f: F,
) -> Result<T, SqliteError>
where
    F: FnOnce(&Transaction<'_>) -> Result<T, SqliteError>,
{
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(|| format!("{context}: begin"))?;
    let out = f(&tx)?;
    if gate
        .compare_exchange(PENDING, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(SqliteError::Deadline {
            context: context.to_string(),
            waited_ms: 0,
        });
    }
    tx.commit().ctx(|| format!("{context}: commit"))?;
    Ok(out)
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
