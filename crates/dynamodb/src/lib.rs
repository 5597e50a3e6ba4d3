//! DynamoDB adapter: idempotency records ([`DynamoIdempotency`]), tickets
//! with threading ([`DynamoTickets`]) and acknowledgement records
//! ([`acks::DynamoAckLedger`], in the idempotency table), and
//! reconciliation's cursors and known-message reads ([`reconcile`], on the
//! idempotency table).
//! [`capacity`] computes request units from item sizes and meters a client.
//!
//! Both tables have a single string hash key `pk`; the idempotency table's
//! TTL attribute is `expires_at` (unix seconds). Tickets never expire. The
//! item layouts and the write algorithms are documented in [`idempotency`]
//! and [`tickets`].
//!
//! Construction takes an [`SdkConfig`] the caller built (region,
//! credentials, endpoint): this crate reads no environment. For Lambda,
//! bound every call with [`with_short_timeouts`] so a stalled request fails
//! fast and the message is redelivered instead of the invocation timing out.
//!
//! Errors are [`StoreError`](triage_core::ports::StoreError): throttling
//! (`ProvisionedThroughputExceeded`, `ThrottlingException`,
//! `RequestLimitExceeded`) is `Throttled`; timeouts, connection failures and
//! 5xx are `Unavailable`; validation errors (including an item over 400 KB),
//! a missing table and credential/permission errors are `Rejected`. Messages
//! carry operation, table, item ids and error codes only.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;

pub mod acks;
mod attr;
mod batch;
pub mod capacity;
mod error;
pub mod idempotency;
mod keylock;
pub mod reconcile;
pub mod tickets;

pub use acks::DynamoAckLedger;
pub use idempotency::DynamoIdempotency;
pub use tickets::DynamoTickets;

/// Whole-operation timeout (all retries included) of [`short_timeouts`].
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
/// Per-attempt timeout of [`short_timeouts`].
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Connect timeout of [`short_timeouts`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Short timeouts for DynamoDB calls from a Lambda: 3 s per operation
/// (retries included), 1 s per attempt, 500 ms to connect.
pub fn short_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_timeout(OPERATION_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
}

/// `sdk` with [`short_timeouts`]; pass the result to the stores' `new`.
pub fn with_short_timeouts(sdk: &SdkConfig) -> SdkConfig {
    sdk.to_builder().timeout_config(short_timeouts()).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_timeouts_are_set() {
        let t = short_timeouts();
        assert_eq!(t.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert_eq!(t.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(t.connect_timeout(), Some(CONNECT_TIMEOUT));
    }
}
