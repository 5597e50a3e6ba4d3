//! The bounds of `triage serve`'s HTTP server: how long a client may take to
//! send a request head or body, how long an idle keep-alive connection is
//! kept, how many connections are served at once, and how long the webhook
//! waits for the local queue. Read once at startup from the environment.

use std::time::Duration;

/// Time to send a whole request head, from its first byte.
pub const HEADER_TIMEOUT_VAR: &str = "TRIAGE_HEADER_TIMEOUT_MS";
/// Time to send a whole request body, from the end of the head.
pub const BODY_TIMEOUT_VAR: &str = "TRIAGE_BODY_TIMEOUT_MS";
/// Time a connection may sit without a request (before the first one, and
/// between keep-alive requests).
pub const IDLE_TIMEOUT_VAR: &str = "TRIAGE_IDLE_TIMEOUT_MS";
/// Connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS_VAR: &str = "TRIAGE_MAX_CONNECTIONS";
/// Time the webhook waits for the embedded queue before answering 503.
pub const ENQUEUE_DEADLINE_VAR: &str = "TRIAGE_ENQUEUE_DEADLINE_MS";

pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
pub const DEFAULT_ENQUEUE_DEADLINE: Duration = Duration::from_secs(3);

/// The enqueue deadline must leave room inside the provider's 10 s window
/// (Nylas counts a delivery as failed after 10 s).
const MAX_ENQUEUE_DEADLINE: Duration = Duration::from_secs(8);
/// Longest accepted timeout: one hour.
const MAX_TIMEOUT_MS: u64 = 3_600_000;
/// Most connections accepted as a cap (each costs a task and a socket).
const MAX_MAX_CONNECTIONS: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub enqueue_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            enqueue_deadline: DEFAULT_ENQUEUE_DEADLINE,
        }
    }
}

/// A limit variable that is set but unusable. Names the variable; the
/// value is shown (these are numbers, never secrets).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitsError {
    #[error("{var}={value:?} is not a whole number")]
    NotANumber { var: &'static str, value: String },
    #[error("{var}={value} is out of range ({min}..={max})")]
    OutOfRange {
        var: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
}

impl Limits {
    /// Read the limits from the process environment; unset or empty
    /// variables keep their defaults.
    pub fn from_env() -> Result<Limits, LimitsError> {
        Limits::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the limits through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Limits, LimitsError> {
        let d = Limits::default();
        let enqueue_max = u64::try_from(MAX_ENQUEUE_DEADLINE.as_millis()).unwrap_or(u64::MAX);
        let max_conns = u64::try_from(MAX_MAX_CONNECTIONS).unwrap_or(u64::MAX);
        let ms = |var, default: Duration, max| {
            number(&lookup, var, 1, max).map(|v| v.map_or(default, Duration::from_millis))
        };
        Ok(Limits {
            header_timeout: ms(HEADER_TIMEOUT_VAR, d.header_timeout, MAX_TIMEOUT_MS)?,
            body_timeout: ms(BODY_TIMEOUT_VAR, d.body_timeout, MAX_TIMEOUT_MS)?,
            idle_timeout: ms(IDLE_TIMEOUT_VAR, d.idle_timeout, MAX_TIMEOUT_MS)?,
            max_connections: number(&lookup, MAX_CONNECTIONS_VAR, 1, max_conns)?
                .and_then(|v| usize::try_from(v).ok())
                .unwrap_or(d.max_connections),
            enqueue_deadline: ms(ENQUEUE_DEADLINE_VAR, d.enqueue_deadline, enqueue_max)?,
        })
    }
}

fn number(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, LimitsError> {
    let Some(raw) = lookup(var) else {
        return Ok(None);
    };
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let value: u64 = raw.parse().map_err(|_| LimitsError::NotANumber {
        var,
        value: raw.to_string(),
    })?;
    if !(min..=max).contains(&value) {
        return Err(LimitsError::OutOfRange {
            var,
            value,
            min,
            max,
        });
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Limits, LimitsError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Limits::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn unset_and_empty_keep_the_defaults() {
        assert_eq!(with(&[]), Ok(Limits::default()));
        assert_eq!(with(&[(IDLE_TIMEOUT_VAR, " ")]), Ok(Limits::default()));
    }

    #[test]
    fn values_are_read() {
        let l = with(&[
            (HEADER_TIMEOUT_VAR, "250"),
            (BODY_TIMEOUT_VAR, "300"),
            (IDLE_TIMEOUT_VAR, "400"),
            (MAX_CONNECTIONS_VAR, "2"),
            (ENQUEUE_DEADLINE_VAR, "1500"),
        ])
        .unwrap();
        assert_eq!(l.header_timeout, Duration::from_millis(250));
        assert_eq!(l.body_timeout, Duration::from_millis(300));
        assert_eq!(l.idle_timeout, Duration::from_millis(400));
        assert_eq!(l.max_connections, 2);
        assert_eq!(l.enqueue_deadline, Duration::from_millis(1500));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = with(&[(BODY_TIMEOUT_VAR, "ten")]).unwrap_err();
        assert!(e.to_string().contains(BODY_TIMEOUT_VAR), "{e}");
        let e = with(&[(MAX_CONNECTIONS_VAR, "0")]).unwrap_err();
        assert!(e.to_string().contains(MAX_CONNECTIONS_VAR), "{e}");
        let e = with(&[(ENQUEUE_DEADLINE_VAR, "9500")]).unwrap_err();
        assert!(matches!(e, LimitsError::OutOfRange { value: 9500, .. }));
        assert!(with(&[(HEADER_TIMEOUT_VAR, "-1")]).is_err());
    }
}
