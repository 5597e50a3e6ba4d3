//! The retry engine of every Nylas call: what one attempt's failure means
//! ([`AttemptError`], [`Retryable`]), the loop that repeats an attempt
//! within the attempt limit and the caller's deadline ([`with_retries`]:
//! `Retry-After` honoured, else jittered backoff from
//! [`triage_core::retry`]), and how a status or transport error is
//! classified. The HTTP requests themselves are in `client.rs`.

use std::fmt;
use std::time::{Duration, Instant};

use triage_core::retry::backoff;

use crate::client::{Ctx, ErrorInfo};
use crate::config::NylasConfig;
use crate::error::{GiveUpReason, NylasError};

/// What one attempt's failure means.
pub(crate) enum AttemptError {
    Retry(Retryable),
    Fatal(NylasError),
}

/// A failure worth another attempt.
pub(crate) enum Retryable {
    Status {
        status: u16,
        retry_after: Option<Duration>,
        request_id: Option<String>,
    },
    Timeout,
    Connect(String),
    Transport(String),
}

impl Retryable {
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Retryable::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Retryable::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for Retryable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Retryable::Status {
                status, request_id, ..
            } => {
                write!(f, "HTTP {status}")?;
                if let Some(r) = request_id {
                    write!(f, " (request_id {r})")?;
                }
                Ok(())
            }
            Retryable::Timeout => f.write_str("timeout"),
            Retryable::Connect(e) => write!(f, "connection failed: {e}"),
            Retryable::Transport(e) => write!(f, "transport error: {e}"),
        }
    }
}

/// How a retried call ended without success.
pub(crate) enum Ended {
    /// A permanent failure, or retries given up (attempts or deadline).
    Failed(NylasError),
    /// A retryable failure that `may_repeat` refused to repeat.
    NotRepeated { attempts: u32, last: Retryable },
}

/// The retry loop shared by every Nylas call: attempt with a timeout that
/// never passes the deadline; on a retryable failure wait `Retry-After` or a
/// jittered backoff, unless the attempts are used up, the wait would pass
/// the deadline, or `may_repeat` says the request must not be sent again.
pub(crate) async fn with_retries<T, F, Fut>(
    config: &NylasConfig,
    deadline: Instant,
    ctx: &Ctx<'_>,
    may_repeat: impl Fn(&Retryable) -> bool,
    mut attempt_once: F,
) -> Result<T, Ended>
where
    F: FnMut(Duration) -> Fut,
    Fut: std::future::Future<Output = Result<T, AttemptError>>,
{
    let max_attempts = config.max_attempts.max(1);
    let mut attempt: u32 = 0;
    let mut last: Option<Retryable> = None;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            tracing::warn!(
                op = ctx.op,
                grant_id = ctx.grant_id,
                item = ctx.item,
                attempt,
                "Nylas request not attempted: deadline reached"
            );
            return Err(Ended::Failed(give_up(
                attempt,
                GiveUpReason::Deadline,
                last.as_ref(),
            )));
        }
        attempt += 1;
        let failure = match attempt_once(config.request_timeout.min(remaining)).await {
            Ok(value) => return Ok(value),
            Err(AttemptError::Fatal(e)) => {
                tracing::warn!(
                    op = ctx.op,
                    grant_id = ctx.grant_id,
                    item = ctx.item,
                    attempt,
                    error = %e,
                    "Nylas request failed permanently"
                );
                return Err(Ended::Failed(e));
            }
            Err(AttemptError::Retry(r)) => r,
        };
        let status = failure.status().unwrap_or(0);
        if !may_repeat(&failure) {
            tracing::warn!(
                op = ctx.op,
                grant_id = ctx.grant_id,
                item = ctx.item,
                attempt,
                status,
                failure = %failure,
                "Nylas request failed; not repeated (it may have been processed)"
            );
            return Err(Ended::NotRepeated {
                attempts: attempt,
                last: failure,
            });
        }
        if attempt >= max_attempts {
            tracing::warn!(
                op = ctx.op,
                grant_id = ctx.grant_id,
                item = ctx.item,
                attempt,
                status,
                failure = %failure,
                "Nylas request failed: attempts exhausted"
            );
            return Err(Ended::Failed(give_up(
                attempt,
                GiveUpReason::AttemptsExhausted,
                Some(&failure),
            )));
        }
        let honoured = failure.retry_after();
        let wait = honoured.unwrap_or_else(|| {
            backoff(
                attempt,
                config.base_backoff,
                config.max_backoff,
                rand::random(),
            )
        });
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        let resumes_in_time = Instant::now()
            .checked_add(wait)
            .is_some_and(|resume| resume < deadline);
        if !resumes_in_time {
            tracing::warn!(
                op = ctx.op,
                grant_id = ctx.grant_id,
                item = ctx.item,
                attempt,
                status,
                wait_ms,
                failure = %failure,
                "Nylas request failed: next wait would pass the deadline"
            );
            return Err(Ended::Failed(give_up(
                attempt,
                GiveUpReason::Deadline,
                Some(&failure),
            )));
        }
        tracing::warn!(
            op = ctx.op,
            grant_id = ctx.grant_id,
            item = ctx.item,
            attempt,
            status,
            wait_ms,
            retry_after = honoured.is_some(),
            failure = %failure,
            "Nylas request failed, retrying"
        );
        tokio::time::sleep(wait).await;
        last = Some(failure);
    }
}

/// 408, 429 and 5xx are retried; other statuses are final.
pub(crate) fn status_error(
    status: u16,
    retry_after: Option<Duration>,
    info: ErrorInfo,
) -> AttemptError {
    match status {
        408 | 429 | 500..=599 => AttemptError::Retry(Retryable::Status {
            status,
            retry_after,
            request_id: info.request_id,
        }),
        _ => AttemptError::Fatal(info.rejected(status)),
    }
}

pub(crate) fn give_up(attempts: u32, reason: GiveUpReason, last: Option<&Retryable>) -> NylasError {
    NylasError::GaveUp {
        attempts,
        reason,
        last: last.map_or_else(|| "none".to_owned(), ToString::to_string),
        last_status: last.and_then(Retryable::status),
        retry_after: last.and_then(Retryable::retry_after),
    }
}

pub(crate) fn classify_transport(e: reqwest::Error) -> AttemptError {
    if e.is_builder() {
        return AttemptError::Fatal(NylasError::Config(format!(
            "request could not be built: {}",
            e.without_url()
        )));
    }
    if e.is_timeout() {
        AttemptError::Retry(Retryable::Timeout)
    } else if e.is_connect() {
        AttemptError::Retry(Retryable::Connect(e.without_url().to_string()))
    } else {
        AttemptError::Retry(Retryable::Transport(e.without_url().to_string()))
    }
}
