//! The `worker` Lambda as a library: configuration and the record/batch
//! handler, generic over the idempotency store, the ticket store and the
//! message source, so the same code runs under Lambda, in the local
//! `triage` binary and in tests.

pub mod config;
pub mod handler;

pub use config::{FetchPolicy, WorkerConfig, WorkerSettings};
pub use handler::{Failure, Outcome, Worker};
