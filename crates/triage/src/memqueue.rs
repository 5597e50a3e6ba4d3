//! `--queue memory`: an in-process queue for load tests and demos.
//!
//! Not durable: what it holds is gone when the process exits, so a 200 from
//! `triage serve --queue memory` does not mean the notification survives a
//! crash (the default `--queue local` does). It is bounded by bytes: when
//! full, `send_all` fails and ingest answers 503, as it does when SQS is
//! unavailable, instead of growing without limit.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use triage_core::envelope::QueuedMessage;
use triage_core::ports::{NotificationQueue, QueueConsumer, QueueError, Received};
use triage_core::redelivery::DeadLetter;

/// Default bound: queued plus in-flight message bodies.
pub const DEFAULT_CAPACITY_BYTES: usize = 256 * 1024 * 1024;

/// A message handed to the worker.
#[derive(Debug)]
pub struct MemoryDelivery {
    pub body: String,
    pub receive_count: u32,
}

#[derive(Default)]
struct State {
    ready: VecDeque<MemoryDelivery>,
    /// Bytes of bodies queued or in flight.
    bytes: usize,
    in_flight: usize,
    dead_lettered: u64,
}

/// The in-process queue. Cheap to clone; clones share the queue.
#[derive(Clone)]
pub struct MemoryQueue {
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
    capacity_bytes: usize,
}

impl MemoryQueue {
    pub fn new(capacity_bytes: usize) -> Self {
        MemoryQueue {
            state: Arc::default(),
            wake: Arc::new(Notify::new()),
            capacity_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked while holding
        // it; the counters stay consistent (every update is one statement).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take up to `max` messages; they count as in flight until acked,
    /// retried or dead-lettered.
    pub fn receive(&self, max: usize) -> Vec<MemoryDelivery> {
        let mut s = self.lock();
        let n = max.min(s.ready.len());
        let mut out: Vec<MemoryDelivery> = s.ready.drain(..n).collect();
        s.in_flight += out.len();
        for d in &mut out {
            d.receive_count = d.receive_count.saturating_add(1);
        }
        out
    }

    /// The worker is done with a message.
    pub fn ack(&self, body_len: usize) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        s.bytes = s.bytes.saturating_sub(body_len);
    }

    /// Put a message back at the end of the queue (after the caller's delay).
    pub fn requeue(&self, body: String, receive_count: u32) {
        {
            let mut s = self.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
            s.ready.push_back(MemoryDelivery {
                body,
                receive_count,
            });
        }
        self.wake.notify_one();
    }

    /// Drop a message that cannot be processed; counted, never kept (the
    /// caller logs its ids and the reason).
    pub fn dead_letter(&self, body_len: usize) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        s.bytes = s.bytes.saturating_sub(body_len);
        s.dead_lettered += 1;
    }

    /// Waiting plus in flight.
    pub fn pending(&self) -> u64 {
        let s = self.lock();
        (s.ready.len() + s.in_flight) as u64
    }

    /// Waiting to be received.
    pub fn waiting(&self) -> u64 {
        self.lock().ready.len() as u64
    }

    /// Resolves when a message may have arrived.
    pub async fn notified(&self) {
        self.wake.notified().await;
    }
}

impl NotificationQueue for MemoryQueue {
    /// All or nothing: refused as a whole when the bodies do not fit.
    async fn send_all(&self, messages: &[QueuedMessage]) -> Result<(), QueueError> {
        let size: usize = messages.iter().map(|m| m.body.len()).sum();
        {
            let mut s = self.lock();
            if s.bytes.saturating_add(size) > self.capacity_bytes {
                return Err(QueueError::Unavailable(format!(
                    "in-process queue is full ({} of {} bytes)",
                    s.bytes, self.capacity_bytes
                )));
            }
            s.bytes += size;
            s.ready.extend(messages.iter().map(|m| MemoryDelivery {
                body: m.body.clone(),
                receive_count: 0,
            }));
        }
        self.wake.notify_one();
        Ok(())
    }
}

