//! In-memory adapters of the core's ports, with the semantics of the
//! DynamoDB and SQLite adapters (they pass the same contract suites in
//! `triage_testkit`): for unit tests of the worker's record path and the
//! ingest handler that need no moto and no file, and for embedding.
//!
//! # Layout
//! - [`store`]: [`MemoryStore`], idempotency records, tickets with
//!   threading, and reconciliation cursors.
//! - [`queue`]: [`MemoryQueue`], a notification queue that can be told to
//!   fail, and [`MemoryRedelivery`], which keeps what was put back or
//!   dead-lettered.
//! - [`source`]: [`MemorySource`], a provider API's answers per message.
//!
//! Everything is behind one `std::sync::Mutex` per adapter, never held
//! across an `.await`; nothing is persisted.

pub mod queue;
pub mod source;
pub mod store;

pub use queue::{MemoryQueue, MemoryRedelivery};
pub use source::MemorySource;
pub use store::MemoryStore;
