//! `worker` Lambda: build config and clients once, then handle SQS batches.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, run, service_fn};
use triage_core::classify::Rules;
use triage_core::config::SecretSpec;
use triage_core::remember::{self, RememberCompleted};
use triage_dynamodb::{DynamoIdempotency, DynamoTickets};
use triage_nylas::{CachedFolders, NylasClient, NylasConfig};
use triage_secrets::SecretsReader;
use triage_worker::{Worker, WorkerConfig};

type LambdaWorker =
    Worker<RememberCompleted<DynamoIdempotency>, DynamoTickets, CachedFolders<NylasClient>>;

/// CloudWatch namespace of the business metrics (template.yaml's dashboard).
const METRICS_NAMESPACE: &str = "InboxTriage";

/// Stop API retries this long before the Lambda's own deadline.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    let worker = match init().await {
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
    let worker = &worker;
    let handler = service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = remaining(event.context.deadline);
        let resp: SqsBatchResponse = worker
            .process_batch(event.payload.records, now_ms(), deadline)
            .await;
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

async fn init() -> Result<LambdaWorker, Box<dyn std::error::Error>> {
    let config = WorkerConfig::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let rules = match &config.rules_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read RULES_FILE {path}: {e}"))?;
            Rules::from_toml(&text).map_err(|e| format!("RULES_FILE {path}: {e}"))?
        }
        None => Rules::default_rules(),
    };
    let api_key = match &config.nylas_api_key {
        Some(SecretSpec::Inline(k)) => Some(k.clone()),
        Some(SecretSpec::SecretsManager { arn }) => {
            Some(SecretsReader::new(&sdk).read_string(arn).await?)
        }
        None => None,
    };
    let source = match api_key {
        Some(key) => {
            let mut nylas = NylasConfig::new(key.trim());
            nylas.base_url = config.nylas_api_uri.clone();
            Some(CachedFolders::new(NylasClient::new(nylas)?))
        }
        None => {
            tracing::warn!(
                "no Nylas API key: fetching is off, messages are classified from the notification alone"
            );
            None
        }
    };
    tracing::info!(
        fetch_policy = ?config.settings.fetch_policy,
        fetching = source.is_some(),
        "worker ready"
    );
    let ddb = triage_dynamodb::with_short_timeouts(&sdk);
    Ok(Worker {
        idempotency: RememberCompleted::new(
            DynamoIdempotency::new(&ddb, config.idempotency_table),
            config.settings.remember_completed,
            remember::MAX_AGE_S,
        ),
        tickets: DynamoTickets::new(&ddb, config.tickets_table),
        source,
        rules,
        settings: config.settings,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The Lambda deadline (unix ms) as an `Instant`, less a margin.
fn remaining(deadline_ms: u64) -> Instant {
    let now = u64::try_from(now_ms()).unwrap_or(0);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now));
    Instant::now() + left.saturating_sub(DEADLINE_MARGIN)
}
