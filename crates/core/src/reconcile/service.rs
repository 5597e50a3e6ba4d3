//! One reconciliation run: every grant's window listed, what is unknown
//! queued, cursors moved, webhooks' health read.

use std::time::Instant;

use super::{
    KnownMessages, MAX_MESSAGES_PER_GRANT, ReconcileCursors, ReconcileSource, WebhookHealth,
    WebhookState, reference, window_start,
};
use crate::ports::{DedupeKey, NotificationQueue};

/// Keys asked about per [`KnownMessages::known`] call.
const KNOWN_CHUNK: usize = 100;

/// What one run is asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The grants to look at; empty: every grant of the application.
    pub grants: Vec<String>,
    /// Look back this many seconds instead of from each stored cursor.
    pub since_s: Option<i64>,
    /// Ask the provider to deliver again to webhooks it gave up on.
    pub reactivate: bool,
    /// List and compare only: queue nothing, move no cursor.
    pub dry_run: bool,
}

/// What happened to one grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantReport {
    pub grant: String,
    /// Where its listing started (unix seconds).
    pub from_s: i64,
    pub listed: usize,
    pub known: usize,
    /// Messages never seen, queued (or, in a dry run, that would be).
    pub queued: usize,
    /// More than [`MAX_MESSAGES_PER_GRANT`]: the rest waits for the next run.
    pub truncated: bool,
    /// Why the grant could not be finished (its cursor was not moved).
    pub error: Option<String>,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub grants: Vec<GrantReport>,
    pub webhooks: Vec<WebhookHealth>,
    /// Webhooks asked to deliver again.
    pub reactivated: Vec<String>,
    /// Why grants or webhooks could not be read at all.
    pub errors: Vec<String>,
}

impl Report {
    pub fn queued(&self) -> usize {
        self.grants.iter().map(|g| g.queued).sum()
    }

    pub fn listed(&self) -> usize {
        self.grants.iter().map(|g| g.listed).sum()
    }

    pub fn unhealthy_webhooks(&self) -> usize {
        self.webhooks
            .iter()
            .filter(|w| w.state.is_unhealthy())
            .count()
    }

    /// Grants that failed, plus run-level errors.
    pub fn failures(&self) -> usize {
        self.errors.len() + self.grants.iter().filter(|g| g.error.is_some()).count()
    }
}

/// A reconciliation over ports: the provider's listing, the stored
/// cursors, the idempotency records and the notification queue.
pub struct Reconciler<S, C, K, Q> {
    pub source: S,
    pub cursors: C,
    pub known: K,
    pub queue: Q,
}

