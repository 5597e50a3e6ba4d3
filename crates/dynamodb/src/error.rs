//! SDK error -> [`StoreError`] mapping.
//!
//! Messages carry what we were doing (operation, table, item ids) and the
//! DynamoDB error code only, never the service's free-text message, which
//! can quote attribute values.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use triage_core::ports::StoreError;

/// Error codes DynamoDB uses when a table or account is over its rate.
const THROTTLING: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "LimitExceededException",
];

/// Codes that are worth retrying by redelivery (besides throttling).
const TRANSIENT: &[&str] = &[
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
];

/// Codes that retrying cannot fix: bad request, missing table, item too
/// large (a `ValidationException`), credentials or permissions.
const PERMANENT: &[&str] = &[
    "ValidationException",
    "ResourceNotFoundException",
    "ItemCollectionSizeLimitExceededException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "SerializationException",
    "ConditionalCheckFailedException",
    "DuplicateItemException",
    "IdempotentParameterMismatchException",
];

/// Map an SDK error. `what` names the operation and the item ids, e.g.
/// `claim g1#m1 in table-x`.
pub(crate) fn map_sdk_error<E>(what: &str, err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::TimeoutError(_) => StoreError::Unavailable(format!("{what}: timeout")),
        SdkError::DispatchFailure(d) => {
            let kind = if d.is_timeout() {
                "dispatch timeout"
            } else if d.is_io() {
                "dispatch io failure"
            } else {
                "dispatch failure"
            };
            StoreError::Unavailable(format!("{what}: {kind}"))
        }
        SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{what}: unreadable response"))
        }
        SdkError::ConstructionFailure(_) => {
            StoreError::Rejected(format!("{what}: request construction failed"))
        }
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            by_code(what, err.code(), Some(status))
        }
        _ => StoreError::Unavailable(format!("{what}: unknown sdk error")),
    }
}

/// Classify by error code, falling back to the HTTP status.
pub(crate) fn by_code(what: &str, code: Option<&str>, status: Option<u16>) -> StoreError {
    let shown = code.unwrap_or("no error code");
    let msg = match status {
        Some(s) => format!("{what}: {shown} (http {s})"),
        None => format!("{what}: {shown}"),
    };
    match code {
        Some(c) if THROTTLING.contains(&c) => StoreError::Throttled(msg),
        Some(c) if TRANSIENT.contains(&c) => StoreError::Unavailable(msg),
        Some(c) if PERMANENT.contains(&c) => StoreError::Rejected(msg),
        _ => match status {
            Some(429) => StoreError::Throttled(msg),
            Some(s) if s >= 500 => StoreError::Unavailable(msg),
            Some(s) if (400..500).contains(&s) => StoreError::Rejected(msg),
            _ => StoreError::Unavailable(msg),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert!(matches!(
            by_code(
                "x",
                Some("ProvisionedThroughputExceededException"),
                Some(400)
            ),
            StoreError::Throttled(_)
        ));
        assert!(matches!(
            by_code("x", Some("ThrottlingException"), Some(400)),
            StoreError::Throttled(_)
        ));
        assert!(matches!(
            by_code("x", Some("RequestLimitExceeded"), Some(400)),
            StoreError::Throttled(_)
        ));
        assert!(matches!(
            by_code("x", Some("ValidationException"), Some(400)),
            StoreError::Rejected(_)
        ));
        assert!(matches!(
            by_code("x", Some("ResourceNotFoundException"), Some(400)),
            StoreError::Rejected(_)
        ));
        assert!(matches!(
            by_code("x", Some("InternalServerError"), Some(500)),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            by_code("x", None, Some(503)),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            by_code("x", None, Some(429)),
            StoreError::Throttled(_)
        ));
        assert!(matches!(
            by_code("x", Some("SomethingNew"), Some(400)),
            StoreError::Rejected(_)
        ));
    }

    #[test]
    fn messages_hold_ids_and_codes_only() {
        let e = by_code("claim g1#m1 in t", Some("ValidationException"), Some(400));
        assert_eq!(
            e.to_string(),
            "store rejected the request: claim g1#m1 in t: ValidationException (http 400)"
        );
    }
}
