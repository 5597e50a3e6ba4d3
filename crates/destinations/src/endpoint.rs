//! One destination: where it is, how events are shaped for it.

use std::fmt;

use reqwest::Url;
use triage_core::events::TicketEvent;
use triage_core::routing::DestinationKind;
use triage_core::{signed_delivery, slack};

/// Why a destination's configuration is refused. Never shows the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("the URL is not a valid absolute URL")]
    NotAUrl,
    #[error("the URL must use https (plain http only to localhost)")]
    NotHttps,
    #[error("a webhook needs a signing key")]
    NoKey,
}

/// A configured destination.
#[derive(Clone)]
pub struct Endpoint {
    kind: DestinationKind,
    url: Url,
    key: Option<Vec<u8>>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("kind", &self.kind)
            .field("url", &"(secret)")
            .finish()
    }
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Endpoint {
    /// A destination of `kind` at `url`; webhooks need `key` (raw bytes,
    /// see [`signed_delivery::signing_key`]). HTTPS only, except plain HTTP
    /// to a loopback address (a local receiver).
    pub fn new(
        kind: DestinationKind,
        url: &str,
        key: Option<Vec<u8>>,
    ) -> Result<Endpoint, EndpointError> {
        let url = Url::parse(url.trim()).map_err(|_| EndpointError::NotAUrl)?;
        if url.host().is_none() {
            return Err(EndpointError::NotAUrl);
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            _ => return Err(EndpointError::NotHttps),
        }
        let key = match kind {
            DestinationKind::Webhook => {
                Some(key.filter(|k| !k.is_empty()).ok_or(EndpointError::NoKey)?)
            }
            DestinationKind::Slack => None,
        };
        Ok(Endpoint { kind, url, key })
    }

    pub fn kind(&self) -> DestinationKind {
        self.kind
    }

    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The request for `event` at `now_s`.
    pub fn prepare(&self, event: &TicketEvent, now_s: i64) -> Prepared {
        match (&self.kind, &self.key) {
            (DestinationKind::Webhook, Some(key)) => {
                let signed = signed_delivery::sign(event, key, now_s);
                Prepared {
                    headers: signed.headers,
                    body: signed.body,
                }
            }
            _ => Prepared {
                headers: vec![("content-type", "application/json".to_string())],
                body: slack::message(event).to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_or_loopback_only() {
        let slack = DestinationKind::Slack;
        assert!(Endpoint::new(slack, "https://hooks.slack.com/services/T/B/X", None).is_ok());
        assert!(Endpoint::new(slack, "http://127.0.0.1:9000/hook", None).is_ok());
        assert!(Endpoint::new(slack, "http://localhost:9000/hook", None).is_ok());
        assert!(Endpoint::new(slack, "http://[::1]:9000/hook", None).is_ok());
        assert_eq!(
            Endpoint::new(slack, "http://example.com/hook", None).unwrap_err(),
            EndpointError::NotHttps
        );
        assert_eq!(
            Endpoint::new(slack, "ftp://example.com/x", None).unwrap_err(),
            EndpointError::NotHttps
        );
        assert_eq!(
            Endpoint::new(slack, "not a url", None).unwrap_err(),
            EndpointError::NotAUrl
        );
        assert_eq!(
            Endpoint::new(DestinationKind::Webhook, "https://h.example/x", None).unwrap_err(),
            EndpointError::NoKey
        );
    }

    #[test]
    fn debug_never_shows_the_url() {
        let e = Endpoint::new(
            DestinationKind::Slack,
            "https://hooks.slack.com/services/T0/B0/SECRETPART",
            None,
        )
        .unwrap();
        assert!(!format!("{e:?}").contains("SECRETPART"));
    }
}
