//! A notification queue and a redelivery in memory: they keep what they
//! were given, for tests to look at, and can be told to fail.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use triage_core::envelope::QueuedMessage;
use triage_core::ports::{NotificationQueue, QueueError, Redelivery};
use triage_core::redelivery::{DeadLetter, Record};

/// A queue that keeps every message sent. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct MemoryQueue {
    messages: Arc<Mutex<Vec<QueuedMessage>>>,
    down: Arc<AtomicBool>,
}

impl MemoryQueue {
    pub fn new() -> Self {
        MemoryQueue::default()
    }

    /// While `down`, every send fails as an unreachable queue would.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Everything sent so far, oldest first; the queue is emptied.
    pub fn take(&self) -> Vec<QueuedMessage> {
        self.messages
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }
}

impl NotificationQueue for MemoryQueue {
    async fn send_all(&self, messages: &[QueuedMessage]) -> Result<(), QueueError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable("in-memory queue is down".into()));
        }
        self.messages
            .lock()
            .map_err(|_| QueueError::Unavailable("in-memory queue poisoned".into()))?
            .extend_from_slice(messages);
        Ok(())
    }
}

/// A record put back for later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutBack {
    pub body: String,
    pub not_before_ms: i64,
    pub deferrals: u32,
}

/// Keeps what was put back and what was dead-lettered. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct MemoryRedelivery {
    put_back: Arc<Mutex<Vec<PutBack>>>,
    dead: Arc<Mutex<Vec<(String, DeadLetter)>>>,
    down: Arc<AtomicBool>,
}

impl MemoryRedelivery {
    pub fn new() -> Self {
        MemoryRedelivery::default()
    }

    /// While `down`, every call fails (the DLQ cannot be reached).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn put_back_records(&self) -> Vec<PutBack> {
        self.put_back.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn dead_letters(&self) -> Vec<(String, DeadLetter)> {
        self.dead.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn check(&self) -> Result<(), QueueError> {
        if self.down.load(Ordering::SeqCst) {
            Err(QueueError::Unavailable(
                "in-memory redelivery is down".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl Redelivery for MemoryRedelivery {
    async fn put_back(
        &self,
        record: &Record<'_>,
        not_before_ms: i64,
        deferrals: u32,
        _now_ms: i64,
    ) -> Result<(), QueueError> {
        self.check()?;
        self.put_back
            .lock()
            .map_err(|_| QueueError::Unavailable("poisoned".into()))?
            .push(PutBack {
                body: record.body.to_string(),
                not_before_ms,
                deferrals,
            });
        Ok(())
    }

    async fn dead_letter(
        &self,
        record: &Record<'_>,
        letter: &DeadLetter,
    ) -> Result<(), QueueError> {
        self.check()?;
        self.dead
            .lock()
            .map_err(|_| QueueError::Unavailable("poisoned".into()))?
            .push((record.body.to_string(), letter.clone()));
        Ok(())
    }
}
