//! The `worker` Lambda as a library: configuration, composition and the
//! record/batch handler, generic over the idempotency store, the ticket
//! store and the message source, so the same code runs under Lambda, in the
//! local `triage` binary and in tests.
//!
//! # Layout
//! - [`config`]: the environment, read once and typed.
//! - [`compose`]: rules, the Nylas source, [`Worker::new`]: shared by
//!   every runner.
//! - [`handler`]: one record (provider chosen by the envelope), one batch;
//!   what a failure becomes is the core's redelivery rule, carried out
//!   through a `Redelivery` port (SQS in the Lambda, in memory in tests).

pub mod compose;
pub mod config;
pub mod handler;

pub use config::{FetchPolicy, ProcessingConfig, WorkerConfig, WorkerSettings};
pub use handler::{Failure, Outcome, Worker};
