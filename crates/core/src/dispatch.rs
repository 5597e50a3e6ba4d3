//! Delivering ticket events (issue #12): the ports an event goes through and
//! the rules that decide what happens after each attempt. Pure; the
//! dispatcher that drives them is `triage-dispatch`, the adapters are
//! `triage-destinations` (Slack, signed webhooks), `triage-eventbridge` and
//! the outbox of `triage-sqlite`.
//!
//! Delivery is at least once: an event is retried, per destination, until
//! every destination of its route took it or the attempts run out; then it
//! is dead-lettered with its reason, keeping which destinations already
//! have it, so a redrive delivers only to the others. Receivers deduplicate
//! on the event id (the `webhook-id` of a signed delivery).

use std::future::Future;

use crate::events::TicketEvent;
use crate::ports::StoreError;

/// Attempts per event before it is dead-lettered (locally: about 17 minutes
/// of retries with [`retry_delay_ms`]).
pub const MAX_ATTEMPTS: u32 = 10;
/// First retry delay.
pub const FIRST_RETRY_MS: u64 = 1_000;
/// Longest delay between two attempts (a destination's `Retry-After` is
/// honoured up to this).
pub const MAX_RETRY_MS: u64 = 10 * 60 * 1_000;

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: timeouts, connection errors, 408, 429, 5xx.
    #[error("transient: {reason}")]
    Transient {
        reason: String,
        /// What the destination asked for (`Retry-After`), in ms.
        retry_after_ms: Option<u64>,
    },
    /// Retrying will not help: 4xx other than 408/429, an unknown or
    /// unconfigured destination.
    #[error("permanent: {reason}")]
    Permanent { reason: String },
}

impl DeliveryError {
    pub fn is_transient(&self) -> bool {
        matches!(self, DeliveryError::Transient { .. })
    }
}

/// Where events are delivered: one adapter per kind of destination.
pub trait EventSink: Send + Sync {
    /// Deliver `event` to the destination named `destination` (a name from
    /// the rules file's `[destinations]`), at `now_s` (unix seconds, used
    /// to sign).
    fn deliver(
        &self,
        destination: &str,
        event: &TicketEvent,
        now_s: i64,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// The null sink: nothing configured, nothing delivered (a bus that is not
/// set up). Every delivery succeeds at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSink;

impl EventSink for NoSink {
    async fn deliver(&self, _: &str, _: &TicketEvent, _: i64) -> Result<(), DeliveryError> {
        Ok(())
    }
}

/// Where the `dispatch` function puts an event it could not deliver (an
/// SQS dead-letter queue in AWS), with the destinations that already have
/// it and why the others failed, to be redriven later.
pub trait DeadEvents: Send + Sync {
    fn put(
        &self,
        event: &TicketEvent,
        delivered: &[String],
        reason: &str,
    ) -> impl Future<Output = Result<(), crate::ports::QueueError>> + Send;
}

/// One event waiting in an outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub event: TicketEvent,
    /// Destinations that already took it.
    pub delivered: Vec<String>,
    /// Attempts made so far.
    pub attempts: u32,
}

/// What becomes of an outbox entry after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Every destination has it: remove it.
    Done,
    /// Try again at `next_attempt_ms` for the destinations not in `delivered`.
    Retry {
        delivered: Vec<String>,
        attempts: u32,
        next_attempt_ms: i64,
        reason: String,
    },
    /// Give up: keep it, with its reason, until it is redriven.
    Dead {
        delivered: Vec<String>,
        attempts: u32,
        reason: String,
    },
}

