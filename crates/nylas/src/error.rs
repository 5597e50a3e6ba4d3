//! Errors of the Nylas adapter, and their mapping to the core's [`FetchError`].

use std::fmt;

use triage_core::ports::FetchError;

/// Why the client stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// `max_attempts` attempts were made.
    AttemptsExhausted,
    /// The next wait (or the next attempt) would end after the caller's deadline.
    Deadline,
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GiveUpReason::AttemptsExhausted => "attempts exhausted",
            GiveUpReason::Deadline => "deadline reached",
        })
    }
}

/// Everything that can go wrong talking to Nylas.
#[derive(Debug, thiserror::Error)]
pub enum NylasError {
    /// The client could not be built (bad base URL, API key not a valid header value, ...).
    #[error("invalid Nylas client configuration: {0}")]
    Config(String),

    /// An argument that cannot name a resource (empty id, `.` or `..`).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A status retrying will not fix (400, 401, 403, other 4xx, and 404
    /// where the resource must exist).
    #[error("Nylas rejected the request: HTTP {status}{}{}",
        error_type.as_deref().map(|t| format!(" ({t})")).unwrap_or_default(),
        request_id.as_deref().map(|r| format!(", request_id {r}")).unwrap_or_default())]
    Rejected {
        status: u16,
        /// `error.type` of the Nylas error body, when there was one.
        error_type: Option<String>,
        request_id: Option<String>,
    },

    /// The response body is larger than the configured cap.
    #[error("Nylas response body exceeds the {limit}-byte cap")]
    BodyTooLarge { limit: usize },

    /// A success status whose body is not the expected JSON.
    #[error("malformed Nylas response: {0}")]
    Malformed(String),

    /// The folder listing had more pages than `max_folder_pages`.
    #[error("Nylas folder listing exceeded {limit} pages")]
    TooManyPages { limit: u32 },

    /// Retryable failures (429, 5xx, timeouts, connection errors) until the
    /// attempts or the deadline ran out.
    #[error("Nylas request gave up after {attempts} attempt(s), {reason}; last failure: {last}")]
    GaveUp {
        attempts: u32,
        reason: GiveUpReason,
        /// The last failure, e.g. `HTTP 503` or `timeout`.
        last: String,
        /// Status of the last failure, when it was an HTTP answer.
        last_status: Option<u16>,
        /// The last failure's `Retry-After`, when it had one.
        retry_after: Option<std::time::Duration>,
    },
}

impl NylasError {
    /// Whether a later retry (e.g. SQS redelivery) may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, NylasError::GaveUp { .. })
    }
}

impl From<NylasError> for FetchError {
    fn from(e: NylasError) -> Self {
        if let NylasError::GaveUp {
            retry_after: Some(wait),
            ..
        } = &e
        {
            // The provider said how long: carry it to the queue.
            FetchError::Throttled {
                retry_after_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                detail: e.to_string(),
            }
        } else if e.is_transient() {
            FetchError::Transient(e.to_string())
        } else {
            FetchError::Permanent(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_fetch_error() {
        let e = NylasError::GaveUp {
            attempts: 3,
            reason: GiveUpReason::AttemptsExhausted,
            last: "HTTP 503".into(),
            last_status: Some(503),
            retry_after: None,
        };
        match FetchError::from(e) {
            FetchError::Transient(m) => assert!(m.contains("HTTP 503"), "{m}"),
            other => panic!("{other:?}"),
        }
        let e = NylasError::Rejected {
            status: 401,
            error_type: Some("unauthorized".into()),
            request_id: Some("r1".into()),
        };
        match FetchError::from(e) {
            FetchError::Permanent(m) => {
                assert_eq!(
                    m,
                    "Nylas rejected the request: HTTP 401 (unauthorized), request_id r1"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            FetchError::from(NylasError::BodyTooLarge { limit: 1 }),
            FetchError::Permanent(_)
        ));
    }
}
