//! Building the ingest endpoints from configuration, shared by the Lambda
//! and `triage`: each provider with secrets configured is served on its
//! route with its keys; secrets given as ARNs are read from Secrets Manager
//! by the same resolver everywhere.
//!
//! Registering a provider that is delivered over HTTP is one entry in
//! [`PROVIDER_SECRETS`] (after its module and its line in
//! `triage_core::provider::PROVIDERS`).

use triage_core::provider::inbound::InboundJson;
use triage_core::provider::nylas::Nylas;
use triage_core::provider::{Provider, ProviderKeys};
use triage_core::signature::{SecretsError, WebhookSecrets};
use triage_secrets::{SecretError, SecretResolver, SecretSpec};

use crate::config::WebhookConfig;
use crate::handler::Endpoint;

/// The documented test secret (events/README.md): `triage` accepts it for
/// a provider whose secrets are not configured, with a warning at startup.
/// Never used by the Lambda.
pub const TEST_SECRET: &str = "inbox-triage-test-secret";

/// How a provider's secret list is written.
#[derive(Debug, Clone, Copy)]
pub enum SecretFormat {
    /// Each entry's UTF-8 bytes (Nylas).
    Utf8,
    /// `whsec_` entries are base64 key bytes, others UTF-8 (Standard
    /// Webhooks family).
    Whsec,
}

/// A provider delivered over HTTP, the variable naming its secrets, and
/// how they are written.
pub struct ProviderSecrets {
    pub provider: &'static dyn Provider,
    /// The inline variable (its `_ARN` twin names a Secrets Manager secret).
    pub variable: &'static str,
    pub format: SecretFormat,
    /// The configured source, from [`WebhookConfig`].
    pub spec: fn(&WebhookConfig) -> Option<&SecretSpec>,
}

/// Every provider delivered over HTTP.
pub static PROVIDER_SECRETS: [ProviderSecrets; 2] = [
    ProviderSecrets {
        provider: &Nylas,
        variable: "NYLAS_WEBHOOK_SECRET",
        format: SecretFormat::Utf8,
        spec: |c| c.nylas.as_ref(),
    },
    ProviderSecrets {
        provider: &InboundJson,
        variable: "INBOUND_WEBHOOK_SECRETS",
        format: SecretFormat::Whsec,
        spec: |c| c.inbound.as_ref(),
    },
];

impl ProviderSecrets {
    /// This provider served with the secrets in `list`.
    pub fn endpoint(&self, list: &str, tolerance_s: i64) -> Result<Endpoint, ComposeError> {
        let secrets = match self.format {
            SecretFormat::Utf8 => WebhookSecrets::parse(list),
            SecretFormat::Whsec => WebhookSecrets::parse_whsec(list),
        }
        .map_err(|source| ComposeError::Parse {
            variable: self.variable,
            source,
        })?;
        Ok(Endpoint {
            provider: self.provider,
            keys: ProviderKeys {
                secrets,
                tolerance_s,
            },
        })
    }
}

/// Endpoints from inline secret lists (`None`: not served), without the
/// environment: for tests and embedding.
pub fn inline(
    nylas: Option<&str>,
    inbound: Option<&str>,
    tolerance_s: i64,
) -> Result<Vec<Endpoint>, ComposeError> {
    let [n, i] = &PROVIDER_SECRETS;
    let mut out = Vec::new();
    for (entry, list) in [(n, nylas), (i, inbound)] {
        if let Some(list) = list {
            out.push(entry.endpoint(list, tolerance_s)?);
        }
    }
    Ok(out)
}

/// Why the endpoints cannot be built. Names the variable, never a value.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("{variable}: {source}")]
    Read {
        variable: &'static str,
        source: SecretError,
    },
    #[error("no provider can be served: configure and fill at least one webhook secret")]
    NothingToServe,
    #[error("{variable}: {source}")]
    Parse {
        variable: &'static str,
        source: SecretsError,
    },
}

/// What [`endpoints`] built.
#[derive(Default)]
pub struct Composed {
    pub endpoints: Vec<Endpoint>,
    /// Providers accepting the test secret because none is configured
    /// (only when a test secret is given: local runs).
    pub on_test_secret: Vec<&'static str>,
    /// Providers not served because their Secrets Manager secret has no
    /// value yet (the stack creates it empty): their routes answer 404
    /// until it is filled and the function restarts.
    pub secret_unset: Vec<&'static str>,
}

/// The endpoints to serve. Fails when a secret cannot be read or parsed,
/// or when no provider at all can be served.
pub async fn endpoints(
    config: &WebhookConfig,
    resolver: &SecretResolver,
    test_secret: Option<&str>,
) -> Result<Composed, ComposeError> {
    let mut out = Composed::default();
    for entry in &PROVIDER_SECRETS {
        let list = match ((entry.spec)(config), test_secret) {
            (Some(spec), _) => match resolver.resolve(spec).await {
                Ok(list) => list,
                // A secret created without a value has no current version
                // (not found) or an empty string: one unfilled provider must
                // not take the others down.
                Err(SecretError::NotFound { .. } | SecretError::Empty { .. })
                    if matches!(spec, SecretSpec::SecretsManager { .. }) =>
                {
                    out.secret_unset.push(entry.provider.name());
                    continue;
                }
                Err(source) => {
                    return Err(ComposeError::Read {
                        variable: entry.variable,
                        source,
                    });
                }
            },
            (None, Some(test)) => {
                out.on_test_secret.push(entry.provider.name());
                test.to_string()
            }
            (None, None) => continue,
        };
        out.endpoints
            .push(entry.endpoint(&list, config.tolerance_s)?);
    }
    if out.endpoints.is_empty() {
        return Err(ComposeError::NothingToServe);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(nylas: Option<&str>, inbound: Option<&str>) -> WebhookConfig {
        WebhookConfig {
            nylas: nylas.map(|s| SecretSpec::Inline(s.into())),
            inbound: inbound.map(|s| SecretSpec::Inline(s.into())),
            tolerance_s: 120,
        }
    }

    #[tokio::test]
    async fn configured_providers_are_served_and_the_rest_are_not() {
        let r = SecretResolver::new();
        let c = endpoints(&config(Some("a,b"), None), &r, None)
            .await
            .unwrap();
        let (e, test) = (c.endpoints, c.on_test_secret);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].provider.name(), "nylas");
        assert_eq!(e[0].keys.secrets.len(), 2);
        assert!(test.is_empty());
        let e = endpoints(&config(None, Some("whsec_AAAA")), &r, None)
            .await
            .unwrap()
            .endpoints;
        assert_eq!(e[0].provider.name(), "inbound");
        assert_eq!(e[0].keys.tolerance_s, 120);
    }

    #[tokio::test]
    async fn local_runs_fall_back_to_the_test_secret_and_say_so() {
        let r = SecretResolver::new();
        let c = endpoints(&config(Some("real"), None), &r, Some(TEST_SECRET))
            .await
            .unwrap();
        assert_eq!(c.endpoints.len(), 2);
        assert_eq!(c.on_test_secret, ["inbound"]);
        assert!(matches!(
            endpoints(&config(None, None), &r, None).await,
            Err(ComposeError::NothingToServe)
        ));
    }

    #[tokio::test]
    async fn a_bad_whsec_names_the_variable_not_the_value() {
        let r = SecretResolver::new();
        let err = endpoints(&config(None, Some("whsec_!!notbase64")), &r, None)
            .await
            .err()
            .unwrap();
        let s = err.to_string();
        assert!(s.contains("INBOUND_WEBHOOK_SECRETS"), "{s}");
        assert!(!s.contains("notbase64"), "{s}");
    }
}
