//! `triage reconcile`: find mail whose notification never arrived (#13).
//!
//! Asks the provider which messages each grant received since the last run
//! (a cursor per grant in the store, less an overlap; or `--since`), and
//! queues the ones with no idempotency record as reference envelopes on the
//! configured queue, where the worker (`triage serve`) fetches and triages
//! them like any notification. Also reads the webhooks' health and, with
//! `--reactivate`, asks the provider to deliver again to a failed one. The
//! same core service runs in the `reconcile` Lambda.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::json;
use triage_core::ports::{DedupeKey, StoreError};
use triage_core::reconcile::service::{Reconciler, Report, RunOptions};
use triage_core::reconcile::{KnownMessages, ReconcileCursors};
use triage_nylas::reconcile::NylasReconcile;
use triage_secrets::SecretResolver;

use crate::app::AppError;
use crate::error::CliError;
use crate::runtime::{self, AnyIdempotency, QueueKind, StoreKind};

/// How long one run may talk to the provider.
const RUN_BUDGET: Duration = Duration::from_secs(240);

#[derive(clap::Args)]
pub struct ReconcileArgs {
    /// Look back this far instead of from each grant's stored cursor (e.g. 2h, 30m, 1d; at most 7 days).
    #[arg(long, value_parser = humantime::parse_duration)]
    since: Option<Duration>,
    /// Only this grant (repeat for more); default: every grant of the application.
    #[arg(long = "grant", value_name = "GRANT_ID")]
    grants: Vec<String>,
    /// Ask the provider to deliver again to webhooks it marked failed.
    #[arg(long)]
    reactivate: bool,
    /// Compare only: queue nothing, move no cursor, reactivate nothing.
    #[arg(long)]
    dry_run: bool,
}

impl ReconcileCursors for AnyIdempotency {
    async fn cursor(&self, provider: &str, grant: &str) -> Result<Option<i64>, StoreError> {
        match self {
            AnyIdempotency::Sqlite(s) => s.cursor(provider, grant).await,
            AnyIdempotency::Dynamo(s) => s.cursor(provider, grant).await,
        }
    }
    async fn set_cursor(
        &self,
        provider: &str,
        grant: &str,
        cursor_s: i64,
    ) -> Result<(), StoreError> {
        match self {
            AnyIdempotency::Sqlite(s) => s.set_cursor(provider, grant, cursor_s).await,
            AnyIdempotency::Dynamo(s) => s.set_cursor(provider, grant, cursor_s).await,
        }
    }
}

impl KnownMessages for AnyIdempotency {
    async fn known(&self, keys: &[DedupeKey], now_s: i64) -> Result<Vec<bool>, StoreError> {
        match self {
            AnyIdempotency::Sqlite(s) => s.known(keys, now_s).await,
            AnyIdempotency::Dynamo(s) => s.known(keys, now_s).await,
        }
    }
}

pub async fn run(
    args: ReconcileArgs,
    db_path: &Path,
    store: StoreKind,
    queue: QueueKind,
    json: bool,
) -> Result<ExitCode, CliError> {
    if queue == QueueKind::Memory {
        return Err(CliError::Usage(
            "reconcile needs a queue the worker reads from another process: --queue local or sqs",
        ));
    }
    let processing = crate::app::processing()?;
    let resolver = SecretResolver::new();
    let client = triage_worker::compose::nylas_client(&processing, &resolver)
        .await
        .map_err(AppError::from)?
        .ok_or(CliError::NoNylasApiKey(
            "reconcile asks the Nylas API: set NYLAS_API_KEY (or NYLAS_API_KEY_ARN)",
        ))?;
    let db = runtime::open_db(
        db_path,
        store == StoreKind::Sqlite || queue == QueueKind::Local,
    )?;
    let (idempotency, _) = runtime::stores(store, db.as_ref()).await?;
    let queue = runtime::queue(queue, db.as_ref()).await?;
    let reconciler = Reconciler {
        source: NylasReconcile::new(client),
        cursors: idempotency.clone(),
        known: idempotency,
        queue,
    };
    let opts = RunOptions {
        grants: args.grants,
        since_s: args
            .since
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        reactivate: args.reactivate,
        dry_run: args.dry_run,
    };
    let report = reconciler
        .run(&opts, triage_clock::now_ms(), Instant::now() + RUN_BUDGET)
        .await;
    print(&report, opts.dry_run, json);
    Ok(if report.failures() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print(report: &Report, dry_run: bool, json: bool) {
    if json {
        let grants: Vec<_> = report
            .grants
            .iter()
            .map(|g| {
                json!({
                    "grant_id": g.grant, "from_s": g.from_s, "listed": g.listed,
                    "known": g.known, "queued": g.queued, "truncated": g.truncated,
                    "error": g.error,
                })
            })
            .collect();
        let hooks: Vec<_> = report
            .webhooks
            .iter()
            .map(|w| json!({"id": w.id, "status": w.state.as_str(), "unhealthy": w.state.is_unhealthy()}))
            .collect();
        println!(
            "{}",
            json!({
                "dry_run": dry_run, "listed": report.listed(), "queued": report.queued(),
                "grants": grants, "webhooks": hooks, "reactivated": report.reactivated,
                "errors": report.errors,
            })
        );
        return;
    }
    let verb = if dry_run { "would queue" } else { "queued" };
    for g in &report.grants {
        match &g.error {
            Some(e) => println!("grant {}: failed: {e}", g.grant),
            None => println!(
                "grant {}: listed {}, known {}, {verb} {}{}",
                g.grant,
                g.listed,
                g.known,
                g.queued,
                if g.truncated {
                    " (more than the per-run limit: the next run goes on)"
                } else {
                    ""
                }
            ),
        }
    }
    for w in &report.webhooks {
        if w.state.is_unhealthy() {
            println!(
                "webhook {}: {} (deliveries may be missing: reconcile finds them; `--reactivate` asks Nylas to deliver again)",
                w.id,
                w.state.as_str()
            );
        }
    }
    for id in &report.reactivated {
        println!("webhook {id}: reactivated");
    }
    for e in &report.errors {
        println!("error: {e}");
    }
    println!(
        "{} grant(s), listed {}, {verb} {}",
        report.grants.len(),
        report.listed(),
        report.queued()
    );
}
