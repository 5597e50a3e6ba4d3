//! The concurrent part of the [`TicketStore`] contract
//! ([`tickets_concurrency_contract`]): the messages of one new thread
//! written at once make one ticket, and concurrent deliveries of one
//! message count once.

use std::sync::Arc;

use triage_core::ports::TicketStore;
use triage_core::ticket::{Ticket, TicketWrite};

use super::{only_ticket, sample_ticket, sorted, write_ok};
use crate::unique_name;

/// How the messages of a concurrently written new thread find each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadBy {
    /// Same provider thread id.
    ThreadId,
    /// No thread id; all reference the same root Message-ID.
    ThreadKey,
}

/// Write every message at once (released together by a barrier), the
/// `i`-th through `stores[i % stores.len()]`; the outcomes in order.
pub(crate) async fn write_at_once<S: TicketStore + 'static>(
    stores: &[Arc<S>],
    messages: &[Ticket],
) -> Vec<TicketWrite> {
    let barrier = Arc::new(tokio::sync::Barrier::new(messages.len()));
    let mut tasks = Vec::new();
    for (i, t) in messages.iter().cloned().enumerate() {
        let (store, barrier) = (stores[i % stores.len()].clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            write_ok(&*store, &t).await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| panic!("task failed: {e}")));
    }
    results
}

/// `n` tasks write `n` different messages of one new thread at once:
/// exactly one ticket, one `Created`, `n - 1` `Appended`, count `n`; then all
/// again at once: all `AlreadyRecorded`, count unchanged.
pub async fn concurrent_new_thread_one_ticket<S: TicketStore + 'static>(
    stores: &[Arc<S>],
    n: usize,
    by: ThreadBy,
) {
    assert!(!stores.is_empty(), "at least one store");
    let store: &S = &stores[0];
    let grant = unique_name("grant");
    let messages: Vec<Ticket> = (0..n)
        .map(|i| {
            let mid = format!("m{i:03}");
            let mut t = match by {
                ThreadBy::ThreadId => {
                    sample_ticket(&grant, &mid, Some("th-race"), 1_700_000_000 + i as i64)
                }
                ThreadBy::ThreadKey => sample_ticket(&grant, &mid, None, 1_700_000_000 + i as i64),
            };
            t.thread_keys = vec![
                format!("{mid}@mail.example.com"),
                "root@mail.example.com".into(),
            ];
            t
        })
        .collect();

    for round in 0..2 {
        let results = write_at_once(stores, &messages).await;
        let stored = only_ticket(store, &grant).await;
        let count = |f: fn(&TicketWrite) -> bool| results.iter().filter(|w| f(w)).count();
        if round == 0 {
            assert_eq!(
                count(|w| matches!(w, TicketWrite::Created { .. })),
                1,
                "{results:?}"
            );
            assert_eq!(
                count(|w| matches!(w, TicketWrite::Appended { .. })),
                n - 1,
                "{results:?}"
            );
        } else {
            assert_eq!(
                count(|w| matches!(w, TicketWrite::AlreadyRecorded { .. })),
                n,
                "{results:?}"
            );
        }
        assert!(
            results.iter().all(|w| w.ticket_id() == stored.id),
            "{results:?}"
        );
        assert_eq!(stored.message_count as usize, n, "round {round}");
        let expected: Vec<String> = sorted(
            &messages
                .iter()
                .map(|t| t.message_id.clone())
                .collect::<Vec<_>>(),
        );
        assert_eq!(sorted(&stored.message_ids), expected, "round {round}");
        assert_eq!(stored.last_message_at, 1_700_000_000 + n as i64 - 1);
    }
}

/// `n` concurrent deliveries of one message (first of a thread, then a
/// second one of the same thread): each recorded once.
pub async fn concurrent_duplicates_count_once<S: TicketStore + 'static>(
    stores: &[Arc<S>],
    n: usize,
) {
    assert!(!stores.is_empty(), "at least one store");
    let store: &S = &stores[0];
    let grant = unique_name("grant");
    let first = sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    let second = sample_ticket(&grant, "m2", Some("th1"), 1_700_000_100);
    for (t, fresh) in [(&first, "created"), (&second, "appended")] {
        let barrier = Arc::new(tokio::sync::Barrier::new(n));
        let mut tasks = Vec::new();
        for i in 0..n {
            let store = stores[i % stores.len()].clone();
            let (barrier, t) = (barrier.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                write_ok(&*store, &t).await
            }));
        }
        let mut fresh_writes = 0;
        for task in tasks {
            match task.await.unwrap_or_else(|e| panic!("task failed: {e}")) {
                TicketWrite::Created { .. } | TicketWrite::Appended { .. } => fresh_writes += 1,
                TicketWrite::AlreadyRecorded { ticket_id } => assert_eq!(ticket_id, first.id),
            }
        }
        assert_eq!(fresh_writes, 1, "exactly one of {n} deliveries is {fresh}");
    }
    let stored = only_ticket(store, &grant).await;
    assert_eq!(stored.message_count, 2);
    assert_eq!(sorted(&stored.message_ids), vec!["m1", "m2"]);
}

/// Every concurrent ticket behaviour (8 writers, spread over `stores`: pass
/// one store, or several independent ones to act as several processes).
pub async fn tickets_concurrency_contract<S: TicketStore + 'static>(stores: &[Arc<S>]) {
    concurrent_new_thread_one_ticket(stores, 8, ThreadBy::ThreadId).await;
    concurrent_new_thread_one_ticket(stores, 8, ThreadBy::ThreadKey).await;
    concurrent_duplicates_count_once(stores, 8).await;
}
