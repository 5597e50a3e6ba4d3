//! Finding mail whose notification never arrived (issue #13).
//!
//! A webhook can be lost: the provider paused it after failures, a
//! deployment answered 5xx longer than the provider retried, a notification
//! was dropped upstream. Reconciliation asks the provider which messages
//! each mailbox received since the last run and queues the ones this
//! pipeline has never seen as reference envelopes, so they take the normal
//! worker path (fetch, filters, classification, threading, idempotency).
//!
//! # Layout
//! - This module: the listed message, the window rule, and the ports: a
//!   provider family's [`ReconcileSource`] (Nylas first), the stored
//!   [`ReconcileCursors`], and [`KnownMessages`] (the idempotency records).
//! - [`service`]: one run over every grant ([`service::Reconciler`]).

pub mod service;

use std::future::Future;
use std::time::Instant;

use crate::ports::{DedupeKey, FetchError, StoreError};

/// How far before the stored cursor each run looks again: messages the
/// provider indexed late, clocks that disagree.
pub const OVERLAP_S: i64 = 10 * 60;

/// How far back the first run of a grant looks (no cursor yet).
pub const FIRST_RUN_LOOKBACK_S: i64 = 2 * 3_600;

/// The furthest back any run looks: the idempotency records' lifetime
/// (7 days by default); older messages could not be told apart from new.
pub const MAX_LOOKBACK_S: i64 = 7 * 24 * 3_600;

/// Most messages listed per grant and run; a grant with more is reported
/// `truncated` and its cursor is not moved, so the next run goes on.
pub const MAX_MESSAGES_PER_GRANT: usize = 5_000;

/// One message the provider says a mailbox received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMessage {
    pub id: String,
    /// Unix seconds, as the provider dates it.
    pub received_at_s: i64,
}

/// One page of a listing; `next` is the provider's page token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub messages: Vec<ListedMessage>,
    pub next: Option<String>,
}

/// A webhook's health as the provider reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookState {
    Active,
    /// Deliveries are failing; the provider still tries.
    Failing,
    /// The provider gave up: nothing is delivered until it is reactivated.
    Failed,
    /// Paused by someone.
    Paused,
    /// A status this build does not know.
    Unknown,
}

impl WebhookState {
    /// From the provider's word (Nylas: `active`, `failing`, `failed`,
    /// `pause`).
    pub fn parse(s: &str) -> WebhookState {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => WebhookState::Active,
            "failing" => WebhookState::Failing,
            "failed" => WebhookState::Failed,
            "pause" | "paused" => WebhookState::Paused,
            _ => WebhookState::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookState::Active => "active",
            WebhookState::Failing => "failing",
            WebhookState::Failed => "failed",
            WebhookState::Paused => "paused",
            WebhookState::Unknown => "unknown",
        }
    }

    /// Whether mail may be going unnoticed: raise the metric and alarm.
    pub fn is_unhealthy(self) -> bool {
        matches!(
            self,
            WebhookState::Failing | WebhookState::Failed | WebhookState::Paused
        )
    }
}

/// One webhook of the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHealth {
    pub id: String,
    pub state: WebhookState,
}

/// What a provider family offers reconciliation: its mailboxes, what each
/// received, and its webhooks' health. Nylas implements it first; a family
/// without a listing API has no reconciliation.
pub trait ReconcileSource: Send + Sync {
    /// The provider name written into the queued envelopes (`nylas`).
    fn provider(&self) -> &'static str;

    /// The envelope `shape` of a reference to one of its messages.
    fn shape(&self) -> &'static str;

    /// Every mailbox (grant) of the application.
    fn grants(
        &self,
        deadline: Instant,
    ) -> impl Future<Output = Result<Vec<String>, FetchError>> + Send;

    /// One page of the messages `grant` received at or after `since_s`.
    fn received(
        &self,
        grant: &str,
        since_s: i64,
        page: Option<&str>,
        deadline: Instant,
    ) -> impl Future<Output = Result<Page, FetchError>> + Send;

    /// The application's webhooks and their health.
    fn webhooks(
        &self,
        deadline: Instant,
    ) -> impl Future<Output = Result<Vec<WebhookHealth>, FetchError>> + Send;

    /// Ask the provider to deliver to `webhook` again.
    fn reactivate(
        &self,
        webhook: &str,
        deadline: Instant,
    ) -> impl Future<Output = Result<(), FetchError>> + Send;
}

