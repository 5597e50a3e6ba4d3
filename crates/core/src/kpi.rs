//! The pipeline's own KPIs (issue #13), computed the same way by every
//! runner: the Lambdas record them as CloudWatch EMF metrics, `triage
//! stats` reads them from the embedded store.
//!
//! - **Received vs triaged per mailbox**: a ledger that makes a gap
//!   visible ([`MailboxLedger`]).
//! - **Webhook latency**: the provider's timestamp on a notification to
//!   ingest ([`webhook_latency_ms`]).
//! - **Time to ticket**: ingest to the ticket write ([`time_to_ticket_ms`]).
//! - **Idempotency violations**: duplicate tickets per 1,000 messages
//!   ([`per_thousand`]); must be 0.
//! - Parse success and dead letters are counts the runners already keep.

use serde::Serialize;

/// A provider timestamp further in the future than this is a wrong clock,
/// not a latency.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60_000;

/// Provider time (`provider_time_s`, unix seconds) to ingest
/// (`received_at_ms`); `None` without a timestamp or when the provider's
/// clock is ahead by more than [`MAX_CLOCK_SKEW_MS`]. A clock slightly
/// ahead counts as 0.
pub fn webhook_latency_ms(provider_time_s: Option<i64>, received_at_ms: i64) -> Option<u64> {
    let sent_ms = provider_time_s?.checked_mul(1000)?;
    let latency = received_at_ms.checked_sub(sent_ms)?;
    if latency < -MAX_CLOCK_SKEW_MS || sent_ms <= 0 {
        return None;
    }
    Some(u64::try_from(latency.max(0)).unwrap_or(0))
}

/// Ingest (`ingested_at_ms`, the envelope's `received_at_ms`) to the ticket
/// write (`written_at_ms`); `None` when the envelope carries no time.
pub fn time_to_ticket_ms(ingested_at_ms: i64, written_at_ms: i64) -> Option<u64> {
    if ingested_at_ms <= 0 {
        return None;
    }
    u64::try_from(written_at_ms.checked_sub(ingested_at_ms)?.max(0)).ok()
}

/// `n` per 1,000 of `of` (0 when `of` is 0).
pub fn per_thousand(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 * 1000.0 / of as f64
    }
}

/// One mailbox's ledger: everything received is triaged, still being
/// worked on, still queued, or dead-lettered. A gap means the store and
/// the queue disagree: look at the worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MailboxLedger {
    pub grant_id: String,
    /// Records completed by the worker (ticket, skip, gone, duplicate).
    pub triaged: u64,
    /// Records claimed and not finished.
    pub in_progress: u64,
    /// Messages waiting in the queue.
    pub queued: u64,
    /// Messages in the dead-letter queue.
    pub dead: u64,
    /// Of `triaged`: tickets created or appended to.
    pub tickets: u64,
    /// Of `triaged`: skipped as automatic, own outbound, and so on.
    pub skipped: u64,
}

impl MailboxLedger {
    /// Everything that reached the pipeline for this mailbox.
    pub fn received(&self) -> u64 {
        self.triaged + self.in_progress + self.queued + self.dead
    }

    /// Received but not triaged.
    pub fn gap(&self) -> u64 {
        self.received() - self.triaged
    }
}

/// What `triage stats` shows for the embedded store.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PipelineStats {
    pub mailboxes: Vec<MailboxLedger>,
    pub tickets: u64,
    /// Tickets beyond the first for one message (two tickets for the same
    /// message id, or a message on two tickets): idempotency violations.
    pub duplicate_tickets: u64,
    /// `duplicate_tickets` per 1,000 messages received; must be 0.
    pub duplicates_per_thousand: f64,
    pub dead_letters: u64,
    /// The most common dead-letter reasons, with their counts.
    pub dead_reasons: Vec<(String, u64)>,
    /// Ticket events the dispatcher gave up on.
    pub dead_events: u64,
    /// The message's date to its ticket's creation, over the newest
    /// tickets: the provider's delay included (the store keeps no ingest
    /// time; the Lambdas measure ingest to ticket as `TimeToTicketMs`).
    pub message_to_ticket: Spread,
}

impl PipelineStats {
    /// Fill the derived figures once the counts are in.
    pub fn finish(mut self) -> Self {
        let received: u64 = self.mailboxes.iter().map(MailboxLedger::received).sum();
        self.duplicates_per_thousand = per_thousand(self.duplicate_tickets, received);
        self
    }
}

/// Percentiles of a list of durations (milliseconds), nearest rank.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub count: u64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub max_ms: u64,
}

impl Spread {
    pub fn of(mut values: Vec<u64>) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        values.sort_unstable();
        let rank = |p: usize| values[((values.len() * p).div_ceil(100)).clamp(1, values.len()) - 1];
        Spread {
            count: values.len() as u64,
            p50_ms: rank(50),
            p95_ms: rank(95),
            max_ms: values[values.len() - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_latency_is_provider_time_to_ingest() {
        assert_eq!(
            webhook_latency_ms(Some(1_700_000_000), 1_700_000_002_500),
            Some(2_500)
        );
        assert_eq!(webhook_latency_ms(None, 1_700_000_002_500), None);
        // A clock a little ahead is 0; far ahead is no measurement.
        assert_eq!(
            webhook_latency_ms(Some(1_700_000_010), 1_700_000_000_000),
            Some(0)
        );
        assert_eq!(
            webhook_latency_ms(Some(1_700_001_000), 1_700_000_000_000),
            None
        );
        assert_eq!(webhook_latency_ms(Some(0), 5), None);
        assert_eq!(webhook_latency_ms(Some(i64::MAX), 5), None);
    }

    #[test]
    fn time_to_ticket_needs_an_ingest_time() {
        assert_eq!(time_to_ticket_ms(1_000, 1_250), Some(250));
        assert_eq!(time_to_ticket_ms(0, 1_250), None);
        assert_eq!(time_to_ticket_ms(2_000, 1_000), Some(0));
    }

    #[test]
    fn a_ledger_shows_the_gap() {
        let l = MailboxLedger {
            grant_id: "g".into(),
            triaged: 90,
            in_progress: 2,
            queued: 5,
            dead: 3,
            tickets: 80,
            skipped: 10,
        };
        assert_eq!(l.received(), 100);
        assert_eq!(l.gap(), 10);
        assert_eq!(per_thousand(1, 2_000), 0.5);
        assert_eq!(per_thousand(1, 0), 0.0);
    }

    #[test]
    fn spreads_use_nearest_rank() {
        let s = Spread::of((1..=100).collect());
        assert_eq!((s.count, s.p50_ms, s.p95_ms, s.max_ms), (100, 50, 95, 100));
        assert_eq!(Spread::of(vec![]), Spread::default());
        let one = Spread::of(vec![7]);
        assert_eq!((one.p50_ms, one.p95_ms), (7, 7));
    }
}
