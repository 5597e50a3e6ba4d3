//! The shared store contract (`triage_testkit::contract`) against the SQLite
//! store, on a file database in a temporary directory, plus SQLite
//! specifics (layout, persistence, several connections on one file).

use std::sync::Arc;

use tempfile::TempDir;
use triage_core::ports::{
    ClaimOutcome, DedupeKey, IdempotencyStore, StoreError, TicketFilter, TicketStore,
};
use triage_core::threading::Signal;
use triage_core::ticket::{Priority, TicketStatus, TicketWrite};
use triage_sqlite::{SCHEMA_VERSION, SqliteDb, SqliteError, SqliteStore};
use triage_testkit::contract::{self, DAY_S, PipelineSpec, ThreadBy, now_ms, times};
use triage_testkit::unique_name;

/// A fresh database file in its own temporary directory (kept alive by the
/// returned `TempDir`), in a subdirectory that does not exist yet.
fn temp_db() -> (TempDir, SqliteDb) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDb::open(dir.path().join("nested/.triage/triage.db")).expect("open db");
    (dir, db)
}

fn store(db: &SqliteDb) -> Arc<SqliteStore> {
    Arc::new(db.store())
}

/// `n` stores, each on its own independently opened connection to the same
/// file: like `n` processes.
fn processes(dir: &TempDir, n: usize) -> Vec<Arc<SqliteStore>> {
    (0..n)
        .map(|_| {
            let db = SqliteDb::open(dir.path().join("nested/.triage/triage.db")).expect("reopen");
            Arc::new(db.store())
        })
        .collect()
}

