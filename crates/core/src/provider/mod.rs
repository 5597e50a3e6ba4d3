//! Providers: the places mail comes from, one module each behind one seam.
//!
//! A [`Provider`] owns everything that differs between sources: the route
//! it is delivered on, how a delivery is authenticated, how its body
//! becomes queue envelopes, and how the worker gets the message back out of
//! an envelope (carried whole, or fetched from the provider's API). The
//! ingest handler picks a provider by route ([`by_route`]); the worker picks
//! it by the envelope's `provider` field ([`by_name`]). Neither knows any
//! provider's details.
//!
//! Adding a provider is one module implementing [`Provider`] plus one entry
//! in [`PROVIDERS`] (and, when it is delivered over HTTP, its secrets in the
//! composition code that builds the ingest endpoints).
//!
//! # Layout
//! - [`nylas`]: Nylas v3 webhooks (`X-Nylas-Signature`, gzip, `deltas[]`),
//!   messages fetched from the Nylas API when the notification lacks them.
//! - [`inbound`]: the signed inbound-email JSON family (Standard Webhooks or
//!   a timestamped HMAC); the payload is the whole message.
//! - [`ses`]: Amazon SES receiving through S3: the queue receives S3's
//!   notifications, and the worker reads each raw MIME object. Not
//!   delivered over HTTP.

pub mod inbound;
pub mod nylas;
pub mod ses;

use crate::envelope::{Envelope, EnvelopeError};
use crate::ingest::{IngestError, IngestPolicy, Prepared};
use crate::message::{BodyFormat, Message};
use crate::signature::WebhookSecrets;

/// Looks a header up by its lower-case name.
pub type HeaderLookup<'a> = dyn Fn(&str) -> Option<&'a [u8]> + Sync + 'a;

/// One HTTP delivery as a provider sees it: header lookup, raw body, and
/// when it arrived (the core has no clock).
pub struct Delivery<'a> {
    /// `None`: a delivery without headers.
    header: Option<&'a HeaderLookup<'a>>,
    /// The body exactly as received (compressed bytes when gzip).
    pub body: &'a [u8],
    /// Now, unix milliseconds.
    pub received_at_ms: i64,
}

impl<'a> Delivery<'a> {
    /// `header` looks a header up by its lower-case name.
    pub fn new(header: &'a HeaderLookup<'a>, body: &'a [u8], received_at_ms: i64) -> Self {
        Delivery {
            header: Some(header),
            body,
            received_at_ms,
        }
    }

    /// A delivery without headers (local replay of a saved body).
    pub fn unsigned(body: &'a [u8], received_at_ms: i64) -> Self {
        Delivery {
            header: None,
            body,
            received_at_ms,
        }
    }

    /// A header by its lower-case name.
    pub fn header(&self, lower_case_name: &str) -> Option<&'a [u8]> {
        self.header.and_then(|h| h(lower_case_name))
    }
}

/// The keys a provider checks deliveries with: one or more secrets (any
/// may match, for rotation) and the clock tolerance of timestamped schemes.
#[derive(Debug, Clone)]
pub struct ProviderKeys {
    pub secrets: WebhookSecrets,
    /// Seconds a signed timestamp may differ from now, either way.
    pub tolerance_s: i64,
}

/// What authentication established about a delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authenticated {
    /// The signing scheme (`nylas`, `standard_webhooks`, `timestamped_hmac`),
    /// or `unsigned` for local replay.
    pub scheme: &'static str,
    /// The delivery id the sender signed (Standard Webhooks `webhook-id`):
    /// the same across redeliveries of one event.
    pub delivery_id: Option<String>,
}

impl Authenticated {
    /// A body replayed from a file, which carries no signature.
    pub fn unsigned() -> Self {
        Authenticated {
            scheme: "unsigned",
            delivery_id: None,
        }
    }
}

