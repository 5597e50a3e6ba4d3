//! Idempotency records, tickets with threading, and reconciliation cursors
//! in memory, with the DynamoDB and SQLite adapters' semantics (the same
//! contract suites): see `triage_sqlite::tickets` for the write algorithm,
//! which this follows step by step, threading included (the rules are the
//! core's `threading`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use triage_core::listing::newest_first;
use triage_core::ports::{
    ClaimOutcome, ClaimTimes, DedupeKey, IdempotencyStore, StoreError, TicketFilter, TicketStore,
    claimable,
};
use triage_core::reconcile::{KnownMessages, ReconcileCursors};
use triage_core::threading::{self, Candidate, Decision, Signal};
use triage_core::ticket::{Ticket, TicketWrite};

#[derive(Debug, Clone)]
struct Record {
    in_progress: bool,
    lease_until_ms: i64,
    expires_at_s: i64,
    outcome: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Thread,
    MsgId,
    Seen,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<DedupeKey, Record>,
    tickets: HashMap<String, Ticket>,
    pointers: HashMap<(String, Kind, String), String>,
    /// (grant, subject key) -> the ticket most recently created with it.
    subjects: HashMap<(String, String), String>,
    cursors: HashMap<(String, String), i64>,
}

/// The in-memory store. Clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Unavailable("in-memory store poisoned".into()))
    }

    /// Every ticket, newest first (tests).
    pub fn tickets(&self) -> Vec<Ticket> {
        let mut all: Vec<Ticket> = self
            .lock()
            .map(|s| s.tickets.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by(newest_first);
        all
    }

    /// The outcome recorded for a message, if completed (tests).
    pub fn outcome(&self, key: &DedupeKey) -> Option<String> {
        let s = self.lock().ok()?;
        s.records
            .get(key)
            .filter(|r| !r.in_progress)
            .map(|r| r.outcome.clone())
    }
}

impl IdempotencyStore for MemoryStore {
    async fn claim(&self, key: &DedupeKey, times: ClaimTimes) -> Result<ClaimOutcome, StoreError> {
        let mut s = self.lock()?;
        let existing = s.records.get(key);
        if claimable(
            existing.map(|r| (r.in_progress, r.lease_until_ms, r.expires_at_s)),
            times.now_ms,
        ) {
            s.records.insert(
                key.clone(),
                Record {
                    in_progress: true,
                    lease_until_ms: times.lease_until_ms,
                    expires_at_s: times.expires_at_s,
                    outcome: String::new(),
                },
            );
            return Ok(ClaimOutcome::Claimed);
        }
        Ok(match existing {
            Some(r) if r.in_progress => ClaimOutcome::InProgress {
                lease_until_ms: r.lease_until_ms,
            },
            Some(r) => ClaimOutcome::Completed {
                outcome: r.outcome.clone(),
            },
            None => ClaimOutcome::Claimed,
        })
    }

    async fn complete(
        &self,
        key: &DedupeKey,
        outcome: &str,
        expires_at_s: i64,
    ) -> Result<(), StoreError> {
        self.lock()?.records.insert(
            key.clone(),
            Record {
                in_progress: false,
                lease_until_ms: 0,
                expires_at_s,
                outcome: outcome.to_string(),
            },
        );
        Ok(())
    }

    async fn release(&self, key: &DedupeKey) -> Result<(), StoreError> {
        let mut s = self.lock()?;
        if s.records.get(key).is_some_and(|r| r.in_progress) {
            s.records.remove(key);
        }
        Ok(())
    }
}

/// The pointers one message touches: thread first, then its thread keys
/// (trimmed, non-empty, once each, in order).
fn pointers(ticket: &Ticket) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    if let Some(t) = ticket.thread_id.as_deref().map(str::trim)
        && !t.is_empty()
    {
        out.push((Kind::Thread, t.to_string()));
    }
    let mut seen = HashSet::new();
    for k in ticket.thread_keys.iter().map(|k| k.trim()) {
        if !k.is_empty() && seen.insert(k) {
            out.push((Kind::MsgId, k.to_string()));
        }
    }
    out
}

fn put_pointers(s: &mut State, grant: &str, keys: &[(Kind, String)], ticket_id: &str) {
    for (kind, key) in keys {
        s.pointers
            .entry((grant.to_string(), *kind, key.clone()))
            .or_insert_with(|| ticket_id.to_string());
    }
}

/// The signal a header pointer of this kind stands for.
fn signal_of(kind: Kind) -> Signal {
    match kind {
        Kind::Thread => Signal::ThreadId,
        Kind::MsgId | Kind::Seen => Signal::MessageId,
    }
}

/// The ticket the message's reference, else its subject, finds (of its
/// grant), as threading's candidate.
fn weak_candidate(
    s: &State,
    ticket: &Ticket,
    lookups: &threading::Lookups,
) -> Option<(Signal, Candidate)> {
    let of_grant = |id: &String| {
        s.tickets
            .get(id)
            .filter(|t| t.grant_id == ticket.grant_id)
            .map(Candidate::from)
    };
    if let Some(c) = lookups.reference.as_ref().and_then(of_grant) {
        return Some((Signal::TicketRef, c));
    }
    let key = lookups.subject.as_ref()?;
    let id = s.subjects.get(&(ticket.grant_id.clone(), key.clone()))?;
    of_grant(id).map(|c| (Signal::Subject, c))
}