impl<S, C, K, Q> Reconciler<S, C, K, Q>
where
    S: ReconcileSource,
    C: ReconcileCursors,
    K: KnownMessages,
    Q: NotificationQueue,
{
    /// One run at `now_ms`; provider calls stop at `deadline`. A grant that
    /// fails is reported and keeps its cursor; the others go on.
    pub async fn run(&self, opts: &RunOptions, now_ms: i64, deadline: Instant) -> Report {
        let mut report = Report::default();
        match self.source.webhooks(deadline).await {
            Ok(hooks) => {
                for h in &hooks {
                    if opts.reactivate && !opts.dry_run && h.state == WebhookState::Failed {
                        match self.source.reactivate(&h.id, deadline).await {
                            Ok(()) => report.reactivated.push(h.id.clone()),
                            Err(e) => report.errors.push(format!("reactivate {}: {e}", h.id)),
                        }
                    }
                }
                report.webhooks = hooks;
            }
            Err(e) => report.errors.push(format!("webhooks: {e}")),
        }
        let grants = if opts.grants.is_empty() {
            match self.source.grants(deadline).await {
                Ok(g) => g,
                Err(e) => {
                    report.errors.push(format!("grants: {e}"));
                    return report;
                }
            }
        } else {
            opts.grants.clone()
        };
        for grant in grants {
            let g = self.grant(&grant, opts, now_ms, deadline).await;
            report.grants.push(g);
        }
        report
    }

    async fn grant(
        &self,
        grant: &str,
        opts: &RunOptions,
        now_ms: i64,
        deadline: Instant,
    ) -> GrantReport {
        let now_s = now_ms.div_euclid(1000);
        let provider = self.source.provider();
        let mut out = GrantReport {
            grant: grant.to_string(),
            ..GrantReport::default()
        };
        let cursor = match self.cursors.cursor(provider, grant).await {
            Ok(c) => c,
            Err(e) => {
                out.error = Some(format!("cursor: {e}"));
                return out;
            }
        };
        out.from_s = window_start(cursor, opts.since_s, now_s);
        let mut ids: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut page: Option<String> = None;
        loop {
            let listed = match self
                .source
                .received(grant, out.from_s, page.as_deref(), deadline)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    out.error = Some(format!("listing: {e}"));
                    return out;
                }
            };
            for m in listed.messages {
                if seen.insert(m.id.clone()) {
                    ids.push(m.id);
                }
            }
            if ids.len() >= MAX_MESSAGES_PER_GRANT {
                ids.truncate(MAX_MESSAGES_PER_GRANT);
                out.truncated = true;
                break;
            }
            match listed.next.filter(|n| !n.is_empty()) {
                // A provider repeating a token would loop forever.
                Some(next) if page.as_deref() != Some(next.as_str()) => page = Some(next),
                _ => break,
            }
        }
        out.listed = ids.len();
        let mut unknown = Vec::new();
        for chunk in ids.chunks(KNOWN_CHUNK) {
            let keys: Vec<DedupeKey> = chunk
                .iter()
                .map(|id| DedupeKey {
                    grant_id: grant.to_string(),
                    message_id: id.clone(),
                })
                .collect();
            match self.known.known(&keys, now_s).await {
                Ok(answers) => {
                    for (id, known) in chunk.iter().zip(answers) {
                        if known {
                            out.known += 1;
                        } else {
                            unknown.push(id.clone());
                        }
                    }
                }
                Err(e) => {
                    out.error = Some(format!("idempotency records: {e}"));
                    return out;
                }
            }
        }
        out.queued = unknown.len();
        if opts.dry_run {
            return out;
        }
        let messages: Vec<_> = unknown
            .iter()
            .enumerate()
            .map(|(i, id)| {
                reference(
                    provider,
                    self.source.shape(),
                    grant,
                    id,
                    now_ms,
                    format!("r{i}"),
                )
            })
            .collect();
        for batch in messages.chunks(10) {
            if let Err(e) = self.queue.send_all(batch).await {
                out.error = Some(format!("queue: {e}"));
                return out;
            }
        }
        if !out.truncated
            && let Err(e) = self.cursors.set_cursor(provider, grant, now_s).await
        {
            out.error = Some(format!("cursor: {e}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;

    use super::*;
    use crate::envelope::{Envelope, QueuedMessage};
    use crate::ports::{FetchError, QueueError, StoreError};
    use crate::reconcile::{ListedMessage, Page};

    const NOW_MS: i64 = 1_700_000_000_000;

    #[derive(Default)]
    struct Source {
        /// grant -> messages (id, received_at_s), newest first.
        mail: HashMap<String, Vec<(String, i64)>>,
        page_size: usize,
        hooks: Vec<WebhookHealth>,
        failing_grant: Option<String>,
        asked_from: Mutex<Vec<(String, i64)>>,
        reactivated: Mutex<Vec<String>>,
    }

    impl ReconcileSource for Source {
        fn provider(&self) -> &'static str {
            "nylas"
        }
        fn shape(&self) -> &'static str {
            "v3"
        }
        async fn grants(&self, _: Instant) -> Result<Vec<String>, FetchError> {
            let mut g: Vec<String> = self.mail.keys().cloned().collect();
            g.sort();
            Ok(g)
        }
        async fn received(
            &self,
            grant: &str,
            since_s: i64,
            page: Option<&str>,
            _: Instant,
        ) -> Result<Page, FetchError> {
            if self.failing_grant.as_deref() == Some(grant) {
                return Err(FetchError::Transient("HTTP 503".into()));
            }
            self.asked_from
                .lock()
                .unwrap()
                .push((grant.to_string(), since_s));
            let all: Vec<&(String, i64)> = self.mail[grant]
                .iter()
                .filter(|(_, at)| *at >= since_s)
                .collect();
            let start: usize = page.map_or(0, |p| p.parse().unwrap());
            let end = (start + self.page_size.max(1)).min(all.len());
            Ok(Page {
                messages: all[start..end]
                    .iter()
                    .map(|(id, at)| ListedMessage {
                        id: id.clone(),
                        received_at_s: *at,
                    })
                    .collect(),
                next: (end < all.len()).then(|| end.to_string()),
            })
        }
        async fn webhooks(&self, _: Instant) -> Result<Vec<WebhookHealth>, FetchError> {
            Ok(self.hooks.clone())
        }
        async fn reactivate(&self, id: &str, _: Instant) -> Result<(), FetchError> {
            self.reactivated.lock().unwrap().push(id.to_string());
            Ok(())
        }
    }

    #[derive(Default)]
    struct Cursors(Mutex<HashMap<String, i64>>);
    impl ReconcileCursors for Cursors {
        async fn cursor(&self, _: &str, grant: &str) -> Result<Option<i64>, StoreError> {
            Ok(self.0.lock().unwrap().get(grant).copied())
        }
        async fn set_cursor(&self, _: &str, grant: &str, c: i64) -> Result<(), StoreError> {
            self.0.lock().unwrap().insert(grant.to_string(), c);
            Ok(())
        }
    }

    #[derive(Default)]
    struct Known(HashSet<(String, String)>);
    impl KnownMessages for Known {
        async fn known(&self, keys: &[DedupeKey], _: i64) -> Result<Vec<bool>, StoreError> {
            Ok(keys
                .iter()
                .map(|k| self.0.contains(&(k.grant_id.clone(), k.message_id.clone())))
                .collect())
        }
    }

    #[derive(Default)]
    struct Queue(Mutex<Vec<QueuedMessage>>);
    impl NotificationQueue for Queue {
        async fn send_all(&self, m: &[QueuedMessage]) -> Result<(), QueueError> {
            self.0.lock().unwrap().extend_from_slice(m);
            Ok(())
        }
    }

    fn now_s() -> i64 {
        NOW_MS / 1000
    }

    fn reconciler(
        source: Source,
        known: &[(&str, &str)],
    ) -> Reconciler<Source, Cursors, Known, Queue> {
        Reconciler {
            source,
            cursors: Cursors::default(),
            known: Known(
                known
                    .iter()
                    .map(|(g, m)| (g.to_string(), m.to_string()))
                    .collect(),
            ),
            queue: Queue::default(),
        }
    }

    fn mail(grant: &str, n: usize) -> (String, Vec<(String, i64)>) {
        (
            grant.to_string(),
            (0..n)
                .map(|i| (format!("{grant}-m{i}"), now_s() - 60 * i as i64))
                .collect(),
        )
    }

    fn queued_ids(r: &Reconciler<Source, Cursors, Known, Queue>) -> Vec<String> {
        r.queue
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|q| Envelope::decode(&q.body).unwrap().message_id.unwrap())
            .collect()
    }

    #[tokio::test]
    async fn only_the_messages_never_seen_are_queued_across_pages() {
        let source = Source {
            mail: HashMap::from([mail("g1", 25)]),
            page_size: 10,
            ..Source::default()
        };
        let r = reconciler(source, &[("g1", "g1-m0"), ("g1", "g1-m7")]);
        let report = r.run(&RunOptions::default(), NOW_MS, Instant::now()).await;
        let g = &report.grants[0];
        assert_eq!((g.listed, g.known, g.queued), (25, 2, 23));
        assert_eq!(g.error, None);
        let ids = queued_ids(&r);
        assert_eq!(ids.len(), 23);
        assert!(!ids.contains(&"g1-m0".to_string()));
        assert_eq!(r.cursors.0.lock().unwrap()["g1"], now_s(), "cursor moved");
    }

    #[tokio::test]
    async fn the_next_run_starts_at_the_cursor_less_the_overlap() {
        let source = Source {
            mail: HashMap::from([mail("g1", 3)]),
            page_size: 10,
            ..Source::default()
        };
        let r = reconciler(source, &[]);
        r.run(&RunOptions::default(), NOW_MS, Instant::now()).await;
        r.run(&RunOptions::default(), NOW_MS + 900_000, Instant::now())
            .await;
        let asked = r.source.asked_from.lock().unwrap().clone();
        assert_eq!(asked[0].1, now_s() - crate::reconcile::FIRST_RUN_LOOKBACK_S);
        assert_eq!(asked[1].1, now_s() - crate::reconcile::OVERLAP_S);
    }

    #[tokio::test]
    async fn a_failing_grant_keeps_its_cursor_and_the_others_go_on() {
        let source = Source {
            mail: HashMap::from([mail("g1", 2), mail("g2", 2)]),
            page_size: 10,
            failing_grant: Some("g1".into()),
            ..Source::default()
        };
        let r = reconciler(source, &[]);
        let report = r.run(&RunOptions::default(), NOW_MS, Instant::now()).await;
        assert!(report.grants[0].error.as_deref().unwrap().contains("503"));
        assert_eq!(report.grants[1].queued, 2);
        assert_eq!(report.failures(), 1);
        let cursors = r.cursors.0.lock().unwrap();
        assert!(!cursors.contains_key("g1"));
        assert!(cursors.contains_key("g2"));
    }

    #[tokio::test]
    async fn a_dry_run_queues_nothing_and_moves_no_cursor() {
        let source = Source {
            mail: HashMap::from([mail("g1", 4)]),
            page_size: 10,
            hooks: vec![WebhookHealth {
                id: "wh".into(),
                state: WebhookState::Failed,
            }],
            ..Source::default()
        };
        let r = reconciler(source, &[]);
        let opts = RunOptions {
            dry_run: true,
            reactivate: true,
            ..RunOptions::default()
        };
        let report = r.run(&opts, NOW_MS, Instant::now()).await;
        assert_eq!(report.queued(), 4);
        assert!(r.queue.0.lock().unwrap().is_empty());
        assert!(r.cursors.0.lock().unwrap().is_empty());
        assert!(r.source.reactivated.lock().unwrap().is_empty());
        assert_eq!(report.unhealthy_webhooks(), 1);
    }

    #[tokio::test]
    async fn failed_webhooks_are_reactivated_only_when_asked() {
        let hooks = vec![
            WebhookHealth {
                id: "ok".into(),
                state: WebhookState::Active,
            },
            WebhookHealth {
                id: "down".into(),
                state: WebhookState::Failed,
            },
            WebhookHealth {
                id: "shaky".into(),
                state: WebhookState::Failing,
            },
        ];
        let source = Source {
            hooks: hooks.clone(),
            ..Source::default()
        };
        let r = reconciler(source, &[]);
        let report = r.run(&RunOptions::default(), NOW_MS, Instant::now()).await;
        assert_eq!(report.unhealthy_webhooks(), 2);
        assert!(report.reactivated.is_empty());
        let opts = RunOptions {
            reactivate: true,
            ..RunOptions::default()
        };
        let report = r.run(&opts, NOW_MS, Instant::now()).await;
        assert_eq!(
            report.reactivated,
            ["down"],
            "failing ones are still retried by the provider"
        );
    }

    #[tokio::test]
    async fn a_huge_mailbox_is_cut_and_its_cursor_stays() {
        let source = Source {
            mail: HashMap::from([mail("g1", MAX_MESSAGES_PER_GRANT + 5)]),
            page_size: 200,
            ..Source::default()
        };
        let r = reconciler(source, &[]);
        let opts = RunOptions {
            since_s: Some(crate::reconcile::MAX_LOOKBACK_S),
            ..RunOptions::default()
        };
        let report = r.run(&opts, NOW_MS, Instant::now()).await;
        assert!(report.grants[0].truncated);
        assert_eq!(report.grants[0].listed, MAX_MESSAGES_PER_GRANT);
        assert!(r.cursors.0.lock().unwrap().is_empty());
    }
}
