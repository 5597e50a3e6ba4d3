//! What happens to a queued notification the worker could not finish: the
//! one rule every queue (SQS, the local SQLite queue, the in-process one)
//! applies, so the runners differ only in how they carry it out.
//!
//! - A **permanent** failure goes to the dead-letter queue at once, with
//!   its reason: retrying cannot help, and waiting for the receive limit
//!   only delays the alarm.
//! - A **transient** failure is received again after [`RETRY_DELAY_MS`];
//!   after [`MAX_RECEIVES`] receives it is dead-lettered.
//! - A **throttled** fetch (the provider's `Retry-After` was longer than
//!   the worker could wait) is received again when the provider said, and
//!   that wait never counts toward dead-lettering: a 20-minute throttle is
//!   not a broken message.
//! - **In progress elsewhere** (another worker's live claim) is looked at
//!   again after the retry delay or at the lease's end, whichever comes
//!   first, and never counts either.
//!
//! "Never counts" is the queue's business: the local queue gives the
//! receive back; SQS counts every receive, so there the message is sent
//! again as a new message with a delay (and a not-before time for waits
//! longer than SQS's 15-minute delay) and the original deleted.

/// Receives of a message (transient failures) before it is dead-lettered.
pub const MAX_RECEIVES: u32 = 5;

/// How long a transient failure waits before the next receive.
pub const RETRY_DELAY_MS: i64 = 2_000;

/// Past a lease's end before a waiting message is received again, so the
/// lease has certainly run out when it is.
pub const LEASE_MARGIN_MS: i64 = 250;

/// The longest wait carried for a throttled provider (12 hours); a longer
/// `Retry-After` is cut to it.
pub const MAX_WAIT_MS: i64 = 12 * 3_600_000;

/// How many times one message may be put back for a provider's wait
/// before its waits start counting like transient failures (at most
/// 15-minute steps on SQS: a day).
pub const MAX_DEFERRALS: u32 = 96;

/// Why the worker stopped on a record, as far as redelivery cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setback {
    /// Retrying cannot help (a malformed envelope, a 401 from the API).
    Permanent,
    /// Worth retrying soon (a timeout, a 5xx, a throttled table).
    Transient,
    /// The provider asked to wait until `until_ms`.
    Throttled { until_ms: i64 },
    /// Another worker holds a live claim until `lease_until_ms`.
    InProgress { lease_until_ms: i64 },
}

/// What to do with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Receive it again at `at_ms`. `counts`: whether this receive counts
    /// toward [`MAX_RECEIVES`].
    RetryAt { at_ms: i64, counts: bool },
    /// Move it to the dead-letter queue with its reason.
    DeadLetter,
}

/// The rule (see the module documentation). `receive_count` is this
/// receive's number (1 for the first); `deferrals` how many times the
/// message was already put back for a provider's wait;
/// `gives_back_receives`: whether the queue can keep a wait from counting
/// (the local queue's `defer`, the Lambda's delayed copies). One that
/// cannot (SQS polled with visibility changes) waits for a claim until its
/// lease ends, so the wait spends one receive instead of one every
/// [`RETRY_DELAY_MS`].
pub fn disposition(
    setback: Setback,
    receive_count: u32,
    deferrals: u32,
    now_ms: i64,
    gives_back_receives: bool,
) -> Disposition {
    let retry_at = now_ms.saturating_add(RETRY_DELAY_MS);
    let transient = || {
        if receive_count >= MAX_RECEIVES {
            Disposition::DeadLetter
        } else {
            Disposition::RetryAt {
                at_ms: retry_at,
                counts: true,
            }
        }
    };
    match setback {
        Setback::Permanent => Disposition::DeadLetter,
        Setback::Transient => transient(),
        Setback::Throttled { .. } if deferrals >= MAX_DEFERRALS => transient(),
        Setback::Throttled { until_ms } => Disposition::RetryAt {
            at_ms: until_ms.clamp(retry_at, now_ms.saturating_add(MAX_WAIT_MS)),
            counts: false,
        },
        Setback::InProgress { lease_until_ms } => {
            let lease_end = lease_until_ms.saturating_add(LEASE_MARGIN_MS).max(now_ms);
            Disposition::RetryAt {
                at_ms: if gives_back_receives {
                    lease_end.min(retry_at)
                } else {
                    lease_end
                },
                counts: false,
            }
        }
    }
}

