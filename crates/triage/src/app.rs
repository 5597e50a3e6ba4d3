//! Building the shared pieces once: rules, worker settings, the Nylas
//! source, webhook secrets, the ingest policy.

use std::path::{Path, PathBuf};

use triage_core::classify::Rules;
use triage_core::config::EnvReader;
use triage_core::ingest::IngestPolicy;
use triage_core::signature::WebhookSecrets;
use triage_nylas::{CachedFolders, NylasClient, NylasConfig};
use triage_worker::WorkerSettings;

use crate::runtime::QueueKind;

/// The documented test secret (events/README.md): used only when no
/// secret is configured, with a warning at startup.
pub const TEST_SECRET: &str = "inbox-triage-test-secret";

fn env_lookup(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

pub fn rules(path: Option<&Path>) -> Result<Rules, String> {
    let from_env = std::env::var("RULES_FILE")
        .ok()
        .filter(|p| !p.trim().is_empty());
    let path: Option<PathBuf> = path.map(Path::to_path_buf).or(from_env.map(PathBuf::from));
    match path {
        None => Ok(Rules::default_rules()),
        Some(p) => {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read rules file {}: {e}", p.display()))?;
            Rules::from_toml(&text).map_err(|e| format!("{}: {e}", p.display()))
        }
    }
}

pub fn settings() -> Result<WorkerSettings, String> {
    let env = EnvReader::new(&env_lookup);
    triage_worker::config::settings_from(&env).map_err(|e| e.to_string())
}

/// Room for the envelope's own fields around the notification.
const ENVELOPE_SLACK_BYTES: usize = 64 * 1024;

/// The ingest policy from the environment. SQS keeps its 256 KiB message
/// limit (bigger notifications travel as references and are fetched); the
/// embedded and in-process queues have no such limit, so by default they
/// carry every notification ingest accepts whole.
pub fn ingest_policy(queue: QueueKind) -> Result<IngestPolicy, String> {
    let env = EnvReader::new(&env_lookup);
    let d = IngestPolicy::default();
    let max_decompressed_bytes = env
        .parse_or("MAX_DECOMPRESSED_BYTES", d.max_decompressed_bytes)
        .map_err(|e| e.to_string())?;
    let queue_default = match queue {
        QueueKind::Sqs => d.max_queue_message_bytes,
        QueueKind::Local | QueueKind::Memory => {
            max_decompressed_bytes.saturating_add(ENVELOPE_SLACK_BYTES)
        }
    };
    Ok(IngestPolicy {
        max_body_bytes: env
            .parse_or("MAX_BODY_BYTES", d.max_body_bytes)
            .map_err(|e| e.to_string())?,
        max_decompressed_bytes,
        max_queue_message_bytes: env
            .parse_or("MAX_QUEUE_MESSAGE_BYTES", queue_default)
            .map_err(|e| e.to_string())?,
        max_items: env
            .parse_or("MAX_NOTIFICATIONS_PER_REQUEST", d.max_items)
            .map_err(|e| e.to_string())?,
        enqueue_types: env.list_or("ENQUEUE_TYPES", &["message.created"]),
    })
}

/// Webhook secrets from `NYLAS_WEBHOOK_SECRET`, else the test secret.
pub fn secrets() -> Result<(WebhookSecrets, bool), String> {
    match std::env::var("NYLAS_WEBHOOK_SECRET")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        Some(list) => WebhookSecrets::parse(&list)
            .map(|s| (s, false))
            .map_err(|e| format!("NYLAS_WEBHOOK_SECRET: {e}")),
        None => WebhookSecrets::parse(TEST_SECRET)
            .map(|s| (s, true))
            .map_err(|e| e.to_string()),
    }
}

/// The Nylas API, when `NYLAS_API_KEY` is set.
pub fn source() -> Result<Option<CachedFolders<NylasClient>>, String> {
    let Some(key) = std::env::var("NYLAS_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
    else {
        return Ok(None);
    };
    let config = NylasConfig::from_env(key.trim());
    NylasClient::new(config)
        .map(|c| Some(CachedFolders::new(c)))
        .map_err(|e| format!("Nylas client: {e}"))
}
