//! Every HTTP destination by name, behind the core's `EventSink`.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use triage_core::dispatch::{DeliveryError, EventSink};
use triage_core::events::TicketEvent;
use triage_core::retry::parse_retry_after;

use crate::endpoint::Endpoint;

/// How long one delivery may take, connection included.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const USER_AGENT: &str = concat!("inbox-triage/", env!("CARGO_PKG_VERSION"));

/// Named HTTP destinations sharing one connection pool.
#[derive(Clone)]
pub struct HttpDestinations {
    http: reqwest::Client,
    endpoints: HashMap<String, Endpoint>,
}

impl fmt::Debug for HttpDestinations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.endpoints.keys().collect();
        names.sort();
        f.debug_struct("HttpDestinations")
            .field("destinations", &names)
            .finish()
    }
}

impl HttpDestinations {
    /// The destinations, one client for all of them. Redirects are not
    /// followed (a signed event goes where it was configured to, or fails).
    pub fn new(endpoints: HashMap<String, Endpoint>) -> Result<HttpDestinations, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpDestinations { http, endpoints })
    }

    /// Names of the configured destinations.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.endpoints.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }
}

/// What an HTTP answer means for a delivery.
pub fn classify(status: StatusCode, retry_after: Option<Duration>) -> Result<(), DeliveryError> {
    if status.is_success() {
        return Ok(());
    }
    let reason = format!("HTTP {}", status.as_u16());
    if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        return Err(DeliveryError::Transient {
            reason,
            retry_after_ms: retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        });
    }
    // 3xx (redirects are not followed) and the other 4xx: the request or
    // the configuration is wrong; repeating it changes nothing.
    Err(DeliveryError::Permanent { reason })
}

fn transport(e: &reqwest::Error) -> DeliveryError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    DeliveryError::Transient {
        reason: what.to_string(),
        retry_after_ms: None,
    }
}

impl EventSink for HttpDestinations {
    async fn deliver(
        &self,
        destination: &str,
        event: &TicketEvent,
        now_s: i64,
    ) -> Result<(), DeliveryError> {
        let Some(endpoint) = self.endpoints.get(destination) else {
            return Err(DeliveryError::Permanent {
                reason: format!("no destination named `{destination}` is configured"),
            });
        };
        let prepared = endpoint.prepare(event, now_s);
        let mut request = self.http.post(endpoint.url().clone());
        for (name, value) in prepared.headers {
            request = request.header(name, value);
        }
        let response = request
            .body(prepared.body)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        classify(response.status(), retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(StatusCode::OK, None), Ok(()));
        assert_eq!(classify(StatusCode::NO_CONTENT, None), Ok(()));
        for s in [408, 429, 500, 502, 503, 504] {
            let e = classify(StatusCode::from_u16(s).unwrap(), None).unwrap_err();
            assert!(e.is_transient(), "{s}");
        }
        for s in [301, 400, 401, 403, 404, 410, 413] {
            let e = classify(StatusCode::from_u16(s).unwrap(), None).unwrap_err();
            assert!(!e.is_transient(), "{s}");
        }
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(7))),
            Err(DeliveryError::Transient {
                reason: "HTTP 429".into(),
                retry_after_ms: Some(7_000)
            })
        );
    }
}