/// Message attributes a dead letter carries (SQS), so `triage dlq inspect`
/// can say why without reading the worker's logs. Values are codes and
/// capped, escaped reasons that name fields, never values from the mail.
pub mod attributes {
    /// `permanent`, `transient`, `throttled`, `in_progress`.
    pub const FAILURE: &str = "triage-failure";
    /// The reason, escaped and capped at [`super::REASON_CAP`].
    pub const REASON: &str = "triage-reason";
    /// The receive the message failed on.
    pub const RECEIVES: &str = "triage-receives";
    /// When it was dead-lettered, unix milliseconds.
    pub const FAILED_AT: &str = "triage-failed-at-ms";
    /// A message put back for a provider's wait: not to be fetched before
    /// this time (unix milliseconds).
    pub const NOT_BEFORE: &str = "triage-not-before-ms";
    /// How many times it was put back for a provider's wait.
    pub const DEFERRALS: &str = "triage-deferrals";
}

/// The longest reason kept with a dead letter.
pub const REASON_CAP: usize = 500;

/// A queued notification as the runner received it: its body and its
/// string message attributes (ids for logs and `triage dlq inspect`).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub body: &'a str,
    pub attributes: &'a [(String, String)],
}

impl Record<'_> {
    /// A string attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The attributes a copy of this record carries: its own, without the
    /// ones redelivery sets.
    pub fn carried(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attributes
            .iter()
            .filter(|(k, _)| !k.starts_with("triage-"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// When it may be processed (put back for a provider's wait).
    pub fn not_before_ms(&self) -> Option<i64> {
        self.attribute(attributes::NOT_BEFORE)?.parse().ok()
    }

    /// How many times it was put back for a provider's wait.
    pub fn deferrals(&self) -> u32 {
        self.attribute(attributes::DEFERRALS)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Why a record is dead-lettered, as its attributes say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// `permanent`, `transient`, `throttled`, `in_progress`.
    pub failure: &'static str,
    /// Escaped, capped at [`REASON_CAP`]; names fields, never values.
    pub reason: String,
    pub receives: u32,
    pub failed_at_ms: i64,
}

impl DeadLetter {
    pub fn new(failure: &'static str, reason: &str, receives: u32, failed_at_ms: i64) -> Self {
        DeadLetter {
            failure,
            reason: crate::logsafe::escape_capped(reason, REASON_CAP),
            receives,
            failed_at_ms,
        }
    }

    /// The attributes that say it, in [`attributes`]' names.
    pub fn attributes(&self) -> [(&'static str, String); 4] {
        [
            (attributes::FAILURE, self.failure.to_string()),
            (attributes::REASON, self.reason.clone()),
            (attributes::RECEIVES, self.receives.to_string()),
            (attributes::FAILED_AT, self.failed_at_ms.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn a_record_reads_its_waits_and_carries_only_foreign_attributes() {
        let attrs = vec![
            ("notification_id".to_string(), "n-1".to_string()),
            (attributes::NOT_BEFORE.to_string(), "123".to_string()),
            (attributes::DEFERRALS.to_string(), "4".to_string()),
        ];
        let r = Record {
            body: "{}",
            attributes: &attrs,
        };
        assert_eq!(r.not_before_ms(), Some(123));
        assert_eq!(r.deferrals(), 4);
        assert_eq!(
            r.carried().collect::<Vec<_>>(),
            [("notification_id", "n-1")]
        );
        let none = Record {
            body: "{}",
            attributes: &[],
        };
        assert_eq!((none.not_before_ms(), none.deferrals()), (None, 0));
    }

    #[test]
    fn a_dead_letter_reason_is_escaped_and_capped() {
        let d = DeadLetter::new(
            "permanent",
            &format!("bad\nline{}", "x".repeat(900)),
            1,
            NOW,
        );
        assert!(!d.reason.contains('\n'));
        // Escapes count as one character; the cut says how much is left.
        assert!(d.reason.len() < REASON_CAP + 40, "{}", d.reason.len());
        assert!(d.reason.ends_with("bytes)"), "{}", d.reason);
        assert_eq!(d.attributes()[0], (attributes::FAILURE, "permanent".into()));
    }

    #[test]
    fn permanent_failures_are_dead_lettered_on_the_first_receive() {
        assert_eq!(
            disposition(Setback::Permanent, 1, 0, NOW, true),
            Disposition::DeadLetter
        );
    }

    #[test]
    fn transient_failures_retry_until_the_receive_limit() {
        for n in 1..MAX_RECEIVES {
            assert_eq!(
                disposition(Setback::Transient, n, 0, NOW, true),
                Disposition::RetryAt {
                    at_ms: NOW + RETRY_DELAY_MS,
                    counts: true
                }
            );
        }
        assert_eq!(
            disposition(Setback::Transient, MAX_RECEIVES, 0, NOW, true),
            Disposition::DeadLetter
        );
    }

    #[test]
    fn a_long_throttle_waits_as_asked_and_never_counts() {
        let twenty_minutes = NOW + 20 * 60_000;
        let d = disposition(
            Setback::Throttled {
                until_ms: twenty_minutes,
            },
            MAX_RECEIVES,
            3,
            NOW,
            true,
        );
        assert_eq!(
            d,
            Disposition::RetryAt {
                at_ms: twenty_minutes,
                counts: false
            },
            "even on the last receive: a throttle is not a broken message"
        );
        // Never sooner than the retry delay, never later than the cap.
        assert_eq!(
            disposition(Setback::Throttled { until_ms: NOW }, 1, 0, NOW, true),
            Disposition::RetryAt {
                at_ms: NOW + RETRY_DELAY_MS,
                counts: false
            }
        );
        assert_eq!(
            disposition(Setback::Throttled { until_ms: i64::MAX }, 1, 0, NOW, true),
            Disposition::RetryAt {
                at_ms: NOW + MAX_WAIT_MS,
                counts: false
            }
        );
    }

    #[test]
    fn a_provider_that_never_stops_throttling_ends_in_the_dead_letter_queue() {
        let throttled = Setback::Throttled {
            until_ms: NOW + 60_000,
        };
        assert_eq!(
            disposition(throttled, 1, MAX_DEFERRALS, NOW, true),
            Disposition::RetryAt {
                at_ms: NOW + RETRY_DELAY_MS,
                counts: true
            }
        );
        assert_eq!(
            disposition(throttled, MAX_RECEIVES, MAX_DEFERRALS, NOW, true),
            Disposition::DeadLetter
        );
    }

    #[test]
    fn a_live_claim_is_looked_at_again_soon_or_at_its_end_and_never_counts() {
        let far = NOW + 120_000;
        assert_eq!(
            disposition(
                Setback::InProgress {
                    lease_until_ms: far
                },
                MAX_RECEIVES,
                0,
                NOW,
                true
            ),
            Disposition::RetryAt {
                at_ms: NOW + RETRY_DELAY_MS,
                counts: false
            }
        );
        assert_eq!(
            disposition(
                Setback::InProgress {
                    lease_until_ms: NOW + 100
                },
                1,
                0,
                NOW,
                true
            ),
            Disposition::RetryAt {
                at_ms: NOW + 100 + LEASE_MARGIN_MS,
                counts: false
            }
        );
        // A queue that counts every receive waits for the lease's end:
        // one receive, not one every two seconds.
        assert_eq!(
            disposition(
                Setback::InProgress {
                    lease_until_ms: far
                },
                1,
                0,
                NOW,
                false
            ),
            Disposition::RetryAt {
                at_ms: far + LEASE_MARGIN_MS,
                counts: false
            }
        );
    }
}
