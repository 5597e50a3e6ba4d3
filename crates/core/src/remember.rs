//! [`RememberCompleted`]: a per-process memory of completed idempotency
//! records in front of any [`IdempotencyStore`] (the "local cache" of AWS
//! Powertools' idempotency utility).
//!
//! A completed record is final until its TTL, so a duplicate delivery that
//! reaches the same process (SQS redelivery to a warm Lambda container,
//! provider retries, `triage serve` under a replay) is answered from memory
//! without a store round trip. Only completion is remembered: claims,
//! in-progress records and releases always go to the store, so several
//! workers still coordinate through it.
//!
//! Bounded: at most `capacity` keys (least recently used evicted), and an
//! entry is trusted no longer than the record's own expiry, nor longer than
//! `max_age` for outcomes learned from the store (whose expiry it does not
//! know).

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use crate::ports::{ClaimOutcome, ClaimTimes, DedupeKey, IdempotencyStore, StoreError};

/// How long an outcome learned from the store (not completed here) is
/// trusted: its record's own expiry is unknown here.
pub const MAX_AGE_S: i64 = 600;

struct Entry {
    outcome: String,
    /// Unix seconds after which the entry is not trusted.
    until_s: i64,
}

/// Wraps a store; see the module docs.
pub struct RememberCompleted<S> {
    inner: S,
    /// `None` when disabled (capacity 0).
    entries: Option<Mutex<LruCache<DedupeKey, Entry>>>,
    max_age_s: i64,
}

impl<S> RememberCompleted<S> {
    /// `capacity` 0 turns the memory off (every call goes to `inner`).
    pub fn new(inner: S, capacity: usize, max_age_s: i64) -> Self {
        RememberCompleted {
            inner,
            entries: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
            max_age_s,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn recall(&self, key: &DedupeKey, now_s: i64) -> Option<String> {
        let mut map = self
            .entries
            .as_ref()?
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(e) if now_s < e.until_s => Some(e.outcome.clone()),
            Some(_) => {
                map.pop(key);
                None
            }
            None => None,
        }
    }

    fn remember(&self, key: &DedupeKey, outcome: &str, until_s: i64) {
        if let Some(entries) = &self.entries {
            let mut map = entries.lock().unwrap_or_else(|p| p.into_inner());
            map.put(
                key.clone(),
                Entry {
                    outcome: outcome.to_string(),
                    until_s,
                },
            );
        }
    }

    fn forget(&self, key: &DedupeKey) {
        if let Some(entries) = &self.entries {
            entries.lock().unwrap_or_else(|p| p.into_inner()).pop(key);
        }
    }
}

impl<S: IdempotencyStore> IdempotencyStore for RememberCompleted<S> {
    async fn claim(&self, key: &DedupeKey, times: ClaimTimes) -> Result<ClaimOutcome, StoreError> {
        let now_s = times.now_ms.div_euclid(1000);
        if let Some(outcome) = self.recall(key, now_s) {
            return Ok(ClaimOutcome::Completed { outcome });
        }
        let found = self.inner.claim(key, times).await?;
        if let ClaimOutcome::Completed { outcome } = &found {
            let until_s = now_s.saturating_add(self.max_age_s).min(times.expires_at_s);
            self.remember(key, outcome, until_s);
        }
        Ok(found)
    }

    async fn complete(
        &self,
        key: &DedupeKey,
        outcome: &str,
        expires_at_s: i64,
    ) -> Result<(), StoreError> {
        self.inner.complete(key, outcome, expires_at_s).await?;
        // Only once the store has it: a failed completion is not remembered.
        self.remember(key, outcome, expires_at_s);
        Ok(())
    }

