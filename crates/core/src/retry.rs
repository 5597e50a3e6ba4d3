//! Retry timing shared by every outgoing HTTP adapter (the Nylas API, event
//! destinations): jittered exponential backoff and `Retry-After` parsing.
//! Pure: the caller passes the random draw and the current time.

use std::time::{Duration, SystemTime};

/// Backoff before attempt `attempt + 1`, after `attempt` (1-based) failed:
/// the ceiling is `min(max, base * 2^(attempt-1))`; the wait is its lower
/// half plus `unit_random` (in `[0, 1]`, clamped) of its upper half ("equal
/// jitter": never zero, yet spread out so workers do not retry in step).
pub fn backoff(attempt: u32, base: Duration, max: Duration, unit_random: f64) -> Duration {
    let ceiling = exp_ceiling(attempt, base, max);
    let half = ceiling / 2;
    let fraction = if unit_random.is_finite() {
        unit_random.clamp(0.0, 1.0)
    } else {
        0.0
    };
    half.saturating_add(half.mul_f64(fraction))
}

/// `min(max, base * 2^(attempt-1))`, saturating.
pub fn exp_ceiling(attempt: u32, base: Duration, max: Duration) -> Duration {
    let shift = attempt.saturating_sub(1).min(30);
    base.checked_mul(1u32 << shift).unwrap_or(max).min(max)
}

/// The wait a `Retry-After` value asks for: delay-seconds or an HTTP-date
/// (a date in the past means "now"). `None` when it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate; callers bound the wait anyway.
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
        assert_eq!(backoff(1, base, max, 0.0), Duration::from_millis(100));
        assert_eq!(backoff(1, base, max, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(3, base, max, 0.0), Duration::from_millis(400));
        assert_eq!(backoff(3, base, max, 0.5), Duration::from_millis(600));
        assert_eq!(backoff(40, base, max, 0.0), Duration::from_millis(2500));
        assert_eq!(backoff(40, base, max, 1.0), max);
        // Out-of-range draws are clamped, never produce a longer wait.
        assert_eq!(backoff(1, base, max, 7.0), Duration::from_millis(200));
        assert_eq!(backoff(1, base, max, f64::NAN), Duration::from_millis(100));
        assert_eq!(backoff(1, Duration::ZERO, max, 0.5), Duration::ZERO);
        // Huge bases saturate at max rather than overflow.
        assert!(backoff(31, Duration::from_secs(u64::MAX / 4), max, 1.0) <= max);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_547_200);
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
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
    }
}
