//! The [`IdempotencyStore`] contract: claims, leases, completion, TTL and
//! release ([`idempotency_contract`]), and one winner among concurrent
//! claims of one key ([`idempotency_concurrency_contract`]).

use std::sync::Arc;

use triage_core::ports::{ClaimOutcome, ClaimTimes, DedupeKey, IdempotencyStore};

use super::{DAY_S, fresh_key, now_ms, times};
use crate::unique_name;

async fn claim_ok<S: IdempotencyStore>(store: &S, key: &DedupeKey, t: ClaimTimes) -> ClaimOutcome {
    store
        .claim(key, t)
        .await
        .unwrap_or_else(|e| panic!("claim of {} failed: {e}", key.as_key()))
}

/// A key never seen is claimed.
pub async fn claim_new_is_claimed<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("new");
    let t = times(now_ms(), 60_000, DAY_S);
    assert_eq!(claim_ok(store, &key, t).await, ClaimOutcome::Claimed);
}

/// A second claim while the first lease is live is `InProgress` with the
/// holder's lease end, and does not steal the record.
pub async fn claim_with_live_lease_is_in_progress<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("live-lease");
    let now = now_ms();
    let first = times(now, 60_000, DAY_S);
    assert_eq!(claim_ok(store, &key, first).await, ClaimOutcome::Claimed);
    let second = times(now + 10, 90_000, DAY_S);
    assert_eq!(
        claim_ok(store, &key, second).await,
        ClaimOutcome::InProgress {
            lease_until_ms: first.lease_until_ms
        }
    );
    // Still the first holder's lease, not the second caller's.
    assert_eq!(
        claim_ok(store, &key, times(now + 20, 5, DAY_S)).await,
        ClaimOutcome::InProgress {
            lease_until_ms: first.lease_until_ms
        }
    );
}

