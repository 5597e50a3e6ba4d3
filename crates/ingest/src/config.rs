//! Typed configuration of `ingest`, read once at init.

use std::time::Duration;

use triage_core::config::{ConfigError, EnvReader, SecretSpec};
use triage_core::ingest::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_QUEUE_MESSAGE_BYTES, IngestPolicy,
};

/// Everything `ingest` needs, from the environment.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// `QUEUE_URL`.
    pub queue_url: String,
    /// `NYLAS_WEBHOOK_SECRET_ARN` (Secrets Manager) or `NYLAS_WEBHOOK_SECRET`
    /// (comma-separated list while rotating).
    pub webhook_secret: SecretSpec,
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
        let webhook_secret = env.secret(
            "NYLAS_WEBHOOK_SECRET",
            "NYLAS_WEBHOOK_SECRET_ARN",
            "set NYLAS_WEBHOOK_SECRET (comma-separated secrets) or NYLAS_WEBHOOK_SECRET_ARN (Secrets Manager)",
        )?;
        let policy = IngestPolicy {
            max_body_bytes: env.parse_or("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?,
            max_decompressed_bytes: env
                .parse_or("MAX_DECOMPRESSED_BYTES", DEFAULT_MAX_DECOMPRESSED_BYTES)?,
            max_queue_message_bytes: env
                .parse_or("MAX_QUEUE_MESSAGE_BYTES", DEFAULT_MAX_QUEUE_MESSAGE_BYTES)?,
            max_items: env.parse_or("MAX_NOTIFICATIONS_PER_REQUEST", DEFAULT_MAX_ITEMS)?,
            enqueue_types: env.list_or("ENQUEUE_TYPES", &["message.created"]),
        };
        let queue_timeout = env.millis_or("SQS_TIMEOUT_MS", 3000)?;
        if queue_timeout.is_zero() || queue_timeout > Duration::from_secs(8) {
            return Err(ConfigError::Invalid {
                name: "SQS_TIMEOUT_MS",
                reason: "must be between 1 and 8000 ms (the provider waits 10 s)".into(),
            });
        }
        Ok(IngestConfig {
            queue_url,
            webhook_secret,
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
