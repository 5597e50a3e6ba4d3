//! Pure core of inbox-triage.
//!
//! Everything here is deterministic: no AWS, no network, no clock. Time is
//! passed in (`now_ms`, unix milliseconds), and I/O happens behind the traits
//! in [`ports`], which the adapter crates implement.
//!
//! # Layout
//! - Where mail comes from: [`provider`] (the `Provider` seam; `nylas`,
//!   `inbound`, `ses`), with the signatures ([`signature`],
//!   [`timestamped_signature`]), when a running ingest reads its secrets
//!   again ([`key_refresh`]), and payload models ([`inbound_email`],
//!   [`eml`] with [`encoded_word`]) they use.
//! - The ingest path for any provider: [`ingest`] (size, authentication,
//!   [`gzip`], parsing), [`message_check`], the queue [`envelope`].
//! - The worker's rules: [`filters`], [`classify`] (word forms:
//!   [`keywords`]; languages: [`language`]), [`text`] (a file each for
//!   HTML rendering, the nesting cap and quoted-history stripping), the
//!   [`ticket`] model and [`listing`], and which ticket a message joins
//!   ([`threading`]).
//! - What goes out: ticket
//!   [`events`] with deterministic ids, their [`routing`] per queue from
//!   the rules file, the [`slack`] message, Standard-Webhooks-
//!   [`signed_delivery`] of an event, and [`acknowledgement`]s with their
//!   loop guard.
//! - What happens to a notification the worker could not finish:
//!   [`redelivery`]; finding mail whose notification never came:
//!   [`reconcile`].
//! - The pipeline's own KPIs: [`kpi`].
//! - Around them: [`ports`], [`config`], [`remember`], [`json_error`],
//!   [`logsafe`], and the neutral [`message`] model every provider yields.

pub mod acknowledgement;
pub mod classify;
pub mod config;
pub mod dispatch;
pub mod eml;
pub mod encoded_word;
pub mod envelope;
pub mod events;
pub mod filters;
pub mod gzip;
pub mod inbound_email;
pub mod ingest;
pub mod json_error;
pub mod key_refresh;
pub mod keywords;
pub mod kpi;
pub mod language;
pub mod listing;
pub mod logsafe;
pub mod message;
pub mod message_check;
pub mod ports;
pub mod provider;
pub mod reconcile;
pub mod redelivery;
pub mod remember;
pub mod retry;
pub mod routing;
pub mod signature;
pub mod signed_delivery;
pub mod slack;
pub mod text;
pub mod threading;
pub mod ticket;
pub mod timestamped_signature;

pub use message::{Attachment, BodyFormat, Header, Message, Participant};
