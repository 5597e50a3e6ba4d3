//! Typed configuration of `worker`, read once at init.

use std::time::Duration;

use triage_core::config::{ConfigError, EnvReader, SecretSpec};

/// When to fetch the full message from the provider's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchPolicy {
    /// Always fetch (with headers): correct auto-reply detection. Default.
    Always,
    /// Only when the notification lacks the message (truncated, reference,
    /// no body). Fewer API calls; auto-reply detection falls back to subject
    /// and sender signals.
    WhenNeeded,
}

impl std::str::FromStr for FetchPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "always" => Ok(FetchPolicy::Always),
            "when-needed" => Ok(FetchPolicy::WhenNeeded),
            other => Err(format!(
                "unknown fetch policy {other:?} (always | when-needed)"
            )),
        }
    }
}

/// Behaviour of the record handler (independent of where it runs).
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub fetch_policy: FetchPolicy,
    /// Our own addresses, lower-case: their mail is our outbound.
    pub support_addresses: Vec<String>,
    pub allow_historic: bool,
    /// How long idempotency records live (DynamoDB TTL).
    pub idempotency_ttl: Duration,
    /// How long a claim is held before another worker may take over. Must
    /// end before the queue's visibility timeout.
    pub lease: Duration,
    /// Completed records remembered per process (`RememberCompleted`);
    /// 0 turns the memory off.
    pub remember_completed: usize,
    /// Records of one batch processed at once.
    pub concurrency: usize,
    /// How much of a raw message (Amazon SES receiving) is read; the rest
    /// of a larger one stays in its bucket and the ticket says so.
    pub raw_mail_max_bytes: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            fetch_policy: FetchPolicy::Always,
            support_addresses: Vec::new(),
            allow_historic: false,
            idempotency_ttl: Duration::from_secs(7 * 24 * 3600),
            lease: Duration::from_secs(120),
            remember_completed: 10_000,
            concurrency: 8,
            raw_mail_max_bytes: DEFAULT_RAW_MAIL_MAX_BYTES,
        }
    }
}

/// Default of [`WorkerSettings::raw_mail_max_bytes`]: 10 MiB.
pub const DEFAULT_RAW_MAIL_MAX_BYTES: usize = 10 * 1024 * 1024;
/// Largest `RAW_MAIL_MAX_BYTES` accepted: SES receives messages of up to
/// 40 MB, and the parser's own limit is higher.
pub const MAX_RAW_MAIL_BYTES: usize = 40 * 1024 * 1024;

/// What every runner of the worker (the Lambda, `triage`) reads from the
/// environment: the Nylas API, the rules, the settings.
#[derive(Debug, Clone)]
pub struct ProcessingConfig {
    /// `NYLAS_API_URI`, default `https://api.us.nylas.com`.
    pub nylas_api_uri: String,
    /// `NYLAS_API_KEY_ARN` (wins) or `NYLAS_API_KEY`. `None`: fetching is off.
    pub nylas_api_key: Option<SecretSpec>,
    /// `RULES_FILE`: a TOML rules file; `None`: the compiled-in default.
    pub rules_file: Option<String>,
    /// `RULES_TOML`: the rules file's text itself (the Lambdas, where no
    /// file is deployed; the template's `RulesToml`). `RULES_FILE` wins.
    pub rules_toml: Option<String>,
    /// `ACK_FROM_ADDRESS`: the SES-verified address acknowledgements of
    /// providers without a send API (the signed inbound family) come from.
    pub ack_from_address: Option<String>,
    /// `ACK_SES_CONFIGURATION_SET`: an SES configuration set for them.
    pub ack_configuration_set: Option<String>,
    pub settings: WorkerSettings,
}

impl ProcessingConfig {
    pub fn from_env(env: &EnvReader<'_>) -> Result<Self, ConfigError> {
        Ok(ProcessingConfig {
            nylas_api_uri: env
                .get("NYLAS_API_URI")
                .unwrap_or_else(|| "https://api.us.nylas.com".to_string()),
            nylas_api_key: env.optional_secret("NYLAS_API_KEY", "NYLAS_API_KEY_ARN"),
            rules_file: env.get("RULES_FILE"),
            rules_toml: env.get("RULES_TOML"),
            ack_from_address: env.get("ACK_FROM_ADDRESS"),
            ack_configuration_set: env.get("ACK_SES_CONFIGURATION_SET"),
            settings: settings_from(env)?,
        })
    }
}

/// Everything the `worker` Lambda reads from the environment.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub idempotency_table: String,
    pub tickets_table: String,
    pub processing: ProcessingConfig,
    /// `QUEUE_URL` and `DLQ_URL` together: the worker's own queue and its
    /// dead-letter queue, for redelivery (permanent failures dead-lettered
    /// at once with their reason; waits put back without spending a
    /// receive). Unset: every failure is left to SQS's retries.
    pub redelivery: Option<RedeliveryQueues>,
    /// `SES_MAIL_BUCKET`: the bucket Amazon SES receiving writes raw mail
    /// to. Set: S3's notifications on the queue are read (the worker builds
    /// an S3 client); unset or empty: they fail as permanent.
    pub ses_mail_bucket: Option<String>,
}

