//! Event destinations over HTTPS (issue #12), behind the core's
//! [`EventSink`](triage_core::dispatch::EventSink) port.
//!
//! # Layout
//! - [`endpoint`]: one configured destination (kind, URL, signing key) and
//!   the request it sends for an event: the compact Slack message, or the
//!   event as JSON signed with Standard Webhooks.
//! - [`sink`]: [`HttpDestinations`], every destination by name, one POST
//!   per delivery, the answer classified (2xx delivered; 408, 429 with its
//!   `Retry-After`, 5xx, timeouts and connection errors transient; other
//!   4xx permanent).
//! - [`compose`]: the destinations of a rules file, their URLs and keys read
//!   from the variables it names (`<VAR>_ARN` first, from Secrets Manager).
//!
//! URLs and keys are secrets: no `Debug`, log line or error shows them.
//! Logs carry the destination name, the event id and the HTTP status.

pub mod compose;
pub mod endpoint;
pub mod sink;

pub use compose::{ComposeError, from_routing, from_routing_partial};
pub use endpoint::{Endpoint, EndpointError};
pub use sink::{DELIVERY_TIMEOUT, HttpDestinations};
