//! The local queue: round trip, visibility, ack, persistence across a
//! restart, dead letters and redrive, concurrent receivers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use triage_core::envelope::QueuedMessage;
use triage_core::ports::NotificationQueue;
use triage_sqlite::{RedriveSelection, SqliteDb, SqliteQueue};

const VIS: Duration = Duration::from_secs(30);

fn temp_db() -> (TempDir, SqliteDb) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDb::open(dir.path().join("q/triage.db")).expect("open db");
    (dir, db)
}

fn message(i: usize) -> QueuedMessage {
    QueuedMessage {
        entry_id: format!("e{i}"),
        body: format!(r#"{{"envelope_version":1,"n":{i},"text":"é ✓ \"quoted\""}}"#),
        attributes: vec![
            ("envelope_version", "1".to_string()),
            ("grant_id", format!("g-{i}")),
            ("message_id", format!("m-{i}")),
            ("type", "message.created".to_string()),
        ],
        refetch: false,
    }
}

fn attrs(m: &QueuedMessage) -> Vec<(String, String)> {
    m.attributes
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn now() -> i64 {
    1_800_000_000_000
}

#[tokio::test]
async fn send_then_receive_gives_same_body_and_attributes() {
    let (_dir, db) = temp_db();
    let q = db.queue();
    let sent: Vec<_> = (0..3).map(message).collect();
    q.send_all(&sent).await.unwrap();
    q.send_all(&[]).await.unwrap();
    assert_eq!(q.depth(now()).await.unwrap(), 3);

    let got = q.receive(10, VIS, now()).await.unwrap();
    assert_eq!(got.len(), 3);
    for (d, m) in got.iter().zip(&sent) {
        assert_eq!(d.body, m.body, "body as sent, in order");
        assert_eq!(d.attributes, attrs(m), "attributes as sent, in order");
        assert_eq!(d.entry_id, m.entry_id);
        assert_eq!(d.receive_count, 1);
        assert_eq!(d.last_error, None);
        assert_eq!(d.attribute("grant_id"), Some(m.attributes[1].1.as_str()));
    }
    assert_eq!(q.depth(now()).await.unwrap(), 0);
    assert_eq!(q.in_flight(now()).await.unwrap(), 3);
}

#[tokio::test]
async fn receive_respects_max() {
    let (_dir, db) = temp_db();
    let q = db.queue();
    q.send_all(&(0..5).map(message).collect::<Vec<_>>())
        .await
        .unwrap();
    assert!(q.receive(0, VIS, now()).await.unwrap().is_empty());
    let a = q.receive(2, VIS, now()).await.unwrap();
    let b = q.receive(2, VIS, now()).await.unwrap();
    let c = q.receive(2, VIS, now()).await.unwrap();
    let bodies =
        |v: &[triage_sqlite::Delivery]| v.iter().map(|d| d.entry_id.clone()).collect::<Vec<_>>();
    assert_eq!(bodies(&a), ["e0", "e1"], "oldest first");
    assert_eq!(bodies(&b), ["e2", "e3"]);
    assert_eq!(bodies(&c), ["e4"]);
}

#[tokio::test]
async fn visibility_timeout_hides_then_redelivers() {
    let (_dir, db) = temp_db();
    let q = db.queue();
    q.send_all(&[message(1)]).await.unwrap();
    let first = q.receive(10, VIS, now()).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        q.receive(10, VIS, now() + 29_999).await.unwrap().is_empty(),
        "hidden while the visibility lasts"
    );
    let again = q.receive(10, VIS, now() + 30_000).await.unwrap();
    assert_eq!(again.len(), 1, "back once the visibility ended");
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(again[0].body, first[0].body);
    assert!(again[0].exceeds(1) && !again[0].exceeds(2));
}

#[tokio::test]
async fn defer_hides_until_then_and_gives_the_receive_back() {
    let (_dir, db) = temp_db();
    let q = db.queue();
    q.send_all(&[message(1)]).await.unwrap();
    let mut id = 0;
    // Deferred again and again (a claim held elsewhere): never counted.
    for round in 0..10 {
        let got = q.receive(10, VIS, now() + round * 1_000).await.unwrap();
        assert_eq!(got.len(), 1, "round {round}");
        assert_eq!(got[0].receive_count, 1, "round {round}");
        id = got[0].id;
        assert!(
            q.defer(id, "in progress elsewhere", now() + round * 1_000 + 500)
                .await
                .unwrap()
        );
        assert!(
            q.receive(10, VIS, now() + round * 1_000 + 499)
                .await
                .unwrap()
                .is_empty(),
            "hidden until the deferral ends"
        );
    }
    assert!(q.ack(id).await.unwrap());
    assert!(
        !q.defer(id, "gone", now()).await.unwrap(),
        "not in the queue"
    );
}

#[tokio::test]
async fn ack_deletes_and_nack_makes_visible_with_reason() {
    let (_dir, db) = temp_db();
    let q = db.queue();
    q.send_all(&[message(1), message(2)]).await.unwrap();
    let got = q.receive(10, VIS, now()).await.unwrap();
    assert!(q.ack(got[0].id).await.unwrap());
    assert!(!q.ack(got[0].id).await.unwrap(), "second ack finds nothing");
    assert!(q.nack(got[1].id, "store throttled").await.unwrap());

    let again = q.receive(10, VIS, now()).await.unwrap();
    assert_eq!(
        again.len(),
        1,
        "the acked one is gone, the nacked one is back"
    );
    assert_eq!(again[0].id, got[1].id);
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(again[0].last_error.as_deref(), Some("store throttled"));

    assert!(
        q.nack_until(again[0].id, "in progress elsewhere", now() + 5_000)
            .await
            .unwrap()
    );
    assert!(q.receive(10, VIS, now() + 4_999).await.unwrap().is_empty());
    assert_eq!(q.receive(10, VIS, now() + 5_000).await.unwrap().len(), 1);
    assert!(!q.nack(9_999_999, "x").await.unwrap());
}

/// Dropping everything and reopening the file keeps every un-acked message:
/// those never received, and those in flight at the "crash", which come back
/// when their visibility ends.
#[tokio::test]
async fn unacked_messages_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    let (in_flight_id, acked_id);
    {
        let db = SqliteDb::open(&path).unwrap();
        let q = db.queue();
        q.send_all(&(0..4).map(message).collect::<Vec<_>>())
            .await
            .unwrap();
        let got = q.receive(2, VIS, now()).await.unwrap();
        acked_id = got[0].id;
        in_flight_id = got[1].id;
        q.ack(acked_id).await.unwrap();
        // No ack for got[1]: the process "dies" here.
    }
    let db = SqliteDb::open(&path).unwrap();
    let q = SqliteQueue::new(db);
    assert_eq!(q.depth(now()).await.unwrap(), 2, "never received");
    assert_eq!(q.in_flight(now()).await.unwrap(), 1, "still hidden");
    let later = q
        .receive(10, VIS, now() + VIS.as_millis() as i64)
        .await
        .unwrap();
    let ids: Vec<i64> = later.iter().map(|d| d.id).collect();
    assert_eq!(later.len(), 3, "{ids:?}");
    assert!(ids.contains(&in_flight_id));
    assert!(!ids.contains(&acked_id));
    let crashed = later.iter().find(|d| d.id == in_flight_id).unwrap();
    assert_eq!(crashed.receive_count, 2);
    assert_eq!(crashed.body, message(1).body);
}