/// An outbox: events written with the ticket, drained by the dispatcher.
pub trait EventOutbox: Send + Sync {
    /// Up to `limit` live entries due at `now_ms`, oldest first.
    fn due(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Pending>, StoreError>> + Send;

    /// Record what became of one entry.
    fn settle(
        &self,
        event_id: &str,
        settled: &Settled,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The delay before attempt `attempts + 1` after `attempts` (1-based) failed:
/// doubling from [`FIRST_RETRY_MS`] up to [`MAX_RETRY_MS`], or the
/// destination's `Retry-After` when longer (capped the same way).
pub fn retry_delay_ms(attempts: u32, retry_after_ms: Option<u64>) -> u64 {
    let shift = attempts.saturating_sub(1).min(30);
    let doubling = FIRST_RETRY_MS.saturating_mul(1u64 << shift);
    doubling.max(retry_after_ms.unwrap_or(0)).min(MAX_RETRY_MS)
}

/// The reason kept with failed deliveries: `name: error` for each, joined.
pub fn failure_reason(failures: &[(String, DeliveryError)]) -> String {
    failures
        .iter()
        .map(|(name, e)| format!("{name}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The longest `Retry-After` (ms) the failed destinations asked for.
pub fn longest_retry_after(failures: &[(String, DeliveryError)]) -> Option<u64> {
    failures
        .iter()
        .filter_map(|(_, e)| match e {
            DeliveryError::Transient { retry_after_ms, .. } => *retry_after_ms,
            DeliveryError::Permanent { .. } => None,
        })
        .max()
}

/// What an attempt at `pending` came to: `delivered` now holds every
/// destination that has the event, `failures` the others with their errors.
/// Transient failures are retried until [`MAX_ATTEMPTS`]; an entry whose
/// failures are all permanent is dead at once.
pub fn settle(
    pending: &Pending,
    delivered: Vec<String>,
    failures: &[(String, DeliveryError)],
    now_ms: i64,
) -> Settled {
    if failures.is_empty() {
        return Settled::Done;
    }
    let attempts = pending.attempts.saturating_add(1);
    let reason = failure_reason(failures);
    let retryable = failures.iter().any(|(_, e)| e.is_transient());
    if !retryable || attempts >= MAX_ATTEMPTS {
        return Settled::Dead {
            delivered,
            attempts,
            reason,
        };
    }
    let delay =
        i64::try_from(retry_delay_ms(attempts, longest_retry_after(failures))).unwrap_or(i64::MAX);
    Settled::Retry {
        delivered,
        attempts,
        next_attempt_ms: now_ms.saturating_add(delay),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(attempts: u32) -> Pending {
        Pending {
            event: crate::events::tests_support::event("evt_1"),
            delivered: vec![],
            attempts,
        }
    }

    fn transient(after: Option<u64>) -> DeliveryError {
        DeliveryError::Transient {
            reason: "HTTP 503".into(),
            retry_after_ms: after,
        }
    }

    fn permanent() -> DeliveryError {
        DeliveryError::Permanent {
            reason: "HTTP 404".into(),
        }
    }

    #[test]
    fn delays_double_honour_retry_after_and_are_capped() {
        assert_eq!(retry_delay_ms(1, None), 1_000);
        assert_eq!(retry_delay_ms(2, None), 2_000);
        assert_eq!(retry_delay_ms(5, None), 16_000);
        assert_eq!(retry_delay_ms(40, None), MAX_RETRY_MS);
        assert_eq!(retry_delay_ms(1, Some(30_000)), 30_000);
        assert_eq!(retry_delay_ms(5, Some(1)), 16_000);
        assert_eq!(retry_delay_ms(1, Some(u64::MAX)), MAX_RETRY_MS);
    }

    #[test]
    fn everything_delivered_is_done() {
        assert_eq!(settle(&pending(3), vec!["a".into()], &[], 0), Settled::Done);
    }

    #[test]
    fn transient_failures_are_retried_keeping_what_was_delivered() {
        let s = settle(
            &pending(0),
            vec!["slack".into()],
            &[("hook".into(), transient(Some(5_000)))],
            1_000,
        );
        assert_eq!(
            s,
            Settled::Retry {
                delivered: vec!["slack".into()],
                attempts: 1,
                next_attempt_ms: 6_000,
                reason: "hook: transient: HTTP 503".into(),
            }
        );
    }

    #[test]
    fn permanent_only_is_dead_at_once_and_mixed_is_retried() {
        let s = settle(&pending(0), vec![], &[("a".into(), permanent())], 0);
        assert!(matches!(s, Settled::Dead { attempts: 1, .. }), "{s:?}");
        let s = settle(
            &pending(0),
            vec![],
            &[("a".into(), permanent()), ("b".into(), transient(None))],
            0,
        );
        assert!(matches!(s, Settled::Retry { .. }), "{s:?}");
    }

    #[test]
    fn attempts_run_out() {
        let s = settle(
            &pending(MAX_ATTEMPTS - 1),
            vec![],
            &[("a".into(), transient(None))],
            0,
        );
        match s {
            Settled::Dead {
                attempts, reason, ..
            } => {
                assert_eq!(attempts, MAX_ATTEMPTS);
                assert_eq!(reason, "a: transient: HTTP 503");
            }
            other => panic!("{other:?}"),
        }
    }
}
