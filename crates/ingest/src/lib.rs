//! The `ingest` Lambda as a library: configuration and the HTTP handler,
//! generic over the queue so the same code runs under Lambda, in the local
//! `triage serve` and in tests.

pub mod config;
pub mod handler;

pub use config::IngestConfig;
pub use handler::{IngestState, Reply, handle, handle_request, lambda_handler};
