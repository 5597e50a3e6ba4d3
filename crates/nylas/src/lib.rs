//! Nylas v3 API adapter: [`NylasClient`] implements the core's
//! [`MessageSource`](triage_core::ports::MessageSource) over reqwest + rustls.
//!
//! - `fetch_message`: `GET /v3/grants/{grant}/messages/{id}?fields=include_headers`;
//!   404 is `Ok(None)`.
//! - `folder_roles`: `GET /v3/grants/{grant}/folders`, every page, folder id ->
//!   [`FolderRole`](triage_core::ports::FolderRole) from `attributes`, falling
//!   back to Google system label ids.
//! - Retries: 408, 429 (honouring `Retry-After`), 5xx, timeouts and connection
//!   errors, with jittered exponential backoff, until `max_attempts` or the
//!   caller's deadline (`retries.rs`). Other 4xx, malformed and oversized
//!   bodies are permanent.
//! - [`CachedFolders`] caches folder roles per grant for the life of the process.
//! - [`send`]: acknowledgements as replies through the receiving grant
//!   (`AckSender`), with an `Idempotency-Key` so retries never send twice.
//! - [`reconcile`]: grants, received messages and webhook health for the
//!   core's reconciliation.
//! - [`WebhookAdmin`] (operator tooling): create, list, rotate the secret of
//!   and send test events to webhook destinations.
//!
//! Logs carry ids, status codes, attempt numbers and waits; never the API key
//! nor message content.

pub mod admin;
mod client;
mod config;
mod error;
mod folders;
pub mod reconcile;
mod retries;
pub mod send;

pub use admin::{
    ADMIN_REQUEST_TIMEOUT, AdminError, CreatedWebhook, TestEventOutcome, WebhookAdmin, WebhookInfo,
    WebhookSecret,
};
pub use client::{NylasClient, USER_AGENT};
pub use config::{DEFAULT_BASE_URL, ENV_API_URI, NylasConfig};
pub use error::{GiveUpReason, NylasError};
pub use folders::{
    CachedFolders, DEFAULT_MAX_CACHED_GRANTS, folder_role, role_from_attributes,
    role_from_google_id,
};
