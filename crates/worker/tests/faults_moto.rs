//! Fault injection: DynamoDB throttling at every step of the record path.
//! A wrapper around the real DynamoDB adapters (moto on loopback) fails a
//! share of calls with `Throttled`; redelivery must still end with exactly
//! one ticket per message and none counted twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use serde_json::json;
use triage_core::Message;
use triage_core::classify::Rules;
use triage_core::ports::{
    ClaimOutcome, ClaimTimes, DedupeKey, FetchError, FolderRole, IdempotencyStore, MessageSource,
    StoreError, TicketFilter, TicketStore,
};
use triage_core::ticket::{Ticket, TicketWrite};
use triage_dynamodb::{DynamoIdempotency, DynamoTickets};
use triage_testkit::{moto_config, unique_name};
use triage_worker::{Failure, FetchPolicy, Outcome, Worker, WorkerSettings};

/// Fails every `every`-th call with `Throttled`, before or after the real call.
struct Throttling<S> {
    inner: S,
    calls: AtomicU64,
    every: u64,
    injected: AtomicU64,
}

impl<S> Throttling<S> {
    fn new(inner: S, every: u64) -> Self {
        Throttling {
            inner,
            calls: AtomicU64::new(0),
            every,
            injected: AtomicU64::new(0),
        }
    }
    /// `Some(before)` when this call must fail; `before` says whether the
    /// failure comes before the real call (nothing written) or after it
    /// (written, but the caller sees an error, as on a lost response).
    fn fault(&self) -> Option<bool> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(self.every) {
            self.injected.fetch_add(1, Ordering::Relaxed);
            Some(n.is_multiple_of(2 * self.every))
        } else {
            None
        }
    }
}

fn throttled() -> StoreError {
    StoreError::Throttled("injected ProvisionedThroughputExceededException".into())
}

impl<S: IdempotencyStore> IdempotencyStore for Throttling<S> {
    async fn claim(&self, key: &DedupeKey, times: ClaimTimes) -> Result<ClaimOutcome, StoreError> {
        match self.fault() {
            Some(true) => Err(throttled()),
            Some(false) => {
                let _ = self.inner.claim(key, times).await;
                Err(throttled())
            }
            None => self.inner.claim(key, times).await,
        }
    }
    async fn complete(
        &self,
        key: &DedupeKey,
        outcome: &str,
        expires_at_s: i64,
    ) -> Result<(), StoreError> {
        match self.fault() {
            Some(true) => Err(throttled()),
            Some(false) => {
                let _ = self.inner.complete(key, outcome, expires_at_s).await;
                Err(throttled())
            }
            None => self.inner.complete(key, outcome, expires_at_s).await,
        }
    }
    async fn release(&self, key: &DedupeKey) -> Result<(), StoreError> {
        self.inner.release(key).await
    }
}

impl<S: TicketStore> TicketStore for Throttling<S> {
    async fn write(&self, ticket: &Ticket) -> Result<TicketWrite, StoreError> {
        match self.fault() {
            Some(true) => Err(throttled()),
            Some(false) => {
                let _ = self.inner.write(ticket).await;
                Err(throttled())
            }
            None => self.inner.write(ticket).await,
        }
    }
    async fn list(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        self.inner.list(filter).await
    }
}

/// No provider API in this test.
struct NoSource;
impl MessageSource for NoSource {
    async fn fetch_message(
        &self,
        _: &str,
        _: &str,
        _: Instant,
    ) -> Result<Option<Message>, FetchError> {
        Err(FetchError::Permanent("no API in this test".into()))
    }
    async fn folder_roles(
        &self,
        _: &str,
        _: Instant,
    ) -> Result<std::collections::HashMap<String, FolderRole>, FetchError> {
        Ok(Default::default())
    }
}

async fn table(client: &Client, prefix: &str) -> String {
    triage_testkit::create_dynamo_table(client, prefix).await
}

fn envelope(grant: &str, i: usize) -> String {
    // Messages share threads in pairs: appends are exercised too.
    json!({
        "envelope_version": 1, "provider": "nylas", "received_at_ms": 1,
        "notification_id": format!("n{i}"), "type": "message.created",
        "base_type": "message.created", "suffixes": [], "grant_id": grant,
        "message_id": format!("m{i}"), "shape": "v3", "refetch": false,
        "notification": {"type": "message.created", "id": format!("n{i}"), "data": {"object": {
            "id": format!("m{i}"), "grant_id": grant, "thread_id": format!("t{}", i / 2),
            "subject": "help", "from": [{"name": "C", "email": "c@client.example"}],
            "to": [{"name": "S", "email": "support@example.com"}], "date": 1763870000 + i as i64,
            "folders": ["INBOX"], "body": "<p>please help</p>"
        }}}
    })
    .to_string()
}

#[tokio::test]
async fn throttling_at_every_step_still_gives_exactly_one_ticket_per_message() {
    let sdk = moto_config().await;
    let client = Client::new(&sdk);
    let idem = Throttling::new(
        DynamoIdempotency::new(&sdk, table(&client, "idem").await),
        3,
    );
    let tickets = Throttling::new(DynamoTickets::new(&sdk, table(&client, "tickets").await), 4);
    let worker = Arc::new(Worker {
        idempotency: idem,
        tickets,
        source: None::<NoSource>,
        rules: Rules::default_rules(),
        settings: WorkerSettings {
            fetch_policy: FetchPolicy::WhenNeeded,
            // Short lease: a claim orphaned by an injected fault frees quickly.
            lease: Duration::from_millis(1500),
            ..Default::default()
        },
        acks: triage_core::acknowledgement::NoAcknowledgements,
        raw_mail: triage_core::ports::NoRawMail,
    });
    let grant = unique_name("g");
    let mut pending: Vec<usize> = (0..40).collect();
    let mut failures = 0;
    let started = Instant::now();
    while !pending.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not converging: {pending:?}"
        );
        let mut still = Vec::new();
        for i in pending {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            let (_, r) = worker
                .process(
                    &envelope(&grant, i),
                    now,
                    Instant::now() + Duration::from_secs(10),
                )
                .await;
            match r {
                Ok(_) => {}
                Err(Failure::Transient(_) | Failure::InProgress { .. }) => {
                    failures += 1;
                    still.push(i);
                }
                Err(e) => panic!("throttling must be transient, got {e}"),
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    assert!(
        failures > 10,
        "faults were injected and retried ({failures})"
    );
    assert!(worker.idempotency.injected.load(Ordering::Relaxed) > 0);
    assert!(worker.tickets.injected.load(Ordering::Relaxed) > 0);
    // Redeliver everything once more: all duplicates now.
    for i in 0..40 {
        let (_, r) = worker
            .process(
                &envelope(&grant, i),
                0,
                Instant::now() + Duration::from_secs(10),
            )
            .await;
        if let Ok(o) = r {
            assert!(
                matches!(
                    o,
                    Outcome::Duplicate { .. } | Outcome::AlreadyRecorded { .. }
                ),
                "{o:?}"
            );
        }
    }
    let all: Vec<Ticket> = worker
        .tickets
        .list(&TicketFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.grant_id == grant)
        .collect();
    assert_eq!(all.len(), 20, "one ticket per thread");
    assert!(
        all.iter().all(|t| t.message_count == 2),
        "{:?}",
        all.iter().map(|t| t.message_count).collect::<Vec<_>>()
    );
    let mut ids: Vec<String> = all.iter().flat_map(|t| t.message_ids.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "every message on exactly one ticket");
}
