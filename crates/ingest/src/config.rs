//! Typed configuration of `ingest`, read once at init.

use std::time::Duration;

use triage_core::config::{ConfigError, EnvReader, SecretSpec};
use triage_core::ingest::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_QUEUE_MESSAGE_BYTES, IngestPolicy,
};

/// Where each provider's webhook secrets come from, and the clock
/// tolerance of timestamped signatures. A provider without secrets is not
/// served (its route answers 404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `NYLAS_WEBHOOK_SECRET_ARN` (Secrets Manager) or `NYLAS_WEBHOOK_SECRET`
    /// (comma-separated list while rotating).
    pub nylas: Option<SecretSpec>,
    /// `INBOUND_WEBHOOK_SECRETS_ARN` or `INBOUND_WEBHOOK_SECRETS`
    /// (comma-separated; `whsec_` entries are base64 key bytes).
    pub inbound: Option<SecretSpec>,
    /// `WEBHOOK_TOLERANCE_SECONDS`, default 300, at most 3600.
    pub tolerance_s: i64,
}

/// The default clock tolerance of timestamped signatures, in seconds.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

impl WebhookConfig {
    pub fn from_env(env: &EnvReader<'_>) -> Result<Self, ConfigError> {
        let tolerance_s: i64 =
            env.parse_or("WEBHOOK_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS)?;
        if !(1..=3600).contains(&tolerance_s) {
            return Err(ConfigError::Invalid {
                name: "WEBHOOK_TOLERANCE_SECONDS",
                reason: "must be between 1 and 3600 seconds".into(),
            });
        }
        Ok(WebhookConfig {
            nylas: env.optional_secret("NYLAS_WEBHOOK_SECRET", "NYLAS_WEBHOOK_SECRET_ARN"),
            inbound: env.optional_secret("INBOUND_WEBHOOK_SECRETS", "INBOUND_WEBHOOK_SECRETS_ARN"),
            tolerance_s,
        })
    }
}

/// The ingest policy from the environment; `queue_message_bytes` is the
/// default of `MAX_QUEUE_MESSAGE_BYTES` (the queue's own limit).
pub fn policy_from(
    env: &EnvReader<'_>,
    queue_message_bytes: usize,
) -> Result<IngestPolicy, ConfigError> {
    Ok(IngestPolicy {
        max_body_bytes: env.parse_or("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?,
        max_decompressed_bytes: env
            .parse_or("MAX_DECOMPRESSED_BYTES", DEFAULT_MAX_DECOMPRESSED_BYTES)?,
        max_queue_message_bytes: env.parse_or("MAX_QUEUE_MESSAGE_BYTES", queue_message_bytes)?,
        max_items: env.parse_or("MAX_NOTIFICATIONS_PER_REQUEST", DEFAULT_MAX_ITEMS)?,
        enqueue_types: env.list_or("ENQUEUE_TYPES", &["message.created"]),
    })
}

/// Everything the `ingest` Lambda needs, from the environment.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// `QUEUE_URL`.
    pub queue_url: String,
    pub webhooks: WebhookConfig,
    /// `SQS_TIMEOUT_MS`, default 3000: the whole enqueue, retries included.
    pub queue_timeout: Duration,
    pub policy: IngestPolicy,
}

impl IngestConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |k: &str| std::env::var(k).ok();
        Self::from_lookup(&lookup)
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = EnvReader::new(lookup);
        let queue_url =
            env.required("QUEUE_URL", "the URL of the SQS queue notifications go to")?;
        let webhooks = WebhookConfig::from_env(&env)?;
        if webhooks.nylas.is_none() && webhooks.inbound.is_none() {
            return Err(ConfigError::Missing {
                name: "NYLAS_WEBHOOK_SECRET",
                hint: "set NYLAS_WEBHOOK_SECRET or NYLAS_WEBHOOK_SECRET_ARN (Nylas), and/or INBOUND_WEBHOOK_SECRETS or INBOUND_WEBHOOK_SECRETS_ARN (inbound-email JSON)",
            });
        }
        let policy = policy_from(&env, DEFAULT_MAX_QUEUE_MESSAGE_BYTES)?;
        let queue_timeout = env.millis_or("SQS_TIMEOUT_MS", 3000)?;
        if queue_timeout.is_zero() || queue_timeout > Duration::from_secs(8) {
            return Err(ConfigError::Invalid {
                name: "SQS_TIMEOUT_MS",
                reason: "must be between 1 and 8000 ms (the provider waits 10 s)".into(),
            });
        }
        Ok(IngestConfig {
            queue_url,
            webhooks,
            queue_timeout,
            policy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn missing_queue_url_is_named() {
        let m: HashMap<&str, &str> = HashMap::from([("NYLAS_WEBHOOK_SECRET", "s")]);
        let f = |k: &str| m.get(k).map(|v| v.to_string());
        let err = IngestConfig::from_lookup(&f).unwrap_err();
        assert!(err.to_string().contains("QUEUE_URL"), "{err}");
    }

    #[test]
    fn missing_secret_is_named_and_defaults_apply() {
        let m: HashMap<&str, &str> = HashMap::from([("QUEUE_URL", "http://q")]);
        let f = |k: &str| m.get(k).map(|v| v.to_string());
        let err = IngestConfig::from_lookup(&f).unwrap_err();
        assert!(err.to_string().contains("NYLAS_WEBHOOK_SECRET"), "{err}");

        let m: HashMap<&str, &str> =
            HashMap::from([("QUEUE_URL", "http://q"), ("NYLAS_WEBHOOK_SECRET", "a,b")]);
        let f = |k: &str| m.get(k).map(|v| v.to_string());
        let c = IngestConfig::from_lookup(&f).unwrap();
        assert_eq!(c.policy.max_body_bytes, 2 * 1024 * 1024);
        assert_eq!(c.policy.enqueue_types, ["message.created"]);
        assert_eq!(c.queue_timeout, Duration::from_secs(3));
        assert_eq!(c.webhooks.inbound, None);
        assert_eq!(c.webhooks.tolerance_s, 300);
    }

    #[test]
    fn inbound_alone_is_enough_and_its_arn_wins() {
        let m: HashMap<&str, &str> = HashMap::from([
            ("QUEUE_URL", "http://q"),
            ("INBOUND_WEBHOOK_SECRETS", "whsec_AAAA"),
            ("INBOUND_WEBHOOK_SECRETS_ARN", "arn:aws:secretsmanager:x"),
            ("WEBHOOK_TOLERANCE_SECONDS", "60"),
        ]);
        let f = |k: &str| m.get(k).map(|v| v.to_string());
        let c = IngestConfig::from_lookup(&f).unwrap();
        assert_eq!(c.webhooks.nylas, None);
        assert_eq!(
            c.webhooks.inbound,
            Some(SecretSpec::SecretsManager {
                arn: "arn:aws:secretsmanager:x".into()
            })
        );
        assert_eq!(c.webhooks.tolerance_s, 60);
        for bad in ["0", "3601", "-5", "soon"] {
            let m: HashMap<&str, &str> = HashMap::from([
                ("QUEUE_URL", "http://q"),
                ("INBOUND_WEBHOOK_SECRETS", "s"),
                ("WEBHOOK_TOLERANCE_SECONDS", bad),
            ]);
            let f = |k: &str| m.get(k).map(|v| v.to_string());
            let e = IngestConfig::from_lookup(&f).unwrap_err();
            assert!(
                e.to_string().contains("WEBHOOK_TOLERANCE_SECONDS"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn timeout_must_fit_the_window() {
        let m: HashMap<&str, &str> = HashMap::from([
            ("QUEUE_URL", "http://q"),
            ("NYLAS_WEBHOOK_SECRET", "a"),
            ("SQS_TIMEOUT_MS", "12000"),
        ]);
        let f = |k: &str| m.get(k).map(|v| v.to_string());
        assert!(IngestConfig::from_lookup(&f).is_err());
    }
}
