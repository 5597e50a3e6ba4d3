//! [`SqliteError`] and its mapping to the ports' errors.
//!
//! Messages name the operation and the ids involved (ticket id, queue id),
//! never stored content (bodies, subjects, snippets).

use std::path::PathBuf;

use rusqlite::ErrorCode;
use triage_core::ports::{QueueError, StoreError};

use crate::db::BUSY_TIMEOUT;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    /// SQLite (or rusqlite) refused or failed an operation.
    #[error("sqlite: {context}: {source}")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The database's parent directory could not be created.
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was written by a newer build (`PRAGMA user_version`).
    #[error(
        "database schema version {found} is newer than this build knows ({known}); \
         use a newer triage or another database file"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// A connection mutex was poisoned by a panic in an earlier operation.
    #[error("{0}: connection lock poisoned by an earlier failure")]
    Poisoned(String),
    /// The blocking task running the statement failed or was cancelled.
    #[error("{context}: blocking task failed: {detail}")]
    Task { context: String, detail: String },
    /// A value could not be encoded as JSON for storage.
    #[error("{context}: cannot encode: {source}")]
    Encode {
        context: String,
        #[source]
        source: serde_json::Error,
    },
    /// A stored row cannot be read back (bad JSON, out-of-range number).
    #[error("{context}: stored row is unreadable: {detail}")]
    Corrupt { context: String, detail: String },
    /// The data is inconsistent in a way retrying cannot fix (e.g. a thread
    /// pointer naming a ticket that does not exist).
    #[error("{0}")]
    Inconsistent(String),
    /// A write with a deadline ([`crate::SqliteQueue::send_all_by`]) could not
    /// commit in time; nothing was written.
    #[error("{context}: gave up after {waited_ms} ms waiting for the write lock; nothing written")]
    Deadline { context: String, waited_ms: u64 },
}

impl SqliteError {
    /// The SQLite primary result code, when this is an SQLite failure.
    pub fn sqlite_code(&self) -> Option<ErrorCode> {
        match self {
            SqliteError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } => Some(e.code),
            _ => None,
        }
    }

    /// `SQLITE_BUSY` / `SQLITE_LOCKED`: another connection held the write
    /// lock for longer than the busy timeout. Transient.
    pub fn is_busy(&self) -> bool {
        matches!(
            self.sqlite_code(),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
        )
    }

    /// Worth retrying later (busy, I/O, disk full, a poisoned lock...), as
    /// opposed to a permanent failure (bad data, schema too new).
    pub fn is_transient(&self) -> bool {
        match self {
            SqliteError::Sqlite { source, .. } => match source {
                rusqlite::Error::SqliteFailure(e, _) => !matches!(
                    e.code,
                    ErrorCode::ConstraintViolation
                        | ErrorCode::TooBig
                        | ErrorCode::TypeMismatch
                        | ErrorCode::ApiMisuse
                        | ErrorCode::ParameterOutOfRange
                        | ErrorCode::SchemaChanged
                ),
                // Conversion and binding errors are about the data itself.
                _ => false,
            },
            SqliteError::CreateDir { .. }
            | SqliteError::Poisoned(_)
            | SqliteError::Task { .. }
            | SqliteError::Deadline { .. } => true,
            SqliteError::SchemaTooNew { .. }
            | SqliteError::Encode { .. }
            | SqliteError::Corrupt { .. }
            | SqliteError::Inconsistent(_) => false,
        }
    }
}

/// Attach a context to rusqlite results.
pub(crate) trait Ctx<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, SqliteError>;
}

impl<T> Ctx<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, SqliteError> {
        self.map_err(|source| SqliteError::Sqlite {
            context: context(),
            source,
        })
    }
}

impl From<SqliteError> for StoreError {
    fn from(e: SqliteError) -> Self {
        if e.is_busy() {
            StoreError::Throttled(e.to_string())
        } else if e.is_transient() {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Rejected(e.to_string())
        }
    }
}

impl From<SqliteError> for QueueError {
    fn from(e: SqliteError) -> Self {
        if e.is_busy() {
            let ms = u64::try_from(BUSY_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
            QueueError::Timeout(ms)
        } else if let SqliteError::Deadline { waited_ms, .. } = e {
            QueueError::Timeout(waited_ms)
        } else {
            QueueError::Unavailable(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> SqliteError {
        SqliteError::Sqlite {
            context: "op".into(),
            source: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
        }
    }

    #[test]
    fn busy_is_transient_everywhere() {
        let e = failure(rusqlite::ffi::SQLITE_BUSY);
        assert!(e.is_busy() && e.is_transient());
        assert!(matches!(StoreError::from(e), StoreError::Throttled(_)));
        let e = failure(rusqlite::ffi::SQLITE_BUSY);
        assert!(matches!(QueueError::from(e), QueueError::Timeout(_)));
    }

    #[test]
    fn io_is_unavailable_constraint_is_rejected() {
        let io = StoreError::from(failure(rusqlite::ffi::SQLITE_IOERR));
        assert!(matches!(io, StoreError::Unavailable(_)) && io.is_transient());
        let full = StoreError::from(failure(rusqlite::ffi::SQLITE_FULL));
        assert!(full.is_transient());
        let c = StoreError::from(failure(rusqlite::ffi::SQLITE_CONSTRAINT));
        assert!(matches!(c, StoreError::Rejected(_)));
        let corrupt = StoreError::from(SqliteError::Corrupt {
            context: "read ticket t_1".into(),
            detail: "bad json".into(),
        });
        assert!(!corrupt.is_transient());
        assert!(
            StoreError::from(SqliteError::Poisoned("write".into())).is_transient(),
            "a poisoned lock is an error, retried"
        );
        let q = QueueError::from(failure(rusqlite::ffi::SQLITE_IOERR));
        assert!(matches!(q, QueueError::Unavailable(_)));
    }
}
