//! The endpoints being served, kept in step with their secrets while
//! ingest runs.
//!
//! A [`Keyring`] holds the current endpoints (provider + keys) as one
//! immutable snapshot that requests share. Built from configuration
//! ([`Keyring::load`]) it reads the secrets again on the schedule of
//! [`triage_core::key_refresh`]: when the snapshot is a minute old, and at
//! once (rate-limited) after a signature fails with it. A failed read keeps
//! the snapshot being served and is retried on the same schedule; it is
//! logged and counted (`SecretRefreshFailed`), never fatal. Built from
//! fixed endpoints ([`Keyring::fixed`], tests and embedding) it never
//! changes.

use std::sync::{Arc, RwLock};

use triage_core::key_refresh::{RefreshReason, RefreshSchedule};
use triage_secrets::SecretResolver;

use crate::compose::{self, ComposeError, Composed};
use crate::config::WebhookConfig;
use crate::handler::Endpoint;

/// One version of the endpoints. `generation` grows with every successful
/// read, so a request can tell whether the keys it was refused with have
/// been replaced since.
pub struct Snapshot {
    pub generation: u64,
    pub endpoints: Vec<Endpoint>,
}

impl Snapshot {
    /// The endpoint serving `path` (a trailing `/` is ignored).
    pub fn endpoint(&self, path: &str) -> Option<&Endpoint> {
        let path = path.trim_end_matches('/');
        self.endpoints.iter().find(|e| e.provider.route() == path)
    }
}

/// Where the endpoints are read from again.
struct Source {
    config: WebhookConfig,
    resolver: SecretResolver,
    test_secret: Option<&'static str>,
    schedule: tokio::sync::Mutex<RefreshSchedule>,
}

/// The endpoints served; see the module documentation.
pub struct Keyring {
    current: RwLock<Arc<Snapshot>>,
    source: Option<Source>,
}

impl From<Vec<Endpoint>> for Keyring {
    fn from(endpoints: Vec<Endpoint>) -> Self {
        Keyring::fixed(endpoints)
    }
}

impl Keyring {
    /// Endpoints that never change.
    pub fn fixed(endpoints: Vec<Endpoint>) -> Self {
        Keyring {
            current: RwLock::new(Arc::new(Snapshot {
                generation: 0,
                endpoints,
            })),
            source: None,
        }
    }

    /// The endpoints from `config`, read now (`now_ms`) and again on the
    /// refresh schedule. Fails as [`compose::endpoints`] does: a first read
    /// that fails stops the runner, later ones do not.
    pub async fn load(
        config: WebhookConfig,
        resolver: SecretResolver,
        test_secret: Option<&'static str>,
        now_ms: i64,
    ) -> Result<(Keyring, Composed), ComposeError> {
        Keyring::load_with(config, resolver, test_secret, RefreshSchedule::new(now_ms)).await
    }

    /// [`Keyring::load`] on a given schedule (tests: short timings).
    pub async fn load_with(
        config: WebhookConfig,
        resolver: SecretResolver,
        test_secret: Option<&'static str>,
        schedule: RefreshSchedule,
    ) -> Result<(Keyring, Composed), ComposeError> {
        let mut composed = compose::endpoints(&config, &resolver, test_secret).await?;
        let endpoints = std::mem::take(&mut composed.endpoints);
        let keyring = Keyring {
            current: RwLock::new(Arc::new(Snapshot {
                generation: 1,
                endpoints,
            })),
            source: Some(Source {
                config,
                resolver,
                test_secret,
                schedule: tokio::sync::Mutex::new(schedule),
            }),
        };
        Ok((keyring, composed))
    }

    /// The snapshot as it is, without reading anything.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        // A poisoned lock still holds a whole snapshot: writers only swap
        // the `Arc`.
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// The snapshot to verify a request received at `now_ms` with, read
    /// again first when it is stale.
    pub async fn current(&self, now_ms: i64) -> Arc<Snapshot> {
        let seen = self.snapshot();
        self.refresh(&seen, now_ms, false).await.unwrap_or(seen)
    }