// ---------------------------------------------------------------- contract

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn idempotency_contract() {
    let (_dir, db) = temp_db();
    contract::idempotency_contract(&*store(&db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn idempotency_concurrent_claims_one_process() {
    let (_dir, db) = temp_db();
    contract::idempotency_concurrency_contract(&[store(&db)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn idempotency_concurrent_claims_8_processes() {
    let (dir, _db) = temp_db();
    contract::idempotency_concurrency_contract(&processes(&dir, 8)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_contract() {
    let (_dir, db) = temp_db();
    contract::tickets_contract(&*store(&db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_concurrency_one_process() {
    let (_dir, db) = temp_db();
    contract::tickets_concurrency_contract(&[store(&db)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_concurrency_8_processes() {
    let (dir, _db) = temp_db();
    contract::tickets_concurrency_contract(&processes(&dir, 8)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_concurrent_new_thread_8_processes_by_thread_id() {
    let (dir, _db) = temp_db();
    contract::concurrent_new_thread_one_ticket(&processes(&dir, 8), 8, ThreadBy::ThreadId).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_concurrent_new_thread_8_processes_by_thread_key() {
    let (dir, _db) = temp_db();
    contract::concurrent_new_thread_one_ticket(&processes(&dir, 8), 8, ThreadBy::ThreadKey).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_concurrent_duplicates_8_processes() {
    let (dir, _db) = temp_db();
    contract::concurrent_duplicates_count_once(&processes(&dir, 8), 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn threading_contract() {
    let (_dir, db) = temp_db();
    triage_testkit::threading_contract::threading_contract(&*store(&db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn threading_concurrency_one_process() {
    let (_dir, db) = temp_db();
    triage_testkit::threading_contract::threading_concurrency_contract(&[store(&db)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn threading_concurrency_8_processes() {
    let (dir, _db) = temp_db();
    triage_testkit::threading_contract::threading_concurrency_contract(&processes(&dir, 8)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn pipeline_8_workers_100_messages_3_deliveries() {
    let (_dir, db) = temp_db();
    let s = [store(&db)];
    let report = contract::pipeline_exactly_once(&s, &s, PipelineSpec::default()).await;
    eprintln!("{report:?}");
    assert_eq!(report.created, 100);
    assert!(report.crashes > 0, "the crash path ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn pipeline_threads_of_five() {
    let (_dir, db) = temp_db();
    let s = [store(&db)];
    let spec = PipelineSpec {
        workers: 8,
        threads: 20,
        messages_per_thread: 5,
        deliveries: 3,
        crash_every: 5,
    };
    let report = contract::pipeline_exactly_once(&s, &s, spec).await;
    eprintln!("{report:?}");
    assert_eq!(report.appended, 80);
}

/// Workers spread over 4 independently opened databases on one file, for
/// idempotency and tickets alike (4 processes).
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn pipeline_threads_of_three_4_processes() {
    let (dir, _db) = temp_db();
    let stores = processes(&dir, 4);
    let spec = PipelineSpec {
        workers: 8,
        threads: 10,
        messages_per_thread: 3,
        deliveries: 3,
        crash_every: 4,
    };
    let report = contract::pipeline_exactly_once(&stores, &stores, spec).await;
    eprintln!("{report:?}");
    assert_eq!(report.appended, 20);
}

/// The sequential contracts pass on the in-memory database too.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn in_memory_contracts() {
    let db = SqliteDb::open_in_memory().expect("in-memory db");
    let s = [store(&db)];
    contract::idempotency_contract(&*s[0]).await;
    contract::tickets_contract(&*s[0]).await;
    contract::tickets_concurrency_contract(&s).await;
    contract::idempotency_concurrency_contract(&s).await;
    triage_testkit::threading_contract::threading_contract(&*s[0]).await;
    assert_eq!(db.path(), None);
}

// ---------------------------------------------------------------- SQLite specifics

/// `complete` on a record that vanished records the outcome anyway.
#[tokio::test]
async fn complete_after_record_vanished_records_outcome() {
    let (_dir, db) = temp_db();
    let s = db.store();
    let key = DedupeKey {
        grant_id: unique_name("g"),
        message_id: "m1".into(),
    };
    let now = now_ms();
    s.complete(&key, "created:t_x", now / 1000 + DAY_S)
        .await
        .unwrap();
    assert_eq!(
        s.claim(&key, times(now, 60_000, DAY_S)).await.unwrap(),
        ClaimOutcome::Completed {
            outcome: "created:t_x".into()
        }
    );
}

/// Records and tickets survive closing and reopening the file; the schema
/// version is stored; purge removes only expired records.
#[tokio::test]
async fn data_survives_reopen_and_purge_is_selective() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    let grant = unique_name("g");
    let live = DedupeKey {
        grant_id: grant.clone(),
        message_id: "live".into(),
    };
    let old = DedupeKey {
        grant_id: grant.clone(),
        message_id: "old".into(),
    };
    let now = now_ms();
    let first = contract::sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    {
        let db = SqliteDb::open(&path).unwrap();
        let s = db.store();
        s.claim(&live, times(now, 60_000, DAY_S)).await.unwrap();
        s.complete(&live, "created:t_1", now / 1000 + DAY_S)
            .await
            .unwrap();
        s.claim(&old, times(now, 60_000, -10)).await.unwrap();
        s.write(&first).await.unwrap();
    }
    let db = SqliteDb::open(&path).unwrap();
    assert_eq!(db.schema_version().await.unwrap(), SCHEMA_VERSION);
    let s = db.store();
    assert_eq!(
        s.claim(&live, times(now + 1, 60_000, DAY_S)).await.unwrap(),
        ClaimOutcome::Completed {
            outcome: "created:t_1".into()
        }
    );
    let second = contract::sample_ticket(&grant, "m2", Some("th1"), 1_700_000_100);
    assert_eq!(
        s.write(&second).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: first.id.clone(),
            signal: Signal::ThreadId
        }
    );
    assert_eq!(
        s.purge_expired_idempotency(now / 1000).await.unwrap(),
        1,
        "only the record past its TTL"
    );
    assert!(matches!(
        s.claim(&live, times(now + 2, 60_000, DAY_S)).await.unwrap(),
        ClaimOutcome::Completed { .. }
    ));
}

/// A database written by a newer build is refused, not misread.
#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    drop(SqliteDb::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let err = SqliteDb::open(&path).unwrap_err();
    assert!(
        matches!(err, SqliteError::SchemaTooNew { found, known } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
        "{err:?}"
    );
    let store_err = StoreError::from(err);
    assert!(!store_err.is_transient());
}

/// Rows have the documented layout: ticket columns, JSON for nested
/// values, pointers by kind, the append pin, WAL mode.
#[tokio::test]
async fn rows_have_the_documented_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    let db = SqliteDb::open(&path).unwrap();
    let s = db.store();
    let grant = unique_name("g");
    let mut first = contract::sample_ticket(&grant, "m1", Some(" th1 "), 1_700_000_000);
    first.thread_keys = vec![
        "root@example.com".into(),
        "root@example.com".into(),
        " ".into(),
    ];
    s.write(&first).await.unwrap();
    let second = contract::sample_ticket(&grant, "m2", Some("th1"), 1_700_000_050);
    s.write(&second).await.unwrap();

    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let (count, ids, last, requester, thread): (i64, String, i64, String, Option<String>) = conn
        .query_row(
            "SELECT message_count, message_ids, last_message_at, requester, thread_id \
             FROM tickets WHERE id = ?1",
            [&first.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(ids, r#"["m1","m2"]"#);
    assert_eq!(last, 1_700_000_050);
    assert!(
        requester.contains(r#""email":"ann@example.com""#),
        "{requester}"
    );
    assert_eq!(
        thread.as_deref(),
        Some(" th1 "),
        "thread_id stored as given"
    );

    let pointers: Vec<(String, String, String)> = {
        let mut st = conn
            .prepare(
                "SELECT kind, ptr_key, ticket_id FROM ticket_pointers WHERE grant_id = ?1 \
                 ORDER BY kind, ptr_key",
            )
            .unwrap();
        st.query_map([&grant], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(
        pointers,
        vec![
            ("msgid".into(), "root@example.com".into(), first.id.clone()),
            ("seen".into(), "m2".into(), first.id.clone()),
            ("thread".into(), "th1".into(), first.id.clone()),
        ],
        "trimmed thread pointer, one pointer per distinct key, blank keys skipped"
    );
    let sender: Option<String> = conn
        .query_row(
            "SELECT sender FROM tickets WHERE id = ?1",
            [&first.id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sender.as_deref(), Some("ann@example.com"));
    // The new ticket's subject pointer (a digest); the append adds none.
    let subjects: Vec<(String, String)> = {
        let mut st = conn
            .prepare("SELECT subject_key, ticket_id FROM ticket_subjects WHERE grant_id = ?1")
            .unwrap();
        st.query_map([&grant], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let key = triage_core::threading::subject_key(&first.subject).unwrap();
    assert_eq!(subjects, vec![(key, first.id.clone())]);
}

/// A row whose priority or status names no known value (written by hand,
/// or by a newer version) is skipped by listings, with a warning; the
/// other rows still list. Stored names are the enums' `as_str`.
#[tokio::test]
async fn a_row_with_an_unknown_priority_or_status_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    let db = SqliteDb::open(&path).unwrap();
    let s = db.store();
    let grant = unique_name("g");
    let mut tickets = Vec::new();
    for (i, priority) in [Priority::High, Priority::Low, Priority::Medium]
        .into_iter()
        .enumerate()
    {
        let mut t = contract::sample_ticket(&grant, &format!("m{i}"), None, 1_700_000_000);
        t.priority = priority;
        s.write(&t).await.unwrap();
        tickets.push(t);
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let stored: (String, String) = conn
        .query_row(
            "SELECT priority, status FROM tickets WHERE id = ?1",
            [&tickets[0].id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(stored, ("high".to_string(), "new".to_string()));
    conn.execute(
        "UPDATE tickets SET priority = 'urgent' WHERE id = ?1",
        [&tickets[0].id],
    )
    .unwrap();
    conn.execute(
        "UPDATE tickets SET status = 'closed' WHERE id = ?1",
        [&tickets[1].id],
    )
    .unwrap();
    let listed: Vec<String> = s
        .list(&TicketFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.grant_id == grant)
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, vec![tickets[2].id.clone()]);
    let medium = s
        .list(&TicketFilter {
            priority: Some(Priority::Medium),
            status: Some(TicketStatus::New),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(medium.len(), 1);
    assert_eq!(medium[0], tickets[2]);
}

/// The outbox's `message.added` event says which signal joined the
/// message; a ticket opened because a stranger copied a subject carries
/// the reason in its rules and its `ticket.created` event.
#[tokio::test]
async fn threading_shows_in_the_events() {
    use triage_testkit::threading_contract::mail;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    let db = SqliteDb::open(&path).unwrap();
    let s = db.store();
    let grant = unique_name("g");
    let subject = "Order 1234 never arrived";
    let first = mail(&grant, "m1", "ann@example.com", subject, 1_700_000_000);
    let reply = mail(
        &grant,
        "m2",
        "ann@example.com",
        "RE: order 1234 never arrived",
        1_700_000_100,
    );
    let eve = mail(&grant, "m3", "eve@evil.example", subject, 1_700_000_200);
    for t in [&first, &reply, &eve] {
        s.write(t).await.unwrap();
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let event = |ticket: &str, kind: &str| -> serde_json::Value {
        let json: String = conn
            .query_row(
                "SELECT event FROM outbox WHERE ticket_id = ?1 AND event LIKE ?2",
                (ticket, format!("%\"type\":\"{kind}\"%")),
                |r| r.get(0),
            )
            .unwrap();
        serde_json::from_str(&json).unwrap()
    };
    let added = event(&first.id, "message.added");
    assert_eq!(added["thread_signal"], "subject");
    assert_eq!(added["message_id"], "m2");
    let created = event(&eve.id, "ticket.created");
    assert!(created.get("thread_signal").is_none(), "{created}");
    assert!(
        created["rules"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("thread")),
        "{created}"
    );
    let rules: String = conn
        .query_row(
            "SELECT applied_rules FROM tickets WHERE id = ?1",
            [&eve.id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        rules.contains("new: sender is not a participant of the subject match"),
        "{rules}"
    );
}

/// A pointer naming a ticket that does not exist is a permanent error
/// that names the ticket.
#[tokio::test]
async fn dangling_pointer_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    let db = SqliteDb::open(&path).unwrap();
    let grant = unique_name("g");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO ticket_pointers (grant_id, kind, ptr_key, ticket_id) \
             VALUES (?1, 'thread', 'th1', 't_missing')",
            [&grant],
        )
        .unwrap();
    }
    let t = contract::sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    let err = db.store().write(&t).await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains("t_missing"), "{err}");
    assert!(
        !err.to_string().contains("Réservation"),
        "no content in errors: {err}"
    );
    assert!(
        db.store()
            .list(&TicketFilter::default())
            .await
            .unwrap()
            .iter()
            .all(|x| x.grant_id != grant),
        "the failed write left nothing behind"
    );
}

/// The stores work when polled outside a tokio runtime (no panic).
#[test]
fn works_without_a_tokio_runtime() {
    let db = SqliteDb::open_in_memory().unwrap();
    let s = db.store();
    let key = DedupeKey {
        grant_id: unique_name("g"),
        message_id: "m".into(),
    };
    let fut = s.claim(&key, times(now_ms(), 60_000, DAY_S));
    let out = block_on(fut).unwrap();
    assert_eq!(out, ClaimOutcome::Claimed);
}

/// A minimal executor for futures that complete without waking.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[tokio::test]
async fn acknowledgement_ledger_contract() {
    let store = SqliteDb::open_in_memory().unwrap().store();
    triage_testkit::ack_contract::ack_ledger_contract(&store).await;
}

#[tokio::test]
async fn reconciliation_store_contract() {
    let store = SqliteDb::open_in_memory().unwrap().store();
    triage_testkit::reconcile_contract::reconcile_store_contract(&store).await;
}

/// `triage stats`' figures: the ledger per mailbox adds up, and a second
/// ticket for one message (an idempotency violation) is counted.
#[tokio::test]
async fn stats_show_the_ledger_and_count_duplicate_tickets() {
    use triage_core::envelope::QueuedMessage;
    use triage_core::ports::{ClaimTimes, NotificationQueue};

    let (dir, db) = temp_db();
    let s = db.store();
    let now = now_ms();
    let grant = "grant-stats";
    for m in ["m1", "m2"] {
        let key = DedupeKey {
            grant_id: grant.into(),
            message_id: m.into(),
        };
        let t = ClaimTimes {
            now_ms: now,
            lease_until_ms: now + 60_000,
            expires_at_s: now / 1000 + DAY_S,
        };
        s.claim(&key, t).await.unwrap();
        let ticket = contract::sample_ticket(grant, m, None, now / 1000);
        s.write(&ticket).await.unwrap();
        s.complete(&key, &format!("created:{}", ticket.id), now / 1000 + DAY_S)
            .await
            .unwrap();
    }
    let skipped = DedupeKey {
        grant_id: grant.into(),
        message_id: "auto".into(),
    };
    let t = ClaimTimes {
        now_ms: now,
        lease_until_ms: now + 60_000,
        expires_at_s: now / 1000 + DAY_S,
    };
    s.claim(&skipped, t).await.unwrap();
    s.complete(&skipped, "skipped:auto_reply", now / 1000 + DAY_S)
        .await
        .unwrap();
    db.queue()
        .send_all(&[QueuedMessage {
            entry_id: "e".into(),
            body: "{}".into(),
            attributes: vec![("grant_id", grant.into())],
            refetch: false,
        }])
        .await
        .unwrap();

    let stats = s.stats(now).await.unwrap();
    assert_eq!(stats.mailboxes.len(), 1);
    let l = &stats.mailboxes[0];
    assert_eq!(l.grant_id, grant);
    assert_eq!((l.triaged, l.tickets, l.skipped, l.queued), (3, 2, 1, 1));
    assert_eq!((l.received(), l.gap()), (4, 1));
    assert_eq!(stats.tickets, 2);
    assert_eq!(stats.duplicate_tickets, 0);
    assert_eq!(stats.message_to_ticket.count, 2);

    // A second ticket for m1, as a broken deduplication would make.
    let conn = rusqlite::Connection::open(dir.path().join("nested/.triage/triage.db")).unwrap();
    conn.execute_batch(
        "CREATE TEMP TABLE dup AS SELECT * FROM tickets WHERE message_id = 'm1';
         UPDATE dup SET id = 'dup-ticket';
         INSERT INTO tickets SELECT * FROM dup;",
    )
    .unwrap();
    let stats = s.stats(now).await.unwrap();
    assert_eq!(stats.duplicate_tickets, 1, "{stats:?}");
    assert!(stats.duplicates_per_thousand > 0.0);
}
