//! Secrets Manager adapter: read a string secret once, at cold start.
//!
//! [`SecretResolver`] turns a configured [`SecretSpec`] (inline value or
//! ARN) into its value, loading the AWS configuration only when an ARN is
//! actually read: every runner (the Lambdas, `triage`) resolves secrets
//! through it, so `*_ARN` variables mean the same everywhere.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
pub use triage_core::config::SecretSpec;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {id} was not found")]
    NotFound { id: String },
    #[error("secret {id} has no string value (binary secrets are not supported)")]
    NotAString { id: String },
    #[error("secret {id} is empty")]
    Empty { id: String },
    #[error("could not read secret {id}: {detail}")]
    Unavailable { id: String, detail: String },
}

/// Resolves [`SecretSpec`]s: inline values as they are, ARNs through
/// Secrets Manager (the AWS configuration is loaded on the first ARN).
#[derive(Debug, Default)]
pub struct SecretResolver {
    reader: tokio::sync::OnceCell<SecretsReader>,
}

impl SecretResolver {
    /// A resolver that loads the default AWS configuration when needed.
    pub fn new() -> Self {
        SecretResolver::default()
    }

    /// A resolver using an already-loaded AWS configuration.
    pub fn with_sdk(sdk: &aws_config::SdkConfig) -> Self {
        SecretResolver {
            reader: tokio::sync::OnceCell::new_with(Some(SecretsReader::new(sdk))),
        }
    }

    /// The secret's value. Never logged.
    pub async fn resolve(&self, spec: &SecretSpec) -> Result<String, SecretError> {
        match spec {
            SecretSpec::Inline(value) => Ok(value.clone()),
            SecretSpec::SecretsManager { arn } => {
                let reader = self
                    .reader
                    .get_or_init(|| async {
                        let sdk =
                            aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                        SecretsReader::new(&sdk)
                    })
                    .await;
                reader.read_string(arn).await
            }
        }
    }
}

/// Reads string secrets by ARN or name.
#[derive(Debug, Clone)]
pub struct SecretsReader {
    client: Client,
}

impl SecretsReader {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        SecretsReader {
            client: Client::new(sdk),
        }
    }

    /// The secret's current string value. Never logged.
    pub async fn read_string(&self, id: &str) -> Result<String, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(GetSecretValueError::ResourceNotFoundException(_)) => {
                    SecretError::NotFound { id: id.to_string() }
                }
                _ => SecretError::Unavailable {
                    id: id.to_string(),
                    detail: DisplayErrorContext(&e).to_string(),
                },
            })?;
        let value = out
            .secret_string()
            .ok_or_else(|| SecretError::NotAString { id: id.to_string() })?;
        if value.trim().is_empty() {
            return Err(SecretError::Empty { id: id.to_string() });
        }
        Ok(value.to_string())
    }

    /// Replace the secret's value (webhook registration and rotation tools).
    pub async fn write_string(&self, id: &str, value: &str) -> Result<(), SecretError> {
        self.client
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| SecretError::Unavailable {
                id: id.to_string(),
                detail: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(())
    }
}