#[tokio::test]
async fn dead_letter_keeps_everything_and_lists_without_body() {
    let (_dir, db) = temp_db();
    let q = db.queue();
    q.send_all(&[message(7), message(8)]).await.unwrap();
    let got = q.receive(10, VIS, now()).await.unwrap();
    assert!(
        q.dead_letter(got[0].id, "envelope version 9 is not supported")
            .await
            .unwrap()
    );
    assert!(
        !q.dead_letter(got[0].id, "again").await.unwrap(),
        "already moved"
    );
    assert_eq!(q.dlq_depth().await.unwrap(), 1);
    assert_eq!(
        q.depth(now() + 60_000).await.unwrap(),
        1,
        "only the other one"
    );

    let listed = q.dlq_list(10).await.unwrap();
    assert_eq!(listed.len(), 1);
    let d = &listed[0];
    assert_eq!(d.id, got[0].id);
    assert_eq!(d.reason, "envelope version 9 is not supported");
    assert_eq!(d.receive_count, 1);
    assert_eq!(d.attributes, attrs(&message(7)));
    let shown = format!("{listed:?}");
    assert!(!shown.contains("quoted"), "no body in the listing: {shown}");
    assert!(q.dlq_list(0).await.unwrap().is_empty());
}

#[tokio::test]
async fn redrive_dry_run_changes_nothing_then_real_redrive_brings_it_back_once() {
    let (_dir, db) = temp_db();
    let q = db.queue();
    q.send_all(&[message(1), message(2), message(3)])
        .await
        .unwrap();
    let got = q.receive(10, VIS, now()).await.unwrap();
    for d in &got {
        q.dead_letter(d.id, "poison").await.unwrap();
    }
    assert_eq!(q.dlq_depth().await.unwrap(), 3);

    let dry = q
        .dlq_redrive(RedriveSelection::Ids(vec![got[1].id, 424_242]), true)
        .await
        .unwrap();
    assert_eq!(dry.len(), 1, "unknown ids are skipped");
    assert_eq!(dry[0].dead_letter_id, got[1].id);
    assert_eq!(dry[0].queue_id, None);
    assert_eq!(q.dlq_depth().await.unwrap(), 3, "dry run changes nothing");
    assert_eq!(
        q.depth(now()).await.unwrap() + q.in_flight(now()).await.unwrap(),
        0
    );

    let moved = q
        .dlq_redrive(RedriveSelection::Ids(vec![got[1].id, got[1].id]), false)
        .await
        .unwrap();
    assert_eq!(moved.len(), 1);
    let new_id = moved[0].queue_id.expect("new queue id");
    assert_ne!(new_id, got[1].id, "ids are never reused");
    assert_eq!(q.dlq_depth().await.unwrap(), 2);
    let again = q
        .dlq_redrive(RedriveSelection::Ids(vec![got[1].id]), false)
        .await
        .unwrap();
    assert!(again.is_empty(), "a redriven message is not redriven twice");

    let back = q.receive(10, VIS, now()).await.unwrap();
    assert_eq!(back.len(), 1, "back exactly once");
    assert_eq!(back[0].id, new_id);
    assert_eq!(back[0].body, message(2).body, "body intact");
    assert_eq!(back[0].attributes, attrs(&message(2)), "attributes intact");
    assert_eq!(back[0].receive_count, 1, "receive count starts over");
    assert_eq!(back[0].last_error.as_deref(), Some("poison"));

    let all = q.dlq_redrive(RedriveSelection::All, false).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(q.dlq_depth().await.unwrap(), 0);
    assert_eq!(q.depth(now()).await.unwrap(), 2);
}