/// The queues redelivery writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeliveryQueues {
    pub queue_url: String,
    pub dlq_url: String,
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |k: &str| std::env::var(k).ok();
        Self::from_lookup(&lookup)
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = EnvReader::new(lookup);
        let processing = ProcessingConfig::from_env(&env)?;
        Ok(WorkerConfig {
            idempotency_table: env.required(
                "IDEMPOTENCY_TABLE",
                "the DynamoDB table of idempotency records",
            )?,
            tickets_table: env.required("TICKETS_TABLE", "the DynamoDB table of tickets")?,
            ses_mail_bucket: env.get("SES_MAIL_BUCKET").filter(|b| !b.trim().is_empty()),
            processing,
            redelivery: match (env.get("QUEUE_URL"), env.get("DLQ_URL")) {
                (Some(queue_url), Some(dlq_url)) => Some(RedeliveryQueues { queue_url, dlq_url }),
                (None, None) => None,
                (Some(_), None) => {
                    return Err(ConfigError::Missing {
                        name: "DLQ_URL",
                        hint: "set DLQ_URL with QUEUE_URL (or neither)",
                    });
                }
                (None, Some(_)) => {
                    return Err(ConfigError::Missing {
                        name: "QUEUE_URL",
                        hint: "set QUEUE_URL with DLQ_URL (or neither)",
                    });
                }
            },
        })
    }
}

/// The settings shared by every runner (Lambda and local).
pub fn settings_from(env: &EnvReader<'_>) -> Result<WorkerSettings, ConfigError> {
    let d = WorkerSettings::default();
    let ttl_s: u64 = env.parse_or("IDEMPOTENCY_TTL_SECONDS", d.idempotency_ttl.as_secs())?;
    let lease_s: u64 = env.parse_or("LEASE_SECONDS", d.lease.as_secs())?;
    if lease_s == 0 || ttl_s <= lease_s {
        return Err(ConfigError::Invalid {
            name: "LEASE_SECONDS",
            reason: "must be above 0 and below IDEMPOTENCY_TTL_SECONDS".into(),
        });
    }
    Ok(WorkerSettings {
        fetch_policy: env.parse_or("FETCH_POLICY", d.fetch_policy)?,
        support_addresses: env
            .list_or("SUPPORT_ADDRESSES", &[])
            .into_iter()
            .map(|a| a.to_ascii_lowercase())
            .collect(),
        allow_historic: env.bool_or("ALLOW_HISTORIC", false)?,
        idempotency_ttl: Duration::from_secs(ttl_s),
        lease: Duration::from_secs(lease_s),
        remember_completed: env
            .parse_or("IDEMPOTENCY_CACHE_ENTRIES", d.remember_completed)?
            .min(1_000_000),
        concurrency: env
            .parse_or("WORKER_CONCURRENCY", d.concurrency)?
            .clamp(1, 64),
        raw_mail_max_bytes: env
            .parse_or("RAW_MAIL_MAX_BYTES", d.raw_mail_max_bytes)?
            .clamp(64 * 1024, MAX_RAW_MAIL_BYTES),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn tables_are_required_and_named() {
        let m: HashMap<&str, &str> = HashMap::from([("TICKETS_TABLE", "t")]);
        let f = |k: &str| m.get(k).map(|v| v.to_string());
        let e = WorkerConfig::from_lookup(&f).unwrap_err();
        assert!(e.to_string().contains("IDEMPOTENCY_TABLE"), "{e}");
    }

    #[test]
    fn settings_parse_and_validate() {
        let m: HashMap<&str, &str> = HashMap::from([
            ("IDEMPOTENCY_TABLE", "i"),
            ("TICKETS_TABLE", "t"),
            ("FETCH_POLICY", "when-needed"),
            ("SUPPORT_ADDRESSES", "Support@Example.com, help@example.com"),
        ]);
        let f = |k: &str| m.get(k).map(|v| v.to_string());
        let c = WorkerConfig::from_lookup(&f).unwrap();
        assert_eq!(c.processing.settings.fetch_policy, FetchPolicy::WhenNeeded);
        assert_eq!(
            c.processing.settings.support_addresses,
            ["support@example.com", "help@example.com"]
        );
        assert!(c.processing.nylas_api_key.is_none());

        let bad: HashMap<&str, &str> = HashMap::from([
            ("IDEMPOTENCY_TABLE", "i"),
            ("TICKETS_TABLE", "t"),
            ("FETCH_POLICY", "sometimes"),
        ]);
        let f = |k: &str| bad.get(k).map(|v| v.to_string());
        assert!(
            WorkerConfig::from_lookup(&f)
                .unwrap_err()
                .to_string()
                .contains("FETCH_POLICY")
        );
    }
}
