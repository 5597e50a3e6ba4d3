//! Loss path (#13): a message whose claim is held by a process that died
//! (a live lease, e.g. after SIGKILL) used to be received every 2 s, find
//! the lease, and be dead-lettered after 5 receives, long before the lease
//! ended: acknowledged, then lost. It must wait for the lease, without
//! spending receives, and then be processed.

mod common;

use std::time::Duration;

use common::{free_port, notification, post, start, wait_for};
use triage_core::ports::{ClaimOutcome, ClaimTimes, DedupeKey, IdempotencyStore};

#[tokio::test]
async fn a_claim_held_by_a_dead_process_is_waited_out_not_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    // A process that died while holding the claim on m1: its lease runs
    // 14 s, longer than five receives two seconds apart.
    {
        let store = triage_sqlite::SqliteDb::open(&db).unwrap().store();
        let now = triage_clock::now_ms();
        let claimed = store
            .claim(
                &DedupeKey {
                    grant_id: "grant-e2e".into(),
                    message_id: "m1".into(),
                },
                ClaimTimes {
                    now_ms: now,
                    lease_until_ms: now + 14_000,
                    expires_at_s: now / 1000 + 3600,
                },
            )
            .await
            .unwrap();
        assert_eq!(claimed, ClaimOutcome::Claimed);
    }
    let server = start(&db, free_port(), None, &[]);
    let client = reqwest::Client::new();
    let n = notification(
        "message.created",
        "m1",
        "t1",
        "Site is down",
        Some("<p>Outage</p>"),
    );
    assert_eq!(post(&client, &server.base, &n).await.unwrap(), 200);

    // Past the old dead-lettering point (about 8 s), still queued, not dead.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("--db")
        .arg(&db)
        .arg("--json")
        .args(["dlq", "inspect"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown["count"], 0,
        "dead-lettered while the lease was live: {shown}"
    );

    // After the lease: taken over and made into a ticket, no manual step.
    let tickets = wait_for(&client, &server.base, |t| !t.is_empty()).await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["message_id"], "m1");
}
