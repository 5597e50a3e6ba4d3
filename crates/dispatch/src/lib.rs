//! Delivering ticket events (issue #12): one handler for every runner.
//!
//! # Layout
//! - [`handler`]: [`Dispatcher`], the destinations of an event (its
//!   queue's route, plus the event bus when one is configured), one
//!   attempt at each that does not have it yet, one [`DeliveryLine`] per
//!   delivery for the runner to print or log.
//! - [`batch`]: the `dispatch` Lambda's batches (the tickets table's
//!   stream, the events retry queue): brief in-process retries, then the
//!   events dead-letter queue; partial batch failures for what cannot be
//!   read or parked.
//! - [`image`]: a ticket from a stream image, for creation events the
//!   table carries as a marker.
//! - [`drain`]: the outbox loop of `triage serve` and `triage dispatch`:
//!   due events, one attempt each, settled by the core's rules (done,
//!   retried with backoff, or dead with its reason).
//!
//! The destinations and the bus are the core's
//! [`EventSink`](triage_core::dispatch::EventSink) port; the outbox is its
//! [`EventOutbox`](triage_core::dispatch::EventOutbox). Nothing here knows
//! HTTP, SQLite or AWS.

pub mod batch;
pub mod config;
pub mod drain;
pub mod handler;
pub mod image;

pub use drain::{DrainReport, drain_once, run};
pub use handler::{Attempt, BUS_DESTINATION, DeliveryLine, DeliveryOutcome, Dispatcher};
