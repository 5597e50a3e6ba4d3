//! `GetObject` error -> what the port answers.
//!
//! Two errors are answers, not failures: no such key (404) is "no such
//! object" and an unsatisfiable range (416, `InvalidRange`) is an empty
//! object (the range always starts at byte 0, so only an empty object
//! cannot satisfy it). The rest is a [`FetchError`]: throttling
//! (`SlowDown`), 5xx, `RequestTimeout`, timeouts and connection failures
//! are `Transient` (S3 gives no retry hint, so never `Throttled`); access
//! denied, a missing bucket and other 4xx are `Permanent`.
//!
//! Messages carry the operation, the error code and the HTTP status only:
//! never the bucket or the key (a key can hold an address) nor the
//! service's free-text message.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use triage_core::ports::FetchError;

/// What a failed `GetObject` means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No such object (`NoSuchKey`, 404): `Ok(None)`.
    Missing,
    /// `InvalidRange` (416): the object is empty.
    Empty,
    /// A failure of the call.
    Failed(FetchError),
}

/// Error codes worth retrying: throttling, S3's 5xx codes, a request S3
/// did not receive in time, a clock the SDK will correct on the next try.
const TRANSIENT: &[&str] = &[
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
];

/// Map an SDK error of `GetObject`.
pub(crate) fn map_get_object_error(err: &SdkError<GetObjectError, HttpResponse>) -> Failure {
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            if matches!(ctx.err(), GetObjectError::NoSuchKey(_)) {
                return Failure::Missing;
            }
            by_code(err.code(), Some(status))
        }
        SdkError::TimeoutError(_) => {
            Failure::Failed(FetchError::Transient("S3 GetObject: timeout".into()))
        }
        SdkError::DispatchFailure(d) => {
            let kind = if d.is_timeout() {
                "dispatch timeout"
            } else if d.is_io() {
                "dispatch io failure"
            } else {
                "dispatch failure"
            };
            Failure::Failed(FetchError::Transient(format!("S3 GetObject: {kind}")))
        }
        SdkError::ResponseError(_) => Failure::Failed(FetchError::Transient(
            "S3 GetObject: unreadable response".into(),
        )),
        SdkError::ConstructionFailure(_) => Failure::Failed(FetchError::Permanent(
            "S3 GetObject: request construction failed".into(),
        )),
        _ => Failure::Failed(FetchError::Transient(
            "S3 GetObject: unknown sdk error".into(),
        )),
    }
}

/// Classify by error code, falling back to the HTTP status.
pub(crate) fn by_code(code: Option<&str>, status: Option<u16>) -> Failure {
    match (code, status) {
        // A missing bucket is configuration, not a deleted message.
        (Some("NoSuchBucket"), _) => {}
        (Some("NoSuchKey"), _) | (None, Some(404)) => return Failure::Missing,
        (Some("InvalidRange"), _) | (None, Some(416)) => return Failure::Empty,
        _ => {}
    }
    let shown = code.unwrap_or("no error code");
    let msg = match status {
        Some(s) => format!("S3 GetObject: {shown} (http {s})"),
        None => format!("S3 GetObject: {shown}"),
    };
    let transient = match code {
        Some(c) if TRANSIENT.contains(&c) => true,
        _ => matches!(status, Some(408 | 429) | Some(500..)),
    };
    Failure::Failed(if transient {
        FetchError::Transient(msg)
    } else {
        FetchError::Permanent(msg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient(f: Failure) -> bool {
        matches!(f, Failure::Failed(FetchError::Transient(_)))
    }

    fn permanent(f: Failure) -> bool {
        matches!(f, Failure::Failed(FetchError::Permanent(_)))
    }

    #[test]
    fn answers_that_are_not_failures() {
        assert_eq!(by_code(Some("NoSuchKey"), Some(404)), Failure::Missing);
        assert_eq!(by_code(None, Some(404)), Failure::Missing);
        assert_eq!(by_code(Some("InvalidRange"), Some(416)), Failure::Empty);
        assert_eq!(by_code(None, Some(416)), Failure::Empty);
    }

    #[test]
    fn codes_decide_retry() {
        assert!(transient(by_code(Some("SlowDown"), Some(503))));
        assert!(transient(by_code(Some("InternalError"), Some(500))));
        assert!(transient(by_code(Some("RequestTimeout"), Some(400))));
        assert!(transient(by_code(None, Some(503))));
        assert!(transient(by_code(None, Some(429))));
        assert!(transient(by_code(Some("SomethingNew"), Some(502))));
        assert!(permanent(by_code(Some("AccessDenied"), Some(403))));
        assert!(permanent(by_code(Some("NoSuchBucket"), Some(404))));
        assert!(permanent(by_code(Some("InvalidObjectState"), Some(403))));
        assert!(permanent(by_code(Some("SomethingNew"), Some(400))));
        assert!(permanent(by_code(None, Some(403))));
    }

    #[test]
    fn messages_hold_the_code_and_status_only() {
        let Failure::Failed(e) = by_code(Some("AccessDenied"), Some(403)) else {
            panic!("a failure");
        };
        assert_eq!(
            e.to_string(),
            "provider API permanent failure: S3 GetObject: AccessDenied (http 403)"
        );
    }
}
