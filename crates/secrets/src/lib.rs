//! Secrets Manager adapter: read a string secret once, at cold start.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

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