impl TicketStore for MemoryStore {
    async fn write(&self, ticket: &Ticket) -> Result<TicketWrite, StoreError> {
        let mut s = self.lock()?;
        let grant = ticket.grant_id.clone();
        let keys = pointers(ticket);
        if s.tickets.contains_key(&ticket.id) {
            put_pointers(&mut s, &grant, &keys, &ticket.id);
            return Ok(TicketWrite::AlreadyRecorded {
                ticket_id: ticket.id.clone(),
            });
        }
        let seen = (grant.clone(), Kind::Seen, ticket.message_id.clone());
        let pinned = s.pointers.get(&seen).cloned();
        let header = keys.iter().find_map(|(k, v)| {
            let target = s.pointers.get(&(grant.clone(), *k, v.clone()))?;
            Some((target.clone(), signal_of(*k)))
        });
        let target = match (pinned.clone(), header) {
            (Some(pinned), header) => {
                let thread = header.is_some_and(|(t, sig)| sig == Signal::ThreadId && t == pinned);
                Some((pinned, Signal::of_pin(thread)))
            }
            (None, header) => header,
        };
        let (target, signal) = match target {
            Some(found) => found,
            None => {
                let lookups = threading::lookups(ticket);
                let found = weak_candidate(&s, ticket, &lookups);
                match threading::decide(ticket, found.as_ref().map(|(sig, c)| (*sig, c))) {
                    Decision::Append { ticket_id, signal } => (ticket_id, signal),
                    Decision::New {
                        rule,
                        claims_subject,
                    } => {
                        let mut created = ticket.clone();
                        if let Some(rule) = rule {
                            threading::record(&mut created.applied_rules, rule);
                        }
                        if !created.message_ids.contains(&created.message_id) {
                            created.message_ids.insert(0, created.message_id.clone());
                        }
                        let listed = u32::try_from(created.message_ids.len()).unwrap_or(u32::MAX);
                        created.message_count = created.message_count.max(listed);
                        s.tickets.insert(created.id.clone(), created);
                        put_pointers(&mut s, &grant, &keys, &ticket.id);
                        if let Some(key) = lookups.subject.filter(|_| claims_subject) {
                            s.subjects.insert((grant, key), ticket.id.clone());
                        }
                        return Ok(TicketWrite::Created {
                            ticket_id: ticket.id.clone(),
                        });
                    }
                }
            }
        };
        if pinned.is_none() {
            s.pointers.insert(seen, target.clone());
        }
        let t = s.tickets.get_mut(&target).ok_or_else(|| {
            StoreError::Rejected(format!(
                "append {} to ticket {target}: a pointer names a ticket that does not exist",
                ticket.id
            ))
        })?;
        t.last_message_at = t.last_message_at.max(ticket.last_message_at);
        let outcome = if t.message_ids.contains(&ticket.message_id) {
            TicketWrite::AlreadyRecorded {
                ticket_id: target.clone(),
            }
        } else {
            t.message_ids.push(ticket.message_id.clone());
            t.message_count = t.message_count.saturating_add(1);
            TicketWrite::Appended {
                ticket_id: target.clone(),
                signal,
            }
        };
        put_pointers(&mut s, &grant, &keys, &target);
        Ok(outcome)
    }

    async fn list(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        let s = self.lock()?;
        let mut out: Vec<Ticket> = s
            .tickets
            .values()
            .filter(|t| filter.queue.as_ref().is_none_or(|q| &t.queue == q))
            .filter(|t| filter.priority.is_none_or(|p| t.priority == p))
            .filter(|t| filter.status.is_none_or(|v| t.status == v))
            .filter(|t| filter.after.as_ref().is_none_or(|c| c.admits(t)))
            .cloned()
            .collect();
        out.sort_by(newest_first);
        if let Some(limit) = filter.limit {
            out.truncate(limit);
        }
        Ok(out)
    }
}

impl ReconcileCursors for MemoryStore {
    async fn cursor(&self, provider: &str, grant: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .lock()?
            .cursors
            .get(&(provider.to_string(), grant.to_string()))
            .copied())
    }

    async fn set_cursor(
        &self,
        provider: &str,
        grant: &str,
        cursor_s: i64,
    ) -> Result<(), StoreError> {
        self.lock()?
            .cursors
            .insert((provider.to_string(), grant.to_string()), cursor_s);
        Ok(())
    }
}

impl KnownMessages for MemoryStore {
    async fn known(&self, keys: &[DedupeKey], now_s: i64) -> Result<Vec<bool>, StoreError> {
        let s = self.lock()?;
        Ok(keys
            .iter()
            .map(|k| s.records.get(k).is_some_and(|r| r.expires_at_s >= now_s))
            .collect())
    }
}
