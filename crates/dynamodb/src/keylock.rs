//! In-process single flight per key: writes of one process that touch a
//! common key (ticket, thread or thread-key pointer) run one after the
//! other. DynamoDB's conditional writes keep writes from different
//! processes correct; this only stops one process from racing itself, which
//! would undo claims and wait (capacity spent for nothing, extra round trips).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

type Slots = HashMap<String, Arc<AsyncMutex<()>>>;

/// Async locks by key; entries live only while someone holds or awaits them.
#[derive(Debug, Default)]
pub(crate) struct KeyLocks {
    slots: Mutex<Slots>,
}

/// Holds the locks of a set of keys; releases them on drop.
pub(crate) struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    keys: Vec<String>,
    guards: Vec<OwnedMutexGuard<()>>,
}

impl KeyLocks {
    fn slots(&self) -> MutexGuard<'_, Slots> {
        // A poisoned map is still a consistent map of mutexes.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lock every key, in sorted order (so two sets never deadlock).
    pub(crate) async fn lock(&self, keys: impl IntoIterator<Item = String>) -> KeyGuard<'_> {
        let mut keys: Vec<String> = keys.into_iter().collect();
        keys.sort();
        keys.dedup();
        let mut guard = KeyGuard {
            locks: self,
            keys: Vec::with_capacity(keys.len()),
            guards: Vec::with_capacity(keys.len()),
        };
        for key in keys {
            let slot = self.slots().entry(key.clone()).or_default().clone();
            // Registered before awaiting, so a cancelled wait is cleaned up too.
            guard.keys.push(key);
            guard.guards.push(slot.lock_owned().await);
        }
        guard
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots().len()
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.guards.clear();
        let mut slots = self.locks.slots();
        for key in &self.keys {
            // Only the map still refers to it: nobody holds or awaits it.
            if slots.get(key).is_some_and(|m| Arc::strong_count(m) == 1) {
                slots.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn overlapping_sets_run_one_at_a_time_and_clean_up() {
        let locks = Arc::new(KeyLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (locks, inside) = (locks.clone(), inside.clone());
            tasks.push(tokio::spawn(async move {
                // Every set shares "b"; orders differ to provoke deadlocks.
                let keys = if i % 2 == 0 {
                    vec!["a".to_string(), "b".to_string()]
                } else {
                    vec!["b".to_string(), format!("c{i}"), "a".to_string()]
                };
                let _g = locks.lock(keys).await;
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn disjoint_sets_do_not_wait() {
        let locks = KeyLocks::default();
        let _a = locks.lock(["x".to_string()]).await;
        let _b = locks.lock(["y".to_string()]).await;
        assert_eq!(locks.len(), 2);
    }
}