/// Where each grant's reconciliation cursor is kept (unix seconds: every
/// message received before it has been looked at).
pub trait ReconcileCursors: Send + Sync {
    fn cursor(
        &self,
        provider: &str,
        grant: &str,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    fn set_cursor(
        &self,
        provider: &str,
        grant: &str,
        cursor_s: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Which messages the pipeline has already seen: an unexpired idempotency
/// record (in progress or completed) exists for them.
pub trait KnownMessages: Send + Sync {
    /// One answer per key, in order.
    fn known(
        &self,
        keys: &[DedupeKey],
        now_s: i64,
    ) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send;
}

/// Where a grant's listing starts: `since_s` (a run asked to look back that
/// far) wins, else the stored cursor less [`OVERLAP_S`], else
/// [`FIRST_RUN_LOOKBACK_S`]; never before [`MAX_LOOKBACK_S`] ago and never
/// after now.
pub fn window_start(cursor_s: Option<i64>, since_s: Option<i64>, now_s: i64) -> i64 {
    let from = match (since_s, cursor_s) {
        (Some(back), _) => now_s.saturating_sub(back.max(0)),
        (None, Some(c)) => c.saturating_sub(OVERLAP_S),
        (None, None) => now_s.saturating_sub(FIRST_RUN_LOOKBACK_S),
    };
    from.clamp(now_s.saturating_sub(MAX_LOOKBACK_S), now_s)
}

/// The notification id of a reconciled message: stable, so logs and
/// redeliveries of the same find agree.
pub fn notification_id(message_id: &str) -> String {
    format!("reconcile:{message_id}")
}

/// The reference envelope that queues one found message.
pub fn reference(
    source_provider: &str,
    shape: &'static str,
    grant: &str,
    message_id: &str,
    now_ms: i64,
    entry_id: String,
) -> crate::envelope::QueuedMessage {
    let notification_id = notification_id(message_id);
    let fields = crate::envelope::EnvelopeFields {
        provider: source_provider,
        received_at_ms: now_ms,
        notification_id: &notification_id,
        type_raw: "message.created",
        base_type: "message.created",
        suffixes: Vec::new(),
        source: Some("reconcile"),
        grant_id: Some(grant),
        message_id: Some(message_id),
        delivery_attempt: None,
        shape,
    };
    crate::envelope::build_exact(&fields, None, entry_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Envelope;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn the_window_starts_at_the_cursor_less_the_overlap() {
        assert_eq!(
            window_start(Some(NOW - 900), None, NOW),
            NOW - 900 - OVERLAP_S
        );
        assert_eq!(window_start(None, None, NOW), NOW - FIRST_RUN_LOOKBACK_S);
        assert_eq!(
            window_start(Some(NOW - 60), Some(3 * 3_600), NOW),
            NOW - 3 * 3_600,
            "--since wins"
        );
    }

    #[test]
    fn the_window_never_reaches_past_the_records_or_into_the_future() {
        assert_eq!(window_start(Some(0), None, NOW), NOW - MAX_LOOKBACK_S);
        assert_eq!(
            window_start(None, Some(i64::MAX), NOW),
            NOW - MAX_LOOKBACK_S
        );
        assert_eq!(window_start(Some(NOW + 86_400), None, NOW), NOW);
        assert_eq!(window_start(None, Some(-5), NOW), NOW);
    }

    #[test]
    fn webhook_states_read_the_providers_words() {
        assert_eq!(WebhookState::parse("active"), WebhookState::Active);
        assert_eq!(WebhookState::parse("FAILING"), WebhookState::Failing);
        assert_eq!(WebhookState::parse("failed"), WebhookState::Failed);
        assert_eq!(WebhookState::parse("pause"), WebhookState::Paused);
        assert_eq!(WebhookState::parse("weird"), WebhookState::Unknown);
        assert!(WebhookState::Failed.is_unhealthy());
        assert!(!WebhookState::Active.is_unhealthy());
        assert!(!WebhookState::Unknown.is_unhealthy());
    }

    #[test]
    fn a_found_message_is_queued_as_a_reference_the_worker_reads() {
        let q = reference("nylas", "v3", "g-1", "m-1", NOW * 1000, "e0".into());
        assert!(q.refetch);
        let env = Envelope::decode(&q.body).unwrap();
        assert!(env.refetch && env.notification.is_none());
        assert_eq!(env.provider, "nylas");
        assert_eq!(env.grant_id.as_deref(), Some("g-1"));
        assert_eq!(env.message_id.as_deref(), Some("m-1"));
        assert_eq!(env.notification_id, "reconcile:m-1");
        assert_eq!(env.source.as_deref(), Some("reconcile"));
    }
}
