//! Building the worker from configuration, shared by the Lambda and
//! `triage`: the rules, the Nylas API source (its key resolved the same way
//! everywhere, `NYLAS_API_KEY_ARN` first), and [`Worker::new`].

use triage_core::acknowledgement::{
    AckLedger, AckSender, Acknowledgement, Acknowledgements, ReplyVia, SendError,
};
use triage_core::classify::Rules;
use triage_core::remember::{self, RememberCompleted};
use triage_nylas::{CachedFolders, NylasClient, NylasConfig};
use triage_secrets::{SecretError, SecretResolver};
use triage_ses::SesSender;

use crate::config::{ProcessingConfig, WorkerSettings};
use crate::handler::Worker;

/// Why the worker cannot be built. Names files and variables, never values.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("cannot read rules file {path}: {source}")]
    RulesUnreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("rules file {path}: {reason}")]
    RulesInvalid { path: String, reason: String },
    #[error("NYLAS_API_KEY: {0}")]
    ApiKey(#[from] SecretError),
    #[error("Nylas client: {0}")]
    Client(String),
}

/// The rules from the file at `path`, else from `inline` TOML text
/// (`RULES_TOML`), else the compiled-in default.
pub fn rules(path: Option<&str>, inline: Option<&str>) -> Result<Rules, ComposeError> {
    match (path, inline) {
        (None, None) => Ok(Rules::default_rules()),
        (None, Some(text)) => Rules::from_toml(text).map_err(|e| ComposeError::RulesInvalid {
            path: "RULES_TOML".to_string(),
            reason: e.to_string(),
        }),
        (Some(path), _) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| ComposeError::RulesUnreadable {
                    path: path.to_string(),
                    source,
                })?;
            Rules::from_toml(&text).map_err(|e| ComposeError::RulesInvalid {
                path: path.to_string(),
                reason: e.to_string(),
            })
        }
    }
}

/// The Nylas API as a message source, when an API key is configured.
pub async fn nylas_source(
    config: &ProcessingConfig,
    resolver: &SecretResolver,
) -> Result<Option<CachedFolders<NylasClient>>, ComposeError> {
    Ok(nylas_client(config, resolver)
        .await?
        .map(CachedFolders::new))
}

/// The Nylas API client, when an API key is configured (`NYLAS_API_KEY_ARN`
/// or `NYLAS_API_KEY`, host `NYLAS_API_URI`): the worker's source and the
/// reconciler's.
pub async fn nylas_client(
    config: &ProcessingConfig,
    resolver: &SecretResolver,
) -> Result<Option<NylasClient>, ComposeError> {
    let Some(spec) = &config.nylas_api_key else {
        return Ok(None);
    };
    let key = resolver.resolve(spec).await?;
    let mut nylas = NylasConfig::new(key.trim());
    nylas.base_url.clone_from(&config.nylas_api_uri);
    NylasClient::new(nylas)
        .map(Some)
        .map_err(|e| ComposeError::Client(e.to_string()))
}

/// Sends each acknowledgement through the provider that received the
/// message: the Nylas send endpoint for Nylas grants, Amazon SES (from
/// `ACK_FROM_ADDRESS`) for providers without a send API. A missing sender
/// fails the acknowledgement visibly; nothing is sent.
#[derive(Debug, Clone, Default)]
pub struct AckSenders {
    pub nylas: Option<NylasClient>,
    pub ses: Option<SesSender>,
}

impl AckSender for AckSenders {
    async fn send(&self, via: &ReplyVia<'_>, ack: &Acknowledgement) -> Result<(), SendError> {
        match (via.provider, &self.nylas, &self.ses) {
            (triage_nylas::send::PROVIDER, Some(nylas), _) => nylas.send(via, ack).await,
            (triage_nylas::send::PROVIDER, None, _) => Err(SendError::Permanent(
                "no Nylas API key (NYLAS_API_KEY): cannot send".into(),
            )),
            (_, _, Some(ses)) => ses.send(via, ack).await,
            (other, _, None) => Err(SendError::Permanent(format!(
                "no sender for `{other}` messages: set ACK_FROM_ADDRESS (an SES-verified address)"
            ))),
        }
    }
}