    /// After `refused` rejected a signature at `now_ms`: a newer snapshot to
    /// try once more, if one was read meanwhile or may be read now.
    pub async fn after_rejection(&self, refused: &Snapshot, now_ms: i64) -> Option<Arc<Snapshot>> {
        self.refresh(refused, now_ms, true).await
    }

    /// Reads the endpoints again if the schedule wants it; returns a
    /// snapshot newer than `seen`, if there is one.
    async fn refresh(
        &self,
        seen: &Snapshot,
        now_ms: i64,
        signature_failed: bool,
    ) -> Option<Arc<Snapshot>> {
        let source = self.source.as_ref()?;
        {
            // Cheap check without waiting for a read in flight.
            let schedule = source.schedule.try_lock();
            if let Ok(s) = &schedule
                && s.wanted(now_ms, signature_failed).is_none()
            {
                return self.newer_than(seen);
            }
        }
        // One read at a time; whoever waited sees its result.
        let mut schedule = source.schedule.lock().await;
        let newer = self.newer_than(seen);
        if newer.is_some() {
            return newer;
        }
        let reason = schedule.wanted(now_ms, signature_failed)?;
        schedule.attempted(now_ms);
        self.read(source, seen.generation, reason).await
    }

    fn newer_than(&self, seen: &Snapshot) -> Option<Arc<Snapshot>> {
        let now = self.snapshot();
        (now.generation > seen.generation).then_some(now)
    }

    async fn read(
        &self,
        source: &Source,
        generation: u64,
        reason: RefreshReason,
    ) -> Option<Arc<Snapshot>> {
        match compose::endpoints(&source.config, &source.resolver, source.test_secret).await {
            Ok(composed) => {
                let next = Arc::new(Snapshot {
                    generation: generation + 1,
                    endpoints: composed.endpoints,
                });
                tracing::info!(
                    reason = reason.as_str(),
                    providers = next.endpoints.len(),
                    secrets = next
                        .endpoints
                        .iter()
                        .map(|e| e.keys.secrets.len())
                        .sum::<usize>(),
                    "webhook secrets read again"
                );
                match self.current.write() {
                    Ok(mut g) => *g = Arc::clone(&next),
                    Err(p) => *p.into_inner() = Arc::clone(&next),
                }
                Some(next)
            }
            Err(e) => {
                metrics::counter!("SecretRefreshFailed").increment(1);
                tracing::warn!(
                    reason = reason.as_str(),
                    error = %e,
                    "could not read the webhook secrets again; serving the last ones read"
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_core::config::SecretSpec;

    fn config(nylas: &str) -> WebhookConfig {
        WebhookConfig {
            nylas: Some(SecretSpec::Inline(nylas.into())),
            inbound: None,
            tolerance_s: 300,
        }
    }

    #[tokio::test]
    async fn fixed_endpoints_never_change() {
        let k = Keyring::fixed(compose::inline(Some("a"), None, 300).unwrap());
        let s = k.current(i64::MAX).await;
        assert_eq!(s.generation, 0);
        assert!(k.after_rejection(&s, i64::MAX).await.is_none());
        assert!(s.endpoint("/webhooks/nylas/").is_some());
        assert!(s.endpoint("/webhooks/inbound").is_none());
    }

    #[tokio::test]
    async fn reads_follow_the_schedule() {
        let t0 = 1_000_000;
        let (k, _) = Keyring::load(config("a"), SecretResolver::new(), None, t0)
            .await
            .unwrap();
        let first = k.current(t0 + 1).await;
        assert_eq!(first.generation, 1, "fresh: no read");
        assert!(k.after_rejection(&first, t0 + 2).await.is_none(), "gap");
        let forced = k.after_rejection(&first, t0 + 5_000).await.unwrap();
        assert_eq!(forced.generation, 2);
        // Another request refused with the old snapshot sees the new one
        // without a read of its own.
        assert_eq!(
            k.after_rejection(&first, t0 + 5_001)
                .await
                .unwrap()
                .generation,
            2
        );
        assert_eq!(k.current(t0 + 64_999).await.generation, 2);
        assert_eq!(k.current(t0 + 65_000).await.generation, 3, "stale");
    }
}
