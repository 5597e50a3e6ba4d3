//! The `ingest` Lambda as a library: configuration, composition and the
//! HTTP handler, generic over the queue so the same code runs under Lambda,
//! in the local `triage serve` and in tests.
//!
//! # Layout
//! - [`config`]: the environment, read once and typed.
//! - [`compose`]: endpoints (provider + keys) from configuration; secrets
//!   resolved the same way for every runner.
//! - [`keyring`]: the endpoints served, read again while running so a
//!   rotated secret is followed without a restart.
//! - [`handler`]: routing by provider, the HTTP answer.

pub mod compose;
pub mod config;
pub mod handler;
pub mod keyring;

pub use config::{IngestConfig, WebhookConfig};
pub use handler::{Endpoint, IngestState, Reply, handle, handle_request, lambda_handler};
pub use keyring::Keyring;
