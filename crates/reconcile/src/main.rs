//! `reconcile` Lambda: build config and clients once, then run on each
//! schedule tick (the payload is ignored). Logic in
//! [`triage_reconcile::handler`].

use std::process::ExitCode;
use std::time::{Duration, Instant};

use lambda_runtime::{LambdaEvent, run, service_fn};
use triage_clock::now_ms;
use triage_core::reconcile::service::{Reconciler, RunOptions};
use triage_dynamodb::DynamoIdempotency;
use triage_nylas::reconcile::NylasReconcile;
use triage_reconcile::{LambdaReconciler, ReconcileConfig, run_once};
use triage_secrets::SecretResolver;
use triage_sqs::SqsQueue;

/// Stop provider calls this long before the Lambda's own deadline.
const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

/// The bound on one queue call.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    let (reconciler, opts) = match init().await {
        Ok(parts) => parts,
        Err(e) => {
            tracing::error!(error = %e, "reconcile cannot start");
            return ExitCode::FAILURE;
        }
    };
    let metrics = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace("InboxTriage")
        .init()
        .map_err(|e| tracing::warn!(error = %e, "metrics disabled"))
        .ok();
    let (reconciler, opts) = (&reconciler, &opts);
    let handler = service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let left = Duration::from_millis(
            event
                .context
                .deadline
                .saturating_sub(u64::try_from(now_ms()).unwrap_or(0)),
        );
        let deadline = Instant::now() + left.saturating_sub(DEADLINE_MARGIN);
        let report = run_once(reconciler, opts, now_ms(), deadline).await;
        if let Some(m) = metrics
            && let Err(e) = m.flush(std::io::stdout())
        {
            tracing::warn!(error = %e, "could not flush metrics");
        }
        Ok::<_, lambda_runtime::Error>(serde_json::json!({
            "listed": report.listed(),
            "queued": report.queued(),
            "unhealthy_webhooks": report.unhealthy_webhooks(),
            "failures": report.failures(),
        }))
    });
    match run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "runtime stopped");
            ExitCode::FAILURE
        }
    }
}

async fn init() -> Result<(LambdaReconciler, RunOptions), Box<dyn std::error::Error>> {
    let config = ReconcileConfig::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let resolver = SecretResolver::with_sdk(&sdk);
    let client = triage_worker::compose::nylas_client(&config.processing, &resolver)
        .await?
        .ok_or("no Nylas API key")?;
    let ddb = triage_dynamodb::with_short_timeouts(&sdk);
    let store = DynamoIdempotency::new(&ddb, config.idempotency_table);
    tracing::info!(
        // 0: every grant of the application.
        grants = config.grants.len(),
        reactivate = config.reactivate,
        "reconcile ready"
    );
    Ok((
        Reconciler {
            source: NylasReconcile::new(client),
            cursors: store.clone(),
            known: store,
            queue: SqsQueue::new(&sdk, config.queue_url, QUEUE_TIMEOUT),
        },
        RunOptions {
            grants: config.grants,
            since_s: None,
            reactivate: config.reactivate,
            dry_run: false,
        },
    ))
}
