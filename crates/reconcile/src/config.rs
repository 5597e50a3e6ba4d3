//! Typed configuration of `reconcile`, read once at init.

use triage_core::config::{ConfigError, EnvReader};
use triage_worker::ProcessingConfig;

/// Everything the `reconcile` Lambda needs, from the environment.
#[derive(Debug, Clone)]
pub struct ReconcileConfig {
    /// `IDEMPOTENCY_TABLE`: what is known, and the cursors.
    pub idempotency_table: String,
    /// `QUEUE_URL`: where found messages are queued (the worker's queue).
    pub queue_url: String,
    /// `RECONCILE_GRANTS`: comma-separated; empty: every grant.
    pub grants: Vec<String>,
    /// `RECONCILE_REACTIVATE` (`true`/`false`, default false).
    pub reactivate: bool,
    /// The Nylas API key and host (`NYLAS_API_KEY_ARN`/`NYLAS_API_KEY`,
    /// `NYLAS_API_URI`), read as the worker reads them.
    pub processing: ProcessingConfig,
}

impl ReconcileConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |k: &str| std::env::var(k).ok();
        Self::from_lookup(&lookup)
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = EnvReader::new(lookup);
        let processing = ProcessingConfig::from_env(&env)?;
        if processing.nylas_api_key.is_none() {
            return Err(ConfigError::Missing {
                name: "NYLAS_API_KEY_ARN",
                hint: "reconcile lists messages through the Nylas API: set NYLAS_API_KEY_ARN (or NYLAS_API_KEY)",
            });
        }
        Ok(ReconcileConfig {
            idempotency_table: env.required(
                "IDEMPOTENCY_TABLE",
                "the DynamoDB table of idempotency records (and reconcile cursors)",
            )?,
            queue_url: env.required("QUEUE_URL", "the SQS queue the worker reads")?,
            grants: env.list_or("RECONCILE_GRANTS", &[]),
            reactivate: env.bool_or("RECONCILE_REACTIVATE", false)?,
            processing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn reads_the_environment_and_names_what_is_missing() {
        let env = [
            ("IDEMPOTENCY_TABLE", "idem"),
            ("QUEUE_URL", "https://sqs/q"),
            ("NYLAS_API_KEY", "k"),
            ("RECONCILE_GRANTS", "g1, g2"),
            ("RECONCILE_REACTIVATE", "true"),
        ];
        let c = ReconcileConfig::from_lookup(&lookup(&env)).unwrap();
        assert_eq!(c.grants, ["g1", "g2"]);
        assert!(c.reactivate);
        let no_key = [("IDEMPOTENCY_TABLE", "idem"), ("QUEUE_URL", "q")];
        let e = ReconcileConfig::from_lookup(&lookup(&no_key)).unwrap_err();
        assert!(e.to_string().contains("NYLAS_API_KEY"), "{e}");
        let no_queue = [("IDEMPOTENCY_TABLE", "idem"), ("NYLAS_API_KEY", "k")];
        let e = ReconcileConfig::from_lookup(&lookup(&no_queue)).unwrap_err();
        assert!(e.to_string().contains("QUEUE_URL"), "{e}");
    }
}
