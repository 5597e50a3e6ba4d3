//! The destinations of a rules file, with their secrets resolved once at
//! start: for a variable `VAR` named in the file, `VAR_ARN` (a Secrets
//! Manager secret, in AWS) wins over `VAR` (the value itself, locally).

use std::collections::HashMap;

use triage_core::config::EnvReader;
use triage_core::routing::{Destination, DestinationKind, Routing};
use triage_core::signed_delivery::{SigningKeyError, signing_key};
use triage_secrets::{SecretError, SecretResolver};

use crate::endpoint::{Endpoint, EndpointError};
use crate::sink::HttpDestinations;

/// Why the destinations cannot be built. Names destinations and variables,
/// never values.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("destination `{destination}`: set {var} (or {var}_ARN)")]
    Unset { destination: String, var: String },
    #[error("destination `{destination}`: {var}: {source}")]
    Secret {
        destination: String,
        var: String,
        source: SecretError,
    },
    #[error("destination `{destination}`: {var}: {source}")]
    Url {
        destination: String,
        var: String,
        source: EndpointError,
    },
    #[error("destination `{destination}`: {var}: {source}")]
    Key {
        destination: String,
        var: String,
        source: SigningKeyError,
    },
    #[error("HTTP client: {0}")]
    Client(String),
}

async fn read(
    env: &EnvReader<'_>,
    resolver: &SecretResolver,
    destination: &str,
    var: &str,
) -> Result<String, ComposeError> {
    let spec = env
        .optional_secret(var, &format!("{var}_ARN"))
        .ok_or_else(|| ComposeError::Unset {
            destination: destination.to_string(),
            var: var.to_string(),
        })?;
    resolver
        .resolve(&spec)
        .await
        .map_err(|source| ComposeError::Secret {
            destination: destination.to_string(),
            var: var.to_string(),
            source,
        })
}

/// Every destination of `routing`, its URL (and signing key) read through
/// `lookup` and `resolver`. A destination whose variables are unset is an
/// error: events routed to it could never be delivered.
pub async fn from_routing(
    routing: &Routing,
    lookup: &dyn Fn(&str) -> Option<String>,
    resolver: &SecretResolver,
) -> Result<HttpDestinations, ComposeError> {
    let (destinations, mut refused) = from_routing_partial(routing, lookup, resolver).await?;
    match refused.is_empty() {
        true => Ok(destinations),
        false => Err(refused.remove(0)),
    }
}

/// Like [`from_routing`], but a destination that cannot be configured is
/// left out and reported, not fatal: its deliveries then fail as permanent
/// ("no destination named ... is configured") and their events are
/// dead-lettered, to be redriven once it is fixed. The `dispatch` function
/// uses this, so a bad secret parks events instead of stopping the stream.
pub async fn from_routing_partial(
    routing: &Routing,
    lookup: &dyn Fn(&str) -> Option<String>,
    resolver: &SecretResolver,
) -> Result<(HttpDestinations, Vec<ComposeError>), ComposeError> {
    let env = EnvReader::new(lookup);
    let mut endpoints = HashMap::new();
    let mut refused = Vec::new();
    for d in routing.destinations() {
        match endpoint(&env, resolver, d).await {
            Ok(e) => {
                endpoints.insert(d.name.clone(), e);
            }
            Err(e) => refused.push(e),
        }
    }
    let destinations =
        HttpDestinations::new(endpoints).map_err(|e| ComposeError::Client(e.to_string()))?;
    Ok((destinations, refused))
}

async fn endpoint(
    env: &EnvReader<'_>,
    resolver: &SecretResolver,
    d: &Destination,
) -> Result<Endpoint, ComposeError> {
    let url = read(env, resolver, &d.name, &d.url_var).await?;
    let key = match (&d.kind, &d.signing_secret_var) {
        (DestinationKind::Webhook, Some(var)) => {
            let secret = read(env, resolver, &d.name, var).await?;
            Some(signing_key(&secret).map_err(|source| ComposeError::Key {
                destination: d.name.clone(),
                var: var.clone(),
                source,
            })?)
        }
        _ => None,
    };
    Endpoint::new(d.kind, &url, key).map_err(|source| ComposeError::Url {
        destination: d.name.clone(),
        var: d.url_var.clone(),
        source,
    })
}
