//! Both stores together ([`pipeline_exactly_once`]): the worker's claim ->
//! write -> complete loop run by concurrent workers over an at-least-once
//! queue, with duplicates, crashes and transient errors, records every
//! message on its ticket exactly once.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use triage_core::ports::{ClaimOutcome, DedupeKey, IdempotencyStore, TicketStore};
use triage_core::ticket::{Ticket, TicketWrite};

use super::{DAY_S, now_ms, sample_ticket, tickets_of, times};
use crate::unique_name;

/// Shape of [`pipeline_exactly_once`].
#[derive(Debug, Clone, Copy)]
pub struct PipelineSpec {
    /// Concurrent workers.
    pub workers: usize,
    /// Distinct threads (= expected tickets).
    pub threads: usize,
    /// Messages per thread (= expected `message_count` of each ticket).
    pub messages_per_thread: usize,
    /// Deliveries of each message (at-least-once queue).
    pub deliveries: usize,
    /// Every `crash_every`-th message's first processing "crashes" after the
    /// ticket write (no complete, no release, lease left to expire) and is
    /// redelivered; 0 = never.
    pub crash_every: usize,
}

impl Default for PipelineSpec {
    /// 8 workers, 100 single-message threads, 3 deliveries each, a crash
    /// every 7th message.
    fn default() -> Self {
        PipelineSpec {
            workers: 8,
            threads: 100,
            messages_per_thread: 1,
            deliveries: 3,
            crash_every: 7,
        }
    }
}

/// What [`pipeline_exactly_once`] observed, for extra assertions.
#[derive(Debug, Clone, Default)]
pub struct PipelineReport {
    pub created: usize,
    pub appended: usize,
    pub already_recorded: usize,
    pub completed_duplicates: usize,
    pub in_progress_requeues: usize,
    pub crashes: usize,
    pub transient_errors: usize,
}

