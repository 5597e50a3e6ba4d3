//! `ingest` Lambda: build config and clients once, then serve requests.

use std::process::ExitCode;

use lambda_http::{run, service_fn};
use triage_core::config::SecretSpec;
use triage_core::signature::WebhookSecrets;
use triage_ingest::{IngestConfig, IngestState, lambda_handler};
use triage_secrets::SecretsReader;
use triage_sqs::SqsQueue;

#[tokio::main]
async fn main() -> ExitCode {
    lambda_http::tracing::init_default_subscriber();
    match init().await {
        Ok(state) => {
            let state = &state;
            let metrics = metrics_cloudwatch_embedded::Builder::new()
                .cloudwatch_namespace("InboxTriage")
                .init()
                .map_err(|e| tracing::warn!(error = %e, "metrics disabled"))
                .ok();
            let handler = service_fn(move |req| async move {
                let resp = lambda_handler(state, req).await;
                if let Some(m) = metrics {
                    // EMF documents go to stdout, where CloudWatch Logs picks them up.
                    if let Err(e) = m.flush(std::io::stdout()) {
                        tracing::warn!(error = %e, "could not flush metrics");
                    }
                }
                resp
            });
            match run(handler).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "runtime stopped");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "ingest cannot start");
            ExitCode::FAILURE
        }
    }
}

async fn init() -> Result<IngestState<SqsQueue>, Box<dyn std::error::Error>> {
    let config = IngestConfig::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secret_list = match &config.webhook_secret {
        SecretSpec::Inline(s) => s.clone(),
        SecretSpec::SecretsManager { arn } => SecretsReader::new(&sdk).read_string(arn).await?,
    };
    let secrets = WebhookSecrets::parse(&secret_list)?;
    tracing::info!(
        secrets = secrets.len(),
        enqueue_types = ?config.policy.enqueue_types,
        max_body_bytes = config.policy.max_body_bytes,
        "ingest ready"
    );
    Ok(IngestState {
        policy: config.policy,
        secrets,
        queue: SqsQueue::new(&sdk, config.queue_url, config.queue_timeout),
    })
}