/// Once a lease has ended, another worker takes the record over, and then
/// holds its own lease.
pub async fn claim_after_lease_expiry_is_claimed<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("lease-expiry");
    let now = now_ms();
    assert_eq!(
        claim_ok(store, &key, times(now, 1_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
    let later = times(now + 2_000, 30_000, DAY_S);
    assert_eq!(claim_ok(store, &key, later).await, ClaimOutcome::Claimed);
    assert_eq!(
        claim_ok(store, &key, times(now + 3_000, 30_000, DAY_S)).await,
        ClaimOutcome::InProgress {
            lease_until_ms: later.lease_until_ms
        }
    );
}

/// A completed record answers `Completed` with its outcome, even long after
/// the lease, until its TTL.
pub async fn completed_claim_returns_outcome<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("completed");
    let now = now_ms();
    assert_eq!(
        claim_ok(store, &key, times(now, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
    store
        .complete(
            &key,
            "created:t_0123456789abcdef01234567",
            now / 1000 + DAY_S,
        )
        .await
        .unwrap_or_else(|e| panic!("complete failed: {e}"));
    let expected = ClaimOutcome::Completed {
        outcome: "created:t_0123456789abcdef01234567".into(),
    };
    assert_eq!(
        claim_ok(store, &key, times(now + 1, 60_000, DAY_S)).await,
        expected
    );
    // Lease long over, TTL not yet: still completed.
    assert_eq!(
        claim_ok(store, &key, times(now + 3_600_000, 60_000, DAY_S)).await,
        expected
    );
}

/// A record whose TTL has passed is treated as absent although still stored
/// (TTL deletion is lazy), whether it is COMPLETED or IN_PROGRESS.
pub async fn claim_after_ttl_passed_is_claimed<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("ttl-completed");
    let now = now_ms();
    assert_eq!(
        claim_ok(store, &key, times(now, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
    store
        .complete(&key, "created:old", now / 1000 - 10)
        .await
        .unwrap_or_else(|e| panic!("complete failed: {e}"));
    assert_eq!(
        claim_ok(store, &key, times(now + 1, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed,
        "a COMPLETED record past its TTL must count as absent"
    );

    let key = fresh_key("ttl-in-progress");
    // Lease still live, TTL already passed.
    assert_eq!(
        claim_ok(store, &key, times(now, 600_000, -10)).await,
        ClaimOutcome::Claimed
    );
    assert_eq!(
        claim_ok(store, &key, times(now + 1, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed,
        "an IN_PROGRESS record past its TTL must count as absent"
    );
}

/// After `release`, the next claim runs at once.
pub async fn release_then_claim_is_claimed<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("release");
    let now = now_ms();
    assert_eq!(
        claim_ok(store, &key, times(now, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
    store
        .release(&key)
        .await
        .unwrap_or_else(|e| panic!("release failed: {e}"));
    assert_eq!(
        claim_ok(store, &key, times(now + 1, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
}

/// Releasing a key that has no record is not an error.
pub async fn release_missing_is_ok<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("release-missing");
    store
        .release(&key)
        .await
        .unwrap_or_else(|e| panic!("release of a missing record failed: {e}"));
}

/// `release` never removes a COMPLETED record.
pub async fn release_keeps_completed<S: IdempotencyStore>(store: &S) {
    let key = fresh_key("release-completed");
    let now = now_ms();
    assert_eq!(
        claim_ok(store, &key, times(now, 60_000, DAY_S)).await,
        ClaimOutcome::Claimed
    );
    store
        .complete(&key, "appended:t_x", now / 1000 + DAY_S)
        .await
        .unwrap_or_else(|e| panic!("complete failed: {e}"));
    store
        .release(&key)
        .await
        .unwrap_or_else(|e| panic!("release of a completed record failed: {e}"));
    assert_eq!(
        claim_ok(store, &key, times(now + 1, 60_000, DAY_S)).await,
        ClaimOutcome::Completed {
            outcome: "appended:t_x".into()
        }
    );
}

/// Records of different messages (and grants) are independent.
pub async fn keys_are_independent<S: IdempotencyStore>(store: &S) {
    let a = fresh_key("a");
    let b = DedupeKey {
        grant_id: a.grant_id.clone(),
        message_id: "msg-b".into(),
    };
    let c = DedupeKey {
        grant_id: unique_name("grant"),
        message_id: a.message_id.clone(),
    };
    let t = times(now_ms(), 60_000, DAY_S);
    assert_eq!(claim_ok(store, &a, t).await, ClaimOutcome::Claimed);
    assert_eq!(claim_ok(store, &b, t).await, ClaimOutcome::Claimed);
    assert_eq!(claim_ok(store, &c, t).await, ClaimOutcome::Claimed);
}

/// Every sequential idempotency behaviour.
pub async fn idempotency_contract<S: IdempotencyStore>(store: &S) {
    claim_new_is_claimed(store).await;
    claim_with_live_lease_is_in_progress(store).await;
    claim_after_lease_expiry_is_claimed(store).await;
    completed_claim_returns_outcome(store).await;
    claim_after_ttl_passed_is_claimed(store).await;
    release_then_claim_is_claimed(store).await;
    release_missing_is_ok(store).await;
    release_keeps_completed(store).await;
    keys_are_independent(store).await;
}

/// `n` workers claim the same new key at once: exactly one `Claimed`, the
/// others `InProgress`.
pub async fn concurrent_claims_have_one_winner<S: IdempotencyStore + 'static>(
    stores: &[Arc<S>],
    n: usize,
) {
    assert!(!stores.is_empty(), "at least one store");
    let key = fresh_key("race");
    let now = now_ms();
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let store = stores[i % stores.len()].clone();
        let (key, barrier) = (key.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let t = times(now + i as i64, 60_000, DAY_S);
            claim_ok(&*store, &key, t).await
        }));
    }
    let mut claimed = 0;
    for task in tasks {
        match task.await.unwrap_or_else(|e| panic!("task failed: {e}")) {
            ClaimOutcome::Claimed => claimed += 1,
            ClaimOutcome::InProgress { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(claimed, 1, "exactly one of {n} concurrent claims must win");
}

/// Every concurrent idempotency behaviour (8 workers, spread over `stores`).
pub async fn idempotency_concurrency_contract<S: IdempotencyStore + 'static>(stores: &[Arc<S>]) {
    concurrent_claims_have_one_winner(stores, 8).await;
}
