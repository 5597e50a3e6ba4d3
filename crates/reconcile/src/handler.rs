//! One scheduled run: the core's reconciliation, then logs (ids and
//! counts only) and metrics (CloudWatch EMF, namespace `InboxTriage`, no
//! dimensions): `ReconcileListed`, `ReconcileQueued` (messages the provider
//! had and the pipeline never saw), `WebhooksUnhealthy` (webhooks the
//! provider reports failing, failed or paused), `ReconcileFailures`.

use std::time::Instant;

use triage_core::ports::NotificationQueue;
use triage_core::reconcile::service::{Reconciler, Report, RunOptions};
use triage_core::reconcile::{KnownMessages, ReconcileCursors, ReconcileSource};
use triage_dynamodb::DynamoIdempotency;
use triage_nylas::reconcile::NylasReconcile;
use triage_sqs::SqsQueue;

/// The reconciler the Lambda runs.
pub type LambdaReconciler =
    Reconciler<NylasReconcile, DynamoIdempotency, DynamoIdempotency, SqsQueue>;

/// One run at `now_ms`, stopping provider calls at `deadline`; logs and
/// records its metrics.
pub async fn run_once<S, C, K, Q>(
    reconciler: &Reconciler<S, C, K, Q>,
    opts: &RunOptions,
    now_ms: i64,
    deadline: Instant,
) -> Report
where
    S: ReconcileSource,
    C: ReconcileCursors,
    K: KnownMessages,
    Q: NotificationQueue,
{
    let started = Instant::now();
    let report = reconciler.run(opts, now_ms, deadline).await;
    for g in &report.grants {
        match &g.error {
            None => tracing::info!(
                grant_id = %triage_core::logsafe::Escaped(&g.grant),
                from_s = g.from_s,
                listed = g.listed,
                known = g.known,
                queued = g.queued,
                truncated = g.truncated,
                "grant reconciled"
            ),
            Some(e) => tracing::warn!(
                grant_id = %triage_core::logsafe::Escaped(&g.grant),
                error = %triage_core::logsafe::Escaped(e),
                "grant not reconciled; its cursor stays"
            ),
        }
    }
    for w in report.webhooks.iter().filter(|w| w.state.is_unhealthy()) {
        tracing::warn!(
            webhook_id = %triage_core::logsafe::Escaped(&w.id),
            status = w.state.as_str(),
            "webhook unhealthy: notifications may be missing"
        );
    }
    for id in &report.reactivated {
        tracing::info!(webhook_id = %triage_core::logsafe::Escaped(id), "webhook reactivated");
    }
    for e in &report.errors {
        tracing::error!(error = %triage_core::logsafe::Escaped(e), "reconcile step failed");
    }
    metrics::counter!("ReconcileListed").increment(report.listed() as u64);
    metrics::counter!("ReconcileQueued").increment(report.queued() as u64);
    metrics::gauge!("WebhooksUnhealthy").set(report.unhealthy_webhooks() as f64);
    metrics::counter!("ReconcileFailures").increment(report.failures() as u64);
    tracing::info!(
        grants = report.grants.len(),
        listed = report.listed(),
        queued = report.queued(),
        unhealthy_webhooks = report.unhealthy_webhooks(),
        failures = report.failures(),
        duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "reconcile run done"
    );
    report
}
