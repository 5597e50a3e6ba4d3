//! The contract every reconciliation store meets (SQLite, DynamoDB):
//! cursors per provider and grant, and "known" from the idempotency records.

use triage_core::ports::{ClaimTimes, DedupeKey, IdempotencyStore};
use triage_core::reconcile::{KnownMessages, ReconcileCursors};

use crate::unique_name;

const NOW_MS: i64 = 1_764_547_200_000;

/// Cursors start absent, are overwritten, and are kept apart per provider
/// and per grant.
pub async fn cursors<C: ReconcileCursors>(store: &C) {
    let grant = unique_name("g");
    assert_eq!(store.cursor("nylas", &grant).await.unwrap(), None);
    store.set_cursor("nylas", &grant, 100).await.unwrap();
    store.set_cursor("nylas", &grant, 200).await.unwrap();
    assert_eq!(store.cursor("nylas", &grant).await.unwrap(), Some(200));
    assert_eq!(store.cursor("other", &grant).await.unwrap(), None);
    assert_eq!(
        store.cursor("nylas", &unique_name("g")).await.unwrap(),
        None
    );
}

/// A message with a live record (in progress or completed) is known; one
/// without a record, or whose record expired, is not; answers keep the
/// order of the keys, duplicates included.
pub async fn known<S: IdempotencyStore + KnownMessages>(store: &S) {
    let grant = unique_name("g");
    let key = |id: &str| DedupeKey {
        grant_id: grant.clone(),
        message_id: id.to_string(),
    };
    let now_s = NOW_MS / 1000;
    let live = ClaimTimes {
        now_ms: NOW_MS,
        lease_until_ms: NOW_MS + 60_000,
        expires_at_s: now_s + 3_600,
    };
    store.claim(&key("claimed"), live).await.unwrap();
    store.claim(&key("done"), live).await.unwrap();
    store
        .complete(&key("done"), "created:t1", now_s + 3_600)
        .await
        .unwrap();
    let expired = ClaimTimes {
        expires_at_s: now_s - 10,
        ..live
    };
    store.claim(&key("expired"), expired).await.unwrap();
    let keys = [
        key("claimed"),
        key("never"),
        key("done"),
        key("expired"),
        key("claimed"),
    ];
    assert_eq!(
        store.known(&keys, now_s).await.unwrap(),
        [true, false, true, false, true]
    );
    // Many keys at once (more than one batch of the DynamoDB adapter).
    let many: Vec<DedupeKey> = (0..150).map(|i| key(&format!("m{i}"))).collect();
    assert!(store.known(&many, now_s).await.unwrap().iter().all(|k| !k));
}

/// Both suites.
pub async fn reconcile_store_contract<S: IdempotencyStore + KnownMessages + ReconcileCursors>(
    store: &S,
) {
    cursors(store).await;
    known(store).await;
}
