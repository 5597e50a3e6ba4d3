//! Retry timing: jittered exponential backoff and `Retry-After` parsing.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// Backoff before attempt `attempt + 1`, after `attempt` (1-based) failed:
/// `min(max, base * 2^(attempt-1))`, of which the upper half is random
/// ("equal jitter": never zero, yet spread out so workers do not retry in step).
pub(crate) fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let ceiling = exp_ceiling(attempt, base, max);
    let half = ceiling / 2;
    let half_ns = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let jitter_ns = if half_ns == 0 {
        0
    } else {
        rand::rng().random_range(0..=half_ns)
    };
    half.saturating_add(Duration::from_nanos(jitter_ns))
}

fn exp_ceiling(attempt: u32, base: Duration, max: Duration) -> Duration {
    let shift = attempt.saturating_sub(1).min(30);
    base.checked_mul(1u32 << shift).unwrap_or(max).min(max)
}

/// The wait a `Retry-After` value asks for: delay-seconds or an HTTP-date
/// (a date in the past means "now"). `None` when it is neither.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate; the deadline bounds the wait anyway.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let base = Duration::from_millis(200);
        let max = Duration::from_secs(5);
        for _ in 0..200 {
            let b1 = backoff(1, base, max);
            assert!(b1 >= Duration::from_millis(100) && b1 <= Duration::from_millis(200));
            let b3 = backoff(3, base, max);
            assert!(b3 >= Duration::from_millis(400) && b3 <= Duration::from_millis(800));
            let b40 = backoff(40, base, max);
            assert!(b40 >= Duration::from_millis(2500) && b40 <= max);
        }
        assert_eq!(backoff(1, Duration::ZERO, max), Duration::ZERO);
        // Huge bases saturate at max rather than overflow.
        assert!(backoff(31, Duration::from_secs(u64::MAX / 4), max) <= max);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 30 ", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);

        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        let wait = parse_retry_after(&later, now);
        assert!(
            matches!(wait, Some(w) if w > Duration::from_secs(118) && w <= Duration::from_secs(120)),
            "{wait:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
    }
}
