//! The in-memory store passes the same contract suites as the DynamoDB and
//! SQLite adapters.

use std::sync::Arc;

use triage_memory::MemoryStore;
use triage_testkit::contract;

#[tokio::test]
async fn idempotency_contract() {
    contract::idempotency_contract(&MemoryStore::new()).await;
}

#[tokio::test]
async fn tickets_contract() {
    contract::tickets_contract(&MemoryStore::new()).await;
}

#[tokio::test]
async fn threading_contract() {
    triage_testkit::threading_contract::threading_contract(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_contracts() {
    let one = MemoryStore::new();
    let stores: Vec<Arc<MemoryStore>> = (0..4).map(|_| Arc::new(one.clone())).collect();
    contract::idempotency_concurrency_contract(&stores).await;
    contract::tickets_concurrency_contract(&stores).await;
    triage_testkit::threading_contract::threading_concurrency_contract(&stores).await;
}

#[tokio::test]
async fn reconciliation_store_contract() {
    triage_testkit::reconcile_contract::reconcile_store_contract(&MemoryStore::new()).await;
}
