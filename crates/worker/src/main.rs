//! `worker` Lambda: build config and clients once, then handle SQS batches.

use std::process::ExitCode;
use std::time::{Duration, Instant};
use triage_clock::now_ms;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, run, service_fn};
use triage_core::acknowledgement::Acknowledgements;
use triage_core::remember::RememberCompleted;
use triage_dynamodb::{DynamoAckLedger, DynamoIdempotency, DynamoTickets};
use triage_nylas::{CachedFolders, NylasClient};
use triage_s3::S3RawMail;
use triage_secrets::SecretResolver;
use triage_sqs::SqsQueue;
use triage_sqs::redelivery::SqsRedelivery;
use triage_worker::compose::AckSenders;
use triage_worker::{Worker, WorkerConfig, compose};

type LambdaWorker = Worker<
    RememberCompleted<DynamoIdempotency>,
    DynamoTickets,
    CachedFolders<NylasClient>,
    Acknowledgements<DynamoAckLedger, AckSenders>,
    Option<S3RawMail>,
>;

/// CloudWatch namespace of the business metrics (template.yaml's dashboard).
const METRICS_NAMESPACE: &str = "InboxTriage";

/// The bound on one redelivery call (a put-back copy or a dead letter).
const REDELIVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Stop API retries this long before the Lambda's own deadline (room for
/// one redelivery call after them).
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    let (worker, redelivery) = match init().await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "worker cannot start");
            return ExitCode::FAILURE;
        }
    };
    let metrics = match metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(METRICS_NAMESPACE)
        .init()
    {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(error = %e, "metrics disabled");
            None
        }
    };
    let (worker, redelivery) = (&worker, &redelivery);
    let handler = service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = remaining(event.context.deadline);
        let records = event.payload.records;
        let resp: SqsBatchResponse = match redelivery {
            Some(r) => {
                worker
                    .process_batch_with(records, now_ms(), deadline, r)
                    .await
            }
            None => worker.process_batch(records, now_ms(), deadline).await,
        };
        if let Some(m) = metrics {
            // EMF documents go to stdout, where CloudWatch Logs picks them up.
            if let Err(e) = m.flush(std::io::stdout()) {
                tracing::warn!(error = %e, "could not flush metrics");
            }
        }
        Ok::<_, lambda_runtime::Error>(resp)
    });
    match run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "runtime stopped");
            ExitCode::FAILURE
        }
    }
}

async fn init() -> Result<(LambdaWorker, Option<SqsRedelivery>), Box<dyn std::error::Error>> {
    let config = WorkerConfig::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let processing = config.processing;
    let rules = compose::rules(
        processing.rules_file.as_deref(),
        processing.rules_toml.as_deref(),
    )?;
    let resolver = SecretResolver::with_sdk(&sdk);
    let source = compose::nylas_source(&processing, &resolver).await?;
    if source.is_none() {
        tracing::warn!(
            "no Nylas API key: fetching is off, messages are classified from the notification alone"
        );
    }
    tracing::info!(
        fetch_policy = ?processing.settings.fetch_policy,
        fetching = source.is_some(),
        "worker ready"
    );
    let ddb = triage_dynamodb::with_short_timeouts(&sdk);
    // Acknowledgement records share the idempotency table (TTL expires_at).
    let acks = compose::acknowledgements(
        &rules,
        &processing,
        &resolver,
        DynamoAckLedger::new(&ddb, config.idempotency_table.clone()),
        Some(&sdk),
    )
    .await?;
    tracing::info!(acknowledgements = acks.policy.enabled, "acknowledgements");
    let redelivery = config.redelivery.map(|q| {
        SqsRedelivery::new(
            SqsQueue::new(&sdk, q.queue_url, REDELIVERY_TIMEOUT),
            q.dlq_url,
        )
    });
    tracing::info!(
        redelivery = redelivery.is_some(),
        "permanent failures dead-lettered at once; waits put back"
    );
    // Amazon SES receiving: S3's notifications name the objects to read.
    let raw_mail = config
        .ses_mail_bucket
        .as_ref()
        .map(|_| S3RawMail::new(&triage_s3::with_short_timeouts(&sdk)));
    tracing::info!(ses_receiving = raw_mail.is_some(), "raw mail");
    let worker = Worker::new(
        DynamoIdempotency::new(&ddb, config.idempotency_table),
        DynamoTickets::new(&ddb, config.tickets_table),
        source,
        rules,
        processing.settings,
    )
    .with_acknowledgements(acks)
    .with_raw_mail(raw_mail);
    Ok((worker, redelivery))
}

/// The Lambda deadline (unix ms) as an `Instant`, less a margin.
fn remaining(deadline_ms: u64) -> Instant {
    let now = u64::try_from(now_ms()).unwrap_or(0);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now));
    Instant::now() + left.saturating_sub(DEADLINE_MARGIN)
}
