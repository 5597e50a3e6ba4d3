//! [`CliError`]: why a `triage` command stopped. `main` prints it as one
//! line, `error: {e}`, and exits with status 1.
//!
//! Each variant is one kind of failure. The modules' own errors
//! ([`InputError`], [`LimitsError`], [`TokenError`], [`EvalError`],
//! [`AppError`], [`WebhooksError`]) and those of the adapters are wrapped,
//! not flattened into text: `source()` reaches them. Because only the top
//! line is printed, a message that adds context keeps the cause's text in
//! it as well. Messages name variables, files, queues and ids, never a
//! secret or a message body.

use std::net::SocketAddr;
use std::path::PathBuf;

use triage_core::ports::StoreError;
use triage_sqlite::SqliteError;
use triage_sqs::dead_letters::DlqError;

use crate::app::AppError;
use crate::auth::TokenError;
use crate::input::InputError;
use crate::limits::LimitsError;
use crate::rules_eval::EvalError;
use crate::webhooks::WebhooksError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Flags or settings that do not go together, or that this command
    /// cannot act on (`--queue memory` with `dlq`, `stats` on DynamoDB...).
    /// The text says what to use instead.
    #[error("{0}")]
    Usage(&'static str),
    /// An SQS queue URL flag given while the local queue is selected.
    #[error("{flag} names an SQS queue: add --queue sqs (the default is the local queue in --db)")]
    SqsUrlWithLocalQueue { flag: &'static str },
    /// A variable the chosen store or queue needs is unset or blank.
    #[error("{name} is not set (needed for this store or queue)")]
    MissingEnv { name: String },
    /// An SQS queue URL given neither as a flag nor in the environment.
    #[error("{flag} is not given and {env} is not set")]
    MissingQueueUrl {
        flag: &'static str,
        env: &'static str,
    },
    /// A command that calls the Nylas API, run without `NYLAS_API_KEY` or
    /// `NYLAS_API_KEY_ARN`. The text says which command and how to set it.
    #[error("{0}")]
    NoNylasApiKey(&'static str),
    /// The configuration (environment, rules file, secrets) cannot be
    /// composed into the runner.
    #[error(transparent)]
    Config(#[from] AppError),
    /// `TRIAGE_*` limits set to unusable values.
    #[error(transparent)]
    Limits(#[from] LimitsError),
    /// `TRIAGE_API_TOKEN` set to an unusable value.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A command that reads an existing embedded database, pointed at a
    /// path where there is none. `hint` says what to give instead.
    #[error("no local database at {} ({hint})", path.display())]
    NoDatabase { path: PathBuf, hint: &'static str },
    /// A SQLite store or queue was asked for without the database open.
    #[error("the embedded database is not open")]
    DatabaseNotOpen,
    /// The embedded database could not be opened (or created).
    #[error("cannot open {}: {source}", path.display())]
    OpenDatabase {
        path: PathBuf,
        #[source]
        source: SqliteError,
    },
    /// An operation on the open embedded database failed.
    #[error(transparent)]
    Sqlite(#[from] SqliteError),
    /// The ticket store (SQLite or DynamoDB) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A call to the SQS dead-letter queue (or its target queue) failed.
    #[error(transparent)]
    Dlq(#[from] DlqError),
    /// `triage webhooks`: the Nylas admin API or the stack's secret list.
    #[error(transparent)]
    Webhooks(#[from] WebhooksError),
    /// An input path (a file or folder of the command line) cannot be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The labelled set of `triage rules eval` cannot be read.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// The webhook endpoint cannot bind its address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The bound listener cannot report its address.
    #[error(transparent)]
    ListenAddress(std::io::Error),
    /// A record could not be encoded for `--json` output.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// The texts the commands printed before they had a type, unchanged.
    #[test]
    fn messages_read_as_before() {
        let cases: [(CliError, &str); 5] = [
            (
                CliError::MissingEnv {
                    name: "QUEUE_URL".into(),
                },
                "QUEUE_URL is not set (needed for this store or queue)",
            ),
            (
                CliError::MissingQueueUrl {
                    flag: "--dlq-url",
                    env: "DLQ_URL",
                },
                "--dlq-url is not given and DLQ_URL is not set",
            ),
            (
                CliError::SqsUrlWithLocalQueue {
                    flag: "--queue-url",
                },
                "--queue-url names an SQS queue: add --queue sqs (the default is the local queue in --db)",
            ),
            (
                CliError::NoDatabase {
                    path: "x/t.db".into(),
                    hint: "give --db",
                },
                "no local database at x/t.db (give --db)",
            ),
            (
                CliError::DatabaseNotOpen,
                "the embedded database is not open",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    /// Context is added in the message, and the cause stays reachable.
    #[test]
    fn wrapped_causes_are_kept() {
        let e = CliError::OpenDatabase {
            path: "x/t.db".into(),
            source: SqliteError::SchemaTooNew { found: 9, known: 3 },
        };
        assert!(
            e.to_string()
                .starts_with("cannot open x/t.db: database schema version 9")
        );
        let source = e.source().expect("a source");
        assert!(source.downcast_ref::<SqliteError>().is_some());

        let e = CliError::from(DlqError::SameQueue);
        assert_eq!(
            e.to_string(),
            "the DLQ and the target queue are the same queue"
        );
    }
}
