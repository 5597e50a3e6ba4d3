//! `dispatch` Lambda: build config and clients once, then deliver the
//! ticket events of each batch (the tickets table's stream, the events
//! retry queue). Logic in [`triage_dispatch::batch`].

use std::process::ExitCode;
use std::time::Duration;
use triage_clock::now_ms;

use lambda_runtime::{LambdaEvent, run, service_fn};
use triage_core::config::{EnvReader, SecretSpec};
use triage_destinations::HttpDestinations;
use triage_dispatch::Dispatcher;
use triage_dispatch::batch::{Batch, BatchResponse};
use triage_dispatch::config::{DispatchConfig, variables};
use triage_eventbridge::EventBus;
use triage_secrets::SecretResolver;
use triage_sqs::SqsQueue;

/// Bound on one send to the events dead-letter queue.
const DLQ_TIMEOUT: Duration = Duration::from_secs(5);

type LambdaDispatcher = Dispatcher<HttpDestinations, EventBus>;

#[tokio::main]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    let (dispatcher, dead) = match init().await {
        Ok(parts) => parts,
        Err(e) => {
            tracing::error!(error = %e, "dispatch cannot start");
            return ExitCode::FAILURE;
        }
    };
    let (dispatcher, dead) = (&dispatcher, &dead);
    let handler = service_fn(move |event: LambdaEvent<Batch>| async move {
        let resp: BatchResponse = dispatcher.handle_batch(&event.payload, dead, &now_ms).await;
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

async fn init() -> Result<(LambdaDispatcher, SqsQueue), Box<dyn std::error::Error>> {
    let env_lookup = |k: &str| std::env::var(k).ok();
    let env = EnvReader::new(&env_lookup);
    let config = DispatchConfig::from_env(&env)?;
    let processing = triage_worker::config::ProcessingConfig::from_env(&env)?;
    let rules = triage_worker::compose::rules(
        processing.rules_file.as_deref(),
        processing.rules_toml.as_deref(),
    )?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let resolver = SecretResolver::with_sdk(&sdk);
    let shared = match &config.destination_secrets {
        Some(arn) => {
            let spec = SecretSpec::SecretsManager { arn: arn.clone() };
            variables(&resolver.resolve(&spec).await?)?
        }
        None => Default::default(),
    };
    let lookup = |k: &str| std::env::var(k).ok().or_else(|| shared.get(k).cloned());
    // A destination that cannot be configured is left out, loudly: its
    // events are parked in the events DLQ with the reason, to be redriven
    // once it is fixed, instead of the function failing every batch.
    let (destinations, refused) =
        triage_destinations::from_routing_partial(rules.routing(), &lookup, &resolver).await?;
    for e in &refused {
        tracing::error!(error = %e, "destination left out; its events go to the events DLQ");
    }
    tracing::info!(
        destinations = destinations.names().count(),
        bus = config.event_bus.as_deref().unwrap_or("(none)"),
        "dispatch ready"
    );
    let bus = config.event_bus.map(|name| EventBus::new(&sdk, name));
    let dead = SqsQueue::new(&sdk, config.dead_letter_url, DLQ_TIMEOUT);
    Ok((
        Dispatcher::with_bus(rules.routing().clone(), destinations, bus),
        dead,
    ))
}