    async fn release(&self, key: &DedupeKey) -> Result<(), StoreError> {
        self.forget(key);
        self.inner.release(key).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts calls; claims answer what `answer` says.
    struct Counting {
        claims: AtomicUsize,
        completes: AtomicUsize,
        fail_complete: bool,
        answer: ClaimOutcome,
    }

    impl Counting {
        fn new(answer: ClaimOutcome) -> Self {
            Counting {
                claims: AtomicUsize::new(0),
                completes: AtomicUsize::new(0),
                fail_complete: false,
                answer,
            }
        }
    }

    impl IdempotencyStore for Counting {
        async fn claim(&self, _: &DedupeKey, _: ClaimTimes) -> Result<ClaimOutcome, StoreError> {
            self.claims.fetch_add(1, Ordering::SeqCst);
            Ok(self.answer.clone())
        }
        async fn complete(&self, _: &DedupeKey, _: &str, _: i64) -> Result<(), StoreError> {
            self.completes.fetch_add(1, Ordering::SeqCst);
            if self.fail_complete {
                Err(StoreError::Unavailable("down".into()))
            } else {
                Ok(())
            }
        }
        async fn release(&self, _: &DedupeKey) -> Result<(), StoreError> {
            Ok(())
        }
    }

    fn key(m: &str) -> DedupeKey {
        DedupeKey {
            grant_id: "g".into(),
            message_id: m.into(),
        }
    }

    fn at(now_s: i64) -> ClaimTimes {
        ClaimTimes {
            now_ms: now_s * 1000,
            lease_until_ms: (now_s + 120) * 1000,
            expires_at_s: now_s + 3600,
        }
    }

    /// A minimal executor: the futures here never pend.
    fn run<F: Future>(f: F) -> F::Output {
        use std::pin::pin;
        use std::task::{Context, Poll, Waker};
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn completed_here_answers_duplicates_without_the_store() {
        let r = RememberCompleted::new(Counting::new(ClaimOutcome::Claimed), 16, 300);
        assert_eq!(
            run(r.claim(&key("a"), at(1000))).unwrap(),
            ClaimOutcome::Claimed
        );
        run(r.complete(&key("a"), "created:T1", 1000 + 3600)).unwrap();
        let again = run(r.claim(&key("a"), at(1001))).unwrap();
        assert_eq!(
            again,
            ClaimOutcome::Completed {
                outcome: "created:T1".into()
            }
        );
        assert_eq!(r.inner().claims.load(Ordering::SeqCst), 1);
        // Another key still goes to the store.
        run(r.claim(&key("b"), at(1001))).unwrap();
        assert_eq!(r.inner().claims.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn entries_end_at_the_record_expiry() {
        let r = RememberCompleted::new(Counting::new(ClaimOutcome::Claimed), 16, 300);
        run(r.complete(&key("a"), "created:T1", 2000)).unwrap();
        assert!(matches!(
            run(r.claim(&key("a"), at(1999))).unwrap(),
            ClaimOutcome::Completed { .. }
        ));
        assert_eq!(
            run(r.claim(&key("a"), at(2000))).unwrap(),
            ClaimOutcome::Claimed
        );
        assert_eq!(r.inner().claims.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn outcomes_learned_from_the_store_are_kept_at_most_max_age() {
        let store = Counting::new(ClaimOutcome::Completed {
            outcome: "skipped:auto_reply".into(),
        });
        let r = RememberCompleted::new(store, 16, 300);
        run(r.claim(&key("a"), at(1000))).unwrap();
        run(r.claim(&key("a"), at(1299))).unwrap();
        assert_eq!(r.inner().claims.load(Ordering::SeqCst), 1);
        run(r.claim(&key("a"), at(1300))).unwrap();
        assert_eq!(r.inner().claims.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn failed_completion_and_in_progress_are_not_remembered() {
        let mut store = Counting::new(ClaimOutcome::InProgress {
            lease_until_ms: 5_000_000,
        });
        store.fail_complete = true;
        let r = RememberCompleted::new(store, 16, 300);
        assert!(run(r.complete(&key("a"), "created:T1", 9999)).is_err());
        assert!(matches!(
            run(r.claim(&key("a"), at(1000))).unwrap(),
            ClaimOutcome::InProgress { .. }
        ));
        assert!(matches!(
            run(r.claim(&key("a"), at(1000))).unwrap(),
            ClaimOutcome::InProgress { .. }
        ));
        assert_eq!(r.inner().claims.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn capacity_bounds_the_memory_and_zero_turns_it_off() {
        let r = RememberCompleted::new(Counting::new(ClaimOutcome::Claimed), 2, 300);
        for m in ["a", "b", "c"] {
            run(r.complete(&key(m), "created:T", 9999)).unwrap();
        }
        // "a" was evicted.
        assert_eq!(
            run(r.claim(&key("a"), at(1000))).unwrap(),
            ClaimOutcome::Claimed
        );
        assert!(matches!(
            run(r.claim(&key("c"), at(1000))).unwrap(),
            ClaimOutcome::Completed { .. }
        ));

        let off = RememberCompleted::new(Counting::new(ClaimOutcome::Claimed), 0, 300);
        run(off.complete(&key("a"), "created:T", 9999)).unwrap();
        assert_eq!(
            run(off.claim(&key("a"), at(1000))).unwrap(),
            ClaimOutcome::Claimed
        );
    }
}