/// The acknowledgements of `rules` (off unless the rules file enables
/// them), recorded in `ledger`, sent through the Nylas API when a key is
/// configured and through SES when `ACK_FROM_ADDRESS` is (with `sdk`, or
/// the default AWS configuration).
pub async fn acknowledgements<L: AckLedger>(
    rules: &Rules,
    config: &ProcessingConfig,
    resolver: &SecretResolver,
    ledger: L,
    sdk: Option<&aws_config::SdkConfig>,
) -> Result<Acknowledgements<L, AckSenders>, ComposeError> {
    let policy = rules.acknowledgements().clone();
    let nylas = match (&config.nylas_api_key, policy.enabled) {
        (Some(spec), true) => {
            let key = resolver.resolve(spec).await?;
            let mut nylas = NylasConfig::new(key.trim());
            nylas.base_url.clone_from(&config.nylas_api_uri);
            Some(NylasClient::new(nylas).map_err(|e| ComposeError::Client(e.to_string()))?)
        }
        _ => None,
    };
    let ses = match (&config.ack_from_address, policy.enabled) {
        (Some(from), true) => {
            let loaded;
            let sdk = match sdk {
                Some(s) => s,
                None => {
                    loaded = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                    &loaded
                }
            };
            Some(SesSender::new(
                sdk,
                from.clone(),
                config.ack_configuration_set.clone(),
            ))
        }
        _ => None,
    };
    Ok(Acknowledgements {
        policy,
        support_addresses: config.settings.support_addresses.clone(),
        ledger,
        sender: AckSenders { nylas, ses },
    })
}

impl<I, T, S> Worker<RememberCompleted<I>, T, S> {
    /// The worker every runner uses: the idempotency store behind a memory
    /// of completed records (`IDEMPOTENCY_CACHE_ENTRIES`).
    pub fn new(
        idempotency: I,
        tickets: T,
        source: Option<S>,
        rules: Rules,
        settings: WorkerSettings,
    ) -> Self {
        Worker {
            idempotency: RememberCompleted::new(
                idempotency,
                settings.remember_completed,
                remember::MAX_AGE_S,
            ),
            tickets,
            source,
            rules,
            settings,
            acks: triage_core::acknowledgement::NoAcknowledgements,
            raw_mail: triage_core::ports::NoRawMail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_core::config::SecretSpec;

    #[test]
    fn rules_errors_name_the_file() {
        let e = rules(Some("/nonexistent/rules.toml"), None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/rules.toml"), "{e}");
        let dir = std::env::temp_dir().join(format!("rules-{}.toml", std::process::id()));
        std::fs::write(&dir, "not = [valid").unwrap();
        let e = rules(dir.to_str(), None).unwrap_err();
        assert!(matches!(e, ComposeError::RulesInvalid { .. }), "{e}");
        let _ = std::fs::remove_file(&dir);
        assert!(rules(None, None).is_ok());
    }

    #[test]
    fn inline_rules_are_read_when_no_file_is_given() {
        let inline = "[destinations.chat]\ntype = \"slack\"\nurl_var = \"CHAT_URL\"\n\n[routes]\ndefault = [\"chat\"]\n";
        let r = rules(None, Some(inline)).unwrap();
        assert_eq!(r.routing().destinations().len(), 1);
        let e = rules(None, Some("not = [valid")).unwrap_err();
        assert!(e.to_string().contains("RULES_TOML"), "{e}");
        // A file wins over inline text.
        let e = rules(Some("/nonexistent/rules.toml"), Some(inline)).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/rules.toml"), "{e}");
    }

    #[tokio::test]
    async fn the_api_uri_is_used_by_every_runner() {
        let config = ProcessingConfig {
            nylas_api_uri: "http://127.0.0.1:9".into(),
            nylas_api_key: Some(SecretSpec::Inline(" key ".into())),
            rules_file: None,
            rules_toml: None,
            ack_from_address: None,
            ack_configuration_set: None,
            settings: WorkerSettings::default(),
        };
        let source = nylas_source(&config, &SecretResolver::new()).await.unwrap();
        assert!(source.is_some());
        let none = ProcessingConfig {
            nylas_api_key: None,
            ..config
        };
        assert!(
            nylas_source(&none, &SecretResolver::new())
                .await
                .unwrap()
                .is_none()
        );
    }
}
