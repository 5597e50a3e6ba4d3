//! The system clock. The core never reads it (`now` is passed in); the
//! adapters and runners that do read it here, so there is one definition
//! of "now" and of what happens at the edges (a clock before 1970 reads 0,
//! one past `i64::MAX` ms saturates).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Now, unix seconds.
pub fn now_s() -> i64 {
    now_ms().div_euclid(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_clock_in_milliseconds() {
        let ms = now_ms();
        // After 2020-01-01 and consistent with the seconds reading.
        assert!(ms > 1_577_836_800_000, "{ms}");
        assert!((now_s() - ms / 1_000).abs() <= 1);
    }
}
