//! `ingest` Lambda: build config and clients once, then serve requests.

use std::process::ExitCode;

use lambda_http::{run, service_fn};
use triage_ingest::handler::now_ms;
use triage_ingest::{IngestConfig, IngestState, Keyring, lambda_handler};
use triage_secrets::SecretResolver;
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
    let resolver = SecretResolver::with_sdk(&sdk);
    // No test-secret fallback in AWS: a provider without secrets is not
    // served. The secrets are read again while running (keyring).
    let (endpoints, composed) =
        Keyring::load(config.webhooks.clone(), resolver, None, now_ms()).await?;
    for name in &composed.secret_unset {
        tracing::warn!(
            provider = name,
            "webhook secret has no value yet: provider not served until it is filled (read again every minute)"
        );
    }
    for e in &endpoints.snapshot().endpoints {
        tracing::info!(
            provider = e.provider.name(),
            route = e.provider.route(),
            secrets = e.keys.secrets.len(),
            "serving provider"
        );
    }
    tracing::info!(
        enqueue_types = ?config.policy.enqueue_types,
        max_body_bytes = config.policy.max_body_bytes,
        tolerance_s = config.webhooks.tolerance_s,
        "ingest ready"
    );
    Ok(IngestState {
        policy: config.policy,
        endpoints,
        queue: SqsQueue::new(&sdk, config.queue_url, config.queue_timeout),
    })
}