/// The in-process queue as the core's consumer port. Nothing is persisted
/// and nothing is kept as a dead letter: it is counted and dropped (the
/// worker loop logs its ids and the reason).
impl QueueConsumer for MemoryQueue {
    async fn receive(&self, max: usize, _now_ms: i64) -> Result<Vec<Received>, QueueError> {
        Ok(MemoryQueue::receive(self, max)
            .into_iter()
            .map(|d| Received {
                handle: String::new(),
                body: d.body,
                attributes: Vec::new(),
                receive_count: d.receive_count,
            })
            .collect())
    }

    async fn ack(&self, message: &Received) -> Result<(), QueueError> {
        MemoryQueue::ack(self, message.body.len());
        Ok(())
    }

    async fn retry_at(
        &self,
        message: &Received,
        at_ms: i64,
        counts: bool,
        _reason: &str,
        now_ms: i64,
    ) -> Result<(), QueueError> {
        let wait = std::time::Duration::from_millis(u64::try_from(at_ms - now_ms).unwrap_or(0));
        let count = if counts {
            message.receive_count
        } else {
            message.receive_count.saturating_sub(1)
        };
        let (q, body) = (self.clone(), message.body.clone());
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            q.requeue(body, count);
        });
        Ok(())
    }

    async fn dead_letter(
        &self,
        message: &Received,
        _letter: &DeadLetter,
    ) -> Result<bool, QueueError> {
        MemoryQueue::dead_letter(self, message.body.len());
        tracing::warn!("in-process queue: message dropped as a dead letter");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, body: &str) -> QueuedMessage {
        QueuedMessage {
            entry_id: id.into(),
            body: body.into(),
            attributes: Vec::new(),
            refetch: false,
        }
    }

    #[tokio::test]
    async fn send_receive_ack_keeps_counts() {
        let q = MemoryQueue::new(1024);
        q.send_all(&[msg("a", "one"), msg("b", "two")])
            .await
            .unwrap();
        assert_eq!((q.pending(), q.waiting()), (2, 2));
        let got = q.receive(10);
        assert_eq!(
            got.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
            ["one", "two"]
        );
        assert!(got.iter().all(|d| d.receive_count == 1));
        assert_eq!((q.pending(), q.waiting()), (2, 0));
        for d in &got {
            q.ack(d.body.len());
        }
        assert_eq!(q.pending(), 0);
        assert_eq!(q.lock().bytes, 0);
    }

    #[tokio::test]
    async fn full_queue_refuses_the_whole_batch() {
        let q = MemoryQueue::new(10);
        q.send_all(&[msg("a", "123456")]).await.unwrap();
        let err = q
            .send_all(&[msg("b", "12"), msg("c", "345")])
            .await
            .unwrap_err();
        assert!(matches!(err, QueueError::Unavailable(ref m) if m.contains("full")));
        assert_eq!(q.waiting(), 1, "nothing of the refused batch is queued");
        // Acking frees room.
        let d = q.receive(1).pop().unwrap();
        q.ack(d.body.len());
        q.send_all(&[msg("b", "12"), msg("c", "345")])
            .await
            .unwrap();
        assert_eq!(q.waiting(), 2);
    }

    #[tokio::test]
    async fn requeue_counts_receives_and_dead_letter_frees_room() {
        let q = MemoryQueue::new(100);
        q.send_all(&[msg("a", "body")]).await.unwrap();
        let d = q.receive(1).pop().unwrap();
        q.requeue(d.body, d.receive_count);
        let d = q.receive(1).pop().unwrap();
        assert_eq!(d.receive_count, 2);
        q.dead_letter(d.body.len());
        let s = q.lock();
        assert_eq!(
            (s.ready.len(), s.in_flight, s.bytes, s.dead_lettered),
            (0, 0, 0, 1)
        );
    }
}