/// 8 receivers over 2 independently opened databases on one file drain 200
/// messages: every message is received exactly once while hidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_receivers_never_share_a_hidden_message() {
    let (dir, db) = temp_db();
    let other = SqliteDb::open(dir.path().join("q/triage.db")).unwrap();
    let queues = [Arc::new(db.queue()), Arc::new(other.queue())];
    let n = 200;
    queues[0]
        .send_all(&(0..n).map(message).collect::<Vec<_>>())
        .await
        .unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let q = queues[w % 2].clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut mine = Vec::new();
            loop {
                let got = q.receive(3, VIS, now()).await.unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|d| (d.id, d.receive_count)));
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for (id, count) in t.await.unwrap() {
            assert_eq!(count, 1, "message {id} received twice");
            assert!(seen.insert(id), "message {id} given to two receivers");
        }
    }
    assert_eq!(seen.len(), n);
    assert_eq!(queues[1].in_flight(now()).await.unwrap(), n as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_all_by_gives_up_at_its_deadline_and_writes_nothing() {
    use std::time::Instant;
    use triage_core::ports::QueueError;

    let (dir, db) = temp_db();
    let q = db.queue();
    // Another process holds the write lock.
    let other = rusqlite::Connection::open(dir.path().join("q/triage.db")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();

    // One write waits for SQLite's lock, the other for the writer
    // connection behind it; both answer by their deadlines.
    let (one, two) = ([message(1)], [message(2)]);
    let started = Instant::now();
    let first = q.send_all_by(&one, Instant::now() + Duration::from_millis(400));
    let second = q.send_all_by(&two, Instant::now() + Duration::from_millis(100));
    let (first, second) = tokio::join!(first, second);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "waited {:?} (the busy timeout is 5 s)",
        started.elapsed()
    );
    assert!(matches!(first, Err(QueueError::Timeout(_))), "{first:?}");
    assert!(matches!(second, Err(QueueError::Timeout(_))), "{second:?}");

    // Once the lock is free, neither shows up late.
    other.execute_batch("ROLLBACK").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        q.depth(now()).await.unwrap(),
        0,
        "a refused send was written"
    );

    q.send_all_by(&[message(3)], Instant::now() + Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(q.depth(now()).await.unwrap(), 1);
}