/// When the worker may or must fetch the message from the provider's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchRule {
    /// The envelope carries the whole message; there is nothing to fetch.
    Never,
    /// The carried copy is usable; fetch when the fetch policy says always.
    Allowed,
    /// The carried copy is incomplete or absent (reference, truncated).
    Required,
}

/// What the provider knows of where a message came from, beyond the
/// message itself. Read by the filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin {
    /// Sent by us through the provider (Nylas `/nylas/send`).
    pub own_outbound: bool,
    /// A historic backfill, not new mail.
    pub backfill: bool,
}

/// An envelope opened by its provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    /// The message the envelope carries, if any.
    pub message: Option<Message>,
    /// How the carried message's body is written.
    pub format: BodyFormat,
    pub fetch: FetchRule,
    pub origin: Origin,
    /// The object holding the raw message, for families that store mail as
    /// raw MIME (Amazon SES): the worker reads it through its
    /// [`RawMailStore`](crate::ports::RawMailStore) instead of fetching.
    pub raw_object: Option<crate::ports::ObjectLocation>,
}

/// An inbound source of mail. Implementations are stateless: secrets are
/// passed in ([`ProviderKeys`]), so one value serves ingest and worker.
pub trait Provider: Send + Sync {
    /// The name written into the envelope's `provider` field.
    fn name(&self) -> &'static str;

    /// The HTTP path deliveries arrive on.
    fn route(&self) -> &'static str;

    /// The query parameter of a `GET` verification handshake whose value is
    /// echoed back, when the provider has one.
    fn challenge_param(&self) -> Option<&'static str> {
        None
    }

    /// Check the delivery's signature over the raw body. Runs before any
    /// parsing; a refusal is a 401 with its reason.
    fn authenticate(
        &self,
        keys: &ProviderKeys,
        delivery: &Delivery<'_>,
    ) -> Result<Authenticated, IngestError>;

    /// Turn an authenticated (or replayed) delivery into queue messages.
    /// `body` is the decoded body (gzip already inflated).
    fn parse(
        &self,
        policy: &IngestPolicy,
        body: &[u8],
        auth: &Authenticated,
        received_at_ms: i64,
    ) -> Result<Prepared, IngestError>;

    /// Worker side: the message an envelope of this provider carries and
    /// how to complete it.
    fn open(&self, envelope: &Envelope) -> Result<Opened, EnvelopeError>;
}

/// Every provider this build knows. Registration is one line here.
pub static PROVIDERS: [&(dyn Provider + 'static); 3] =
    [&nylas::Nylas, &inbound::InboundJson, &ses::Ses];

/// The provider named in an envelope.
pub fn by_name(name: &str) -> Option<&'static dyn Provider> {
    PROVIDERS.iter().copied().find(|p| p.name() == name)
}

/// The provider delivered on `path` (a trailing `/` is ignored).
pub fn by_route(path: &str) -> Option<&'static dyn Provider> {
    let path = path.trim_end_matches('/');
    PROVIDERS.iter().copied().find(|p| p.route() == path)
}

/// Open an envelope with the provider it names; an unknown name is a
/// permanent failure (an envelope from a newer build, or a forged one).
pub fn open(envelope: &Envelope) -> Result<Opened, EnvelopeError> {
    by_name(&envelope.provider)
        .ok_or(EnvelopeError::UnknownProvider)?
        .open(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_routes_are_unique_and_found() {
        for (i, p) in PROVIDERS.iter().enumerate() {
            assert_eq!(by_name(p.name()).map(|q| q.name()), Some(p.name()));
            assert_eq!(by_route(p.route()).map(|q| q.name()), Some(p.name()));
            let with_slash = format!("{}/", p.route());
            assert_eq!(by_route(&with_slash).map(|q| q.name()), Some(p.name()));
            for q in &PROVIDERS[i + 1..] {
                assert_ne!(p.name(), q.name());
                assert_ne!(p.route(), q.route());
            }
        }
        assert!(by_name("imap").is_none());
        assert!(by_route("/webhooks").is_none());
    }
}
