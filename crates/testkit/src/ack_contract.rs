//! The contract every acknowledgement ledger meets (SQLite, DynamoDB):
//! once per ticket, and a per-sender window with a limit.

use triage_core::acknowledgement::AckLedger;

use crate::unique_name;

/// `record_once` says "first" exactly once per key.
pub async fn once_per_key<L: AckLedger>(ledger: &L) {
    let key = format!("ack#{}", unique_name("t"));
    assert!(ledger.record_once(&key, 2_000_000_000).await.unwrap());
    assert!(!ledger.record_once(&key, 2_000_000_000).await.unwrap());
    let other = format!("ack#{}", unique_name("t"));
    assert!(ledger.record_once(&other, 2_000_000_000).await.unwrap());
}

/// `limit` slots per window; a new window after it ends; keys independent.
pub async fn sender_window<L: AckLedger>(ledger: &L) {
    let key = format!("ack-sender#{}", unique_name("s"));
    let day = 86_400;
    let t0 = 1_764_547_200;
    assert!(ledger.take_sender_slot(&key, 2, t0, day).await.unwrap());
    assert!(
        ledger
            .take_sender_slot(&key, 2, t0 + 10, day)
            .await
            .unwrap()
    );
    assert!(
        !ledger
            .take_sender_slot(&key, 2, t0 + 20, day)
            .await
            .unwrap()
    );
    assert!(
        !ledger
            .take_sender_slot(&key, 2, t0 + day - 1, day)
            .await
            .unwrap()
    );
    // The window started at t0 ends at t0 + day.
    assert!(
        ledger
            .take_sender_slot(&key, 2, t0 + day, day)
            .await
            .unwrap()
    );
    let other = format!("ack-sender#{}", unique_name("s"));
    assert!(
        ledger
            .take_sender_slot(&other, 1, t0 + 30, day)
            .await
            .unwrap()
    );
    assert!(
        !ledger
            .take_sender_slot(&other, 1, t0 + 31, day)
            .await
            .unwrap()
    );
}

/// Every case.
pub async fn ack_ledger_contract<L: AckLedger>(ledger: &L) {
    once_per_key(ledger).await;
    sender_window(ledger).await;
}
