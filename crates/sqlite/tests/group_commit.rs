//! Group commit through the public API: concurrent queue sends that wait
//! together share one transaction, and every acknowledged send is in the
//! file.

use std::sync::Arc;

use tempfile::TempDir;
use triage_core::envelope::QueuedMessage;
use triage_core::ports::NotificationQueue;
use triage_sqlite::SqliteDb;

fn temp_db() -> (TempDir, SqliteDb) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDb::open(dir.path().join("gc/triage.db")).expect("open db");
    (dir, db)
}

fn message(i: usize) -> QueuedMessage {
    QueuedMessage {
        entry_id: format!("e{i}"),
        body: format!(r#"{{"envelope_version":1,"n":{i}}}"#),
        attributes: vec![("message_id", format!("m-{i}"))],
        refetch: false,
    }
}

/// 64 sends arrive while another process holds the write lock: once it is
/// free they commit in at most two transactions (the one already waiting
/// for the lock, then all the rest), and all 64 messages are in the file,
/// also for a second connection opened afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_share_transactions() {
    let (dir, db) = temp_db();
    let q = Arc::new(db.queue());
    let other = rusqlite::Connection::open(dir.path().join("gc/triage.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    let before = db.write_stats();
    let n = 64;
    let sends: Vec<_> = (0..n)
        .map(|i| {
            let q = q.clone();
            tokio::spawn(async move { q.send_all(&[message(i)]).await })
        })
        .collect();
    while db.write_stats().submitted < before.submitted + n as u64 {
        tokio::task::yield_now().await;
    }
    other.execute_batch("ROLLBACK").unwrap();
    for send in sends {
        send.await.unwrap().unwrap();
    }

    let after = db.write_stats();
    let commits = after.commits - before.commits;
    assert_eq!(after.committed_writes - before.committed_writes, n as u64);
    assert!(
        (1..=2).contains(&commits),
        "{commits} commits for {n} sends"
    );

    drop(db);
    let reopened = SqliteDb::open(dir.path().join("gc/triage.db")).unwrap();
    assert_eq!(reopened.queue().depth(i64::MAX).await.unwrap(), n as u64);
}