/// The worker's loop run by `spec.workers` tasks (worker `w` uses
/// `idems[w % len]` and `ticket_stores[w % len]`) over a queue holding every
/// message `spec.deliveries` times (duplicates side by side, so they race):
/// claim -> write -> complete, `InProgress` -> requeue, `Completed` -> drop,
/// transient error -> release + requeue. Asserts exactly `threads` tickets,
/// each with exactly its messages once, and exactly one `Created` per
/// thread and one `Appended` per later message.
pub async fn pipeline_exactly_once<I, T>(
    idems: &[Arc<I>],
    ticket_stores: &[Arc<T>],
    spec: PipelineSpec,
) -> PipelineReport
where
    I: IdempotencyStore + 'static,
    T: TicketStore + 'static,
{
    assert!(
        !idems.is_empty() && !ticket_stores.is_empty(),
        "at least one store of each"
    );
    let grant = unique_name("grant");
    let base = 1_700_000_000i64;
    let messages: Arc<Vec<Ticket>> = Arc::new(
        (0..spec.threads)
            .flat_map(|th| (0..spec.messages_per_thread).map(move |k| (th, k)))
            .map(|(th, k)| {
                let mid = format!("m-{th:04}-{k:02}");
                let mut t =
                    sample_ticket(&grant, &mid, Some(&format!("th-{th:04}")), base + k as i64);
                t.thread_keys = vec![format!("{mid}@mail.example.com")];
                if k > 0 {
                    t.thread_keys.push(format!("m-{th:04}-00@mail.example.com"));
                }
                t
            })
            .collect(),
    );
    let queue: VecDeque<usize> = (0..messages.len())
        .flat_map(|i| std::iter::repeat_n(i, spec.deliveries))
        .collect();
    let pending = Arc::new(AtomicUsize::new(queue.len()));
    let queue = Arc::new(tokio::sync::Mutex::new(queue));
    let crashed: Arc<Vec<AtomicBool>> = Arc::new(
        (0..messages.len())
            .map(|_| AtomicBool::new(false))
            .collect(),
    );

    let mut workers = Vec::new();
    for w in 0..spec.workers {
        let (idem, tickets, messages, queue, pending, crashed) = (
            idems[w % idems.len()].clone(),
            ticket_stores[w % ticket_stores.len()].clone(),
            messages.clone(),
            queue.clone(),
            pending.clone(),
            crashed.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut report = PipelineReport::default();
            let mut idle_rounds = 0u32;
            while pending.load(Ordering::SeqCst) > 0 {
                let next = queue.lock().await.pop_front();
                let Some(i) = next else {
                    idle_rounds += 1;
                    assert!(idle_rounds < 20_000, "pipeline stalled");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                };
                let msg = &messages[i];
                let key = DedupeKey {
                    grant_id: msg.grant_id.clone(),
                    message_id: msg.message_id.clone(),
                };
                let crash = spec.crash_every > 0
                    && i % spec.crash_every == 0
                    && !crashed[i].swap(true, Ordering::SeqCst);
                let now = now_ms();
                // A crashing worker's lease is over by the time the message
                // comes back (simulated by a lease that already ended).
                let t = if crash {
                    times(now, -1, DAY_S)
                } else {
                    times(now, 60_000, DAY_S)
                };
                match idem.claim(&key, t).await {
                    Ok(ClaimOutcome::Claimed) => {}
                    Ok(ClaimOutcome::Completed { .. }) => {
                        report.completed_duplicates += 1;
                        pending.fetch_sub(1, Ordering::SeqCst);
                        continue;
                    }
                    Ok(ClaimOutcome::InProgress { .. }) => {
                        report.in_progress_requeues += 1;
                        queue.lock().await.push_back(i);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    Err(e) => {
                        assert!(e.is_transient(), "claim of {} failed: {e}", key.as_key());
                        report.transient_errors += 1;
                        queue.lock().await.push_back(i);
                        continue;
                    }
                }
                let written = match tickets.write(msg).await {
                    Ok(w) => w,
                    Err(e) => {
                        assert!(e.is_transient(), "write of {} failed: {e}", key.as_key());
                        report.transient_errors += 1;
                        release_ok(&*idem, &key).await;
                        queue.lock().await.push_back(i);
                        continue;
                    }
                };
                let outcome = match &written {
                    TicketWrite::Created { ticket_id } => {
                        report.created += 1;
                        format!("created:{ticket_id}")
                    }
                    TicketWrite::Appended { ticket_id, .. } => {
                        report.appended += 1;
                        format!("appended:{ticket_id}")
                    }
                    TicketWrite::AlreadyRecorded { ticket_id } => {
                        report.already_recorded += 1;
                        format!("already:{ticket_id}")
                    }
                };
                if crash {
                    report.crashes += 1;
                    queue.lock().await.push_back(i);
                    continue;
                }
                match idem.complete(&key, &outcome, now / 1000 + DAY_S).await {
                    Ok(()) => {
                        pending.fetch_sub(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        assert!(e.is_transient(), "complete of {} failed: {e}", key.as_key());
                        report.transient_errors += 1;
                        release_ok(&*idem, &key).await;
                        queue.lock().await.push_back(i);
                    }
                }
            }
            report
        }));
    }

    let mut total = PipelineReport::default();
    for w in workers {
        let r = w.await.unwrap_or_else(|e| panic!("worker failed: {e}"));
        total.created += r.created;
        total.appended += r.appended;
        total.already_recorded += r.already_recorded;
        total.completed_duplicates += r.completed_duplicates;
        total.in_progress_requeues += r.in_progress_requeues;
        total.crashes += r.crashes;
        total.transient_errors += r.transient_errors;
    }

    let stored = tickets_of(&*ticket_stores[0], &grant).await;
    assert_eq!(
        stored.len(),
        spec.threads,
        "one ticket per thread ({total:?})"
    );
    let mut by_thread: HashMap<String, &Ticket> = HashMap::new();
    for t in &stored {
        let thread = t.thread_id.clone().unwrap_or_default();
        assert!(
            by_thread.insert(thread.clone(), t).is_none(),
            "two tickets for {thread}"
        );
        assert_eq!(
            t.message_count as usize, spec.messages_per_thread,
            "ticket {} of {thread}: {:?} ({total:?})",
            t.id, t.message_ids
        );
        let ids: BTreeSet<&String> = t.message_ids.iter().collect();
        assert_eq!(
            ids.len(),
            t.message_ids.len(),
            "duplicate message id on {}",
            t.id
        );
        let expected: BTreeSet<String> = (0..spec.messages_per_thread)
            .map(|k| format!("m-{}-{k:02}", thread.trim_start_matches("th-")))
            .collect();
        assert_eq!(ids, expected.iter().collect(), "messages of {thread}");
    }
    assert_eq!(total.created, spec.threads, "{total:?}");
    assert_eq!(
        total.appended,
        spec.threads * spec.messages_per_thread.saturating_sub(1),
        "{total:?}"
    );
    total
}

async fn release_ok<S: IdempotencyStore>(store: &S, key: &DedupeKey) {
    if let Err(e) = store.release(key).await {
        assert!(e.is_transient(), "release of {} failed: {e}", key.as_key());
    }
}
