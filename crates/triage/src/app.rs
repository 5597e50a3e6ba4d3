//! The local runner's configuration, read through the same code as the
//! Lambdas (`triage_ingest::config`/`compose`, `triage_worker::config`/
//! `compose`): the only local differences are the defaults (the test secret
//! for a provider without one, queue-size limits of the local queues).

use std::path::Path;

use triage_core::classify::Rules;
use triage_core::config::{ConfigError, EnvReader};
use triage_core::ingest::IngestPolicy;
use triage_ingest::compose::{self, Composed};
use triage_ingest::{Keyring, WebhookConfig};
use triage_nylas::{CachedFolders, NylasClient};
use triage_secrets::SecretResolver;
use triage_worker::ProcessingConfig;

use crate::runtime::QueueKind;

pub use triage_ingest::compose::TEST_SECRET;

/// Why the local runner cannot be composed. Each variant keeps the message
/// of the shared composition code (it names the variable or file, never a
/// value).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Endpoints(#[from] compose::ComposeError),
    #[error(transparent)]
    Worker(#[from] triage_worker::compose::ComposeError),
    #[error(transparent)]
    Destinations(#[from] triage_destinations::ComposeError),
}

fn env_lookup(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// The worker's configuration (`NYLAS_API_*`, `RULES_FILE`, settings).
pub fn processing() -> Result<ProcessingConfig, AppError> {
    Ok(ProcessingConfig::from_env(&EnvReader::new(&env_lookup))?)
}

/// The event destinations of `routing`, their URLs and keys read from the
/// variables the rules file names (`<VAR>_ARN` first).
pub async fn destinations(
    routing: &triage_core::routing::Routing,
    resolver: &triage_secrets::SecretResolver,
) -> Result<triage_destinations::HttpDestinations, AppError> {
    Ok(triage_destinations::from_routing(routing, &env_lookup, resolver).await?)
}

/// The rules: `--rules` wins over `RULES_FILE`, then `RULES_TOML`; none: the default.
pub fn rules(path: Option<&Path>) -> Result<Rules, AppError> {
    let config = processing()?;
    let path = path
        .map(|p| p.to_string_lossy().into_owned())
        .or(config.rules_file);
    Ok(triage_worker::compose::rules(
        path.as_deref(),
        config.rules_toml.as_deref(),
    )?)
}

/// Room for the envelope's own fields around the notification.
const ENVELOPE_SLACK_BYTES: usize = 64 * 1024;

/// The ingest policy from the environment. SQS keeps its 256 KiB message
/// limit (bigger notifications travel as references and are fetched); the
/// embedded and in-process queues have no such limit, so by default they
/// carry every notification ingest accepts whole.
pub fn ingest_policy(queue: QueueKind) -> Result<IngestPolicy, AppError> {
    let env = EnvReader::new(&env_lookup);
    let d = IngestPolicy::default();
    let max_decompressed_bytes: usize =
        env.parse_or("MAX_DECOMPRESSED_BYTES", d.max_decompressed_bytes)?;
    let queue_default = match queue {
        QueueKind::Sqs => d.max_queue_message_bytes,
        QueueKind::Local | QueueKind::Memory => {
            max_decompressed_bytes.saturating_add(ENVELOPE_SLACK_BYTES)
        }
    };
    Ok(triage_ingest::config::policy_from(&env, queue_default)?)
}

/// The webhook endpoints: every provider, each on its configured secrets
/// (`*_ARN` read from Secrets Manager and read again while running, as in
/// the Lambda) or the test secret.
pub async fn endpoints() -> Result<(Keyring, Composed), AppError> {
    let config = WebhookConfig::from_env(&EnvReader::new(&env_lookup))?;
    Ok(Keyring::load(
        config,
        SecretResolver::new(),
        Some(TEST_SECRET),
        triage_clock::now_ms(),
    )
    .await?)
}

/// The Nylas API, when `NYLAS_API_KEY_ARN` or `NYLAS_API_KEY` is set.
pub async fn source(
    processing: &ProcessingConfig,
    resolver: &SecretResolver,
) -> Result<Option<CachedFolders<NylasClient>>, AppError> {
    Ok(triage_worker::compose::nylas_source(processing, resolver).await?)
}
