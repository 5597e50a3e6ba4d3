//! When a running ingest reads its webhook secrets again.
//!
//! Secrets change while ingest runs (`triage webhooks rotate`, a console
//! edit, a secret filled after the stack was created). Two rules keep the
//! cached list close to the stored one without a read per request:
//! - it is read again when the last read is [`REFRESH_EVERY_MS`] old, before
//!   the request that finds it stale is verified, so a finished rotation
//!   stops accepting the old secret within that time;
//! - a signature that fails with the cached list may read it at once, at
//!   most once per [`FORCED_REFRESH_GAP_MS`], so the first delivery signed
//!   with a new secret is accepted and a flood of bad signatures costs at
//!   most one read per gap.
//!
//! Failed reads count as attempts: a secret store that is down is not asked
//! more often than one that answers.

/// The longest a cached secret list is used before it is read again.
pub const REFRESH_EVERY_MS: i64 = 60_000;

/// The shortest time between two reads forced by failed signatures.
pub const FORCED_REFRESH_GAP_MS: i64 = 5_000;

/// Why a read is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshReason {
    /// The cached list is [`REFRESH_EVERY_MS`] old.
    Stale,
    /// A signature failed with the cached list.
    SignatureFailed,
}

impl RefreshReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshReason::Stale => "stale",
            RefreshReason::SignatureFailed => "signature_failed",
        }
    }
}

/// The times of the last read attempt, and what they allow. Pure: `now`
/// (unix milliseconds) is passed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshSchedule {
    last_attempt_ms: i64,
    every_ms: i64,
    gap_ms: i64,
}

impl RefreshSchedule {
    /// A list just read at `loaded_at_ms`, on the default timings.
    pub fn new(loaded_at_ms: i64) -> Self {
        RefreshSchedule::with_timings(loaded_at_ms, REFRESH_EVERY_MS, FORCED_REFRESH_GAP_MS)
    }

    /// Other timings (tests and tuning); a gap longer than the period is
    /// cut to the period.
    pub fn with_timings(loaded_at_ms: i64, every_ms: i64, gap_ms: i64) -> Self {
        let every_ms = every_ms.max(0);
        RefreshSchedule {
            last_attempt_ms: loaded_at_ms,
            every_ms,
            gap_ms: gap_ms.clamp(0, every_ms),
        }
    }

    fn since(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.last_attempt_ms)
    }

    /// Whether a read is due before verifying a request at `now_ms`. A clock
    /// that went backwards makes it due: the age cannot be trusted.
    pub fn due(&self, now_ms: i64) -> bool {
        let since = self.since(now_ms);
        since < 0 || since >= self.every_ms
    }

    /// Whether a failed signature at `now_ms` may read the list at once.
    pub fn may_force(&self, now_ms: i64) -> bool {
        let since = self.since(now_ms);
        since < 0 || since >= self.gap_ms
    }

    /// The read to make at `now_ms` for a request, if any: `signature_failed`
    /// says the cached list has just rejected it.
    pub fn wanted(&self, now_ms: i64, signature_failed: bool) -> Option<RefreshReason> {
        if self.due(now_ms) {
            Some(RefreshReason::Stale)
        } else if signature_failed && self.may_force(now_ms) {
            Some(RefreshReason::SignatureFailed)
        } else {
            None
        }
    }

    /// Record a read attempt (successful or not) at `now_ms`.
    pub fn attempted(&mut self, now_ms: i64) {
        self.last_attempt_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn a_fresh_list_is_used_until_it_is_a_minute_old() {
        let s = RefreshSchedule::new(T0);
        assert!(!s.due(T0));
        assert!(!s.due(T0 + REFRESH_EVERY_MS - 1));
        assert!(s.due(T0 + REFRESH_EVERY_MS));
        assert_eq!(s.wanted(T0 + 1_000, false), None);
        assert_eq!(
            s.wanted(T0 + REFRESH_EVERY_MS, false),
            Some(RefreshReason::Stale)
        );
    }

    #[test]
    fn a_failed_signature_reads_at_once_but_not_twice_within_the_gap() {
        let mut s = RefreshSchedule::new(T0);
        assert_eq!(s.wanted(T0 + 1, true), None, "just read: no second read");
        let t = T0 + FORCED_REFRESH_GAP_MS;
        assert_eq!(s.wanted(t, true), Some(RefreshReason::SignatureFailed));
        s.attempted(t);
        assert_eq!(s.wanted(t + 10, true), None);
        assert_eq!(s.wanted(t + FORCED_REFRESH_GAP_MS - 1, true), None);
        assert_eq!(
            s.wanted(t + FORCED_REFRESH_GAP_MS, true),
            Some(RefreshReason::SignatureFailed)
        );
        // Staleness wins over a failure: it is the stronger reason.
        assert_eq!(
            s.wanted(t + REFRESH_EVERY_MS, true),
            Some(RefreshReason::Stale)
        );
    }

    #[test]
    fn failed_reads_count_as_attempts() {
        let mut s = RefreshSchedule::new(T0);
        s.attempted(T0 + REFRESH_EVERY_MS);
        assert!(!s.due(T0 + REFRESH_EVERY_MS + 1));
    }

    #[test]
    fn a_clock_that_went_back_makes_a_read_due() {
        let s = RefreshSchedule::new(T0);
        assert!(s.due(T0 - 1));
        assert!(s.may_force(T0 - 1));
    }

    #[test]
    fn the_gap_never_exceeds_the_period() {
        let s = RefreshSchedule::with_timings(T0, 1_000, 10_000);
        assert!(s.may_force(T0 + 1_000));
        let zero = RefreshSchedule::with_timings(T0, 0, 0);
        assert!(zero.due(T0), "period 0: read before every request");
    }
}
