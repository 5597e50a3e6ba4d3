//! Nylas v3 webhooks: `POST /webhooks/nylas` signed with `X-Nylas-Signature`
//! (hex HMAC-SHA256 of the raw body), optionally gzip, in the v3 shape or
//! the older `deltas[]`; `GET ?challenge=` handshake. Messages the
//! notification does not carry whole are fetched from the Nylas API.
//!
//! # Layout
//! - [`notification`]: parsing a webhook body into notification items.
//! - this module: the [`Provider`] implementation, envelopes from items,
//!   and reading the message back out of an envelope.

pub mod notification;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::envelope::{self, Envelope, EnvelopeError, EnvelopeFields};
use crate::ingest::{IngestError, IngestPolicy, ItemDecision, ItemSummary, Prepared, check_id};
use crate::json_error;
use crate::message::{BodyFormat, Message};
use crate::signature::verify_nylas;

use self::notification::{EventType, NotificationItem, Shape, parse_notification};
use super::{Authenticated, Delivery, FetchRule, Opened, Origin, Provider, ProviderKeys};

/// The provider's name in envelopes.
pub const NAME: &str = "nylas";
/// The webhook route.
pub const ROUTE: &str = "/webhooks/nylas";
/// The notification `source` of mail we sent through Nylas.
const SEND_SOURCE: &str = "/nylas/send";

/// The Nylas provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nylas;

impl Provider for Nylas {
    fn name(&self) -> &'static str {
        NAME
    }

    fn route(&self) -> &'static str {
        ROUTE
    }

    fn challenge_param(&self) -> Option<&'static str> {
        Some("challenge")
    }

    fn authenticate(
        &self,
        keys: &ProviderKeys,
        delivery: &Delivery<'_>,
    ) -> Result<Authenticated, IngestError> {
        verify_nylas(
            &keys.secrets,
            delivery.header("x-nylas-signature"),
            delivery.body,
        )?;
        Ok(Authenticated {
            scheme: "nylas",
            delivery_id: None,
        })
    }

    fn parse(
        &self,
        policy: &IngestPolicy,
        body: &[u8],
        _auth: &Authenticated,
        received_at_ms: i64,
    ) -> Result<Prepared, IngestError> {
        let items = parse_notification(body)?;
        if items.len() > policy.max_items {
            return Err(IngestError::TooManyItems {
                limit: policy.max_items,
            });
        }
        enqueue(policy, &items, received_at_ms)
    }

    fn open(&self, env: &Envelope) -> Result<Opened, EnvelopeError> {
        let event_type =
            EventType::parse(&env.type_raw).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        let message = match &env.notification {
            Some(raw) => message_in(raw.get(), &env.shape)?,
            None => None,
        };
        let body_missing = message
            .as_ref()
            .is_none_or(|m| m.body.as_deref().is_none_or(str::is_empty));
        let fetch = if env.refetch || event_type.truncated || body_missing {
            FetchRule::Required
        } else {
            FetchRule::Allowed
        };
        let source = env.source.as_deref().unwrap_or_default();
        Ok(Opened {
            message,
            format: if event_type.cleaned {
                BodyFormat::Markdown
            } else {
                BodyFormat::Html
            },
            fetch,
            origin: Origin {
                own_outbound: source == SEND_SOURCE,
                backfill: source.trim_end_matches('/').ends_with("/historic"),
            },
            raw_object: None,
        })
    }
}

/// [`crate::ingest::prepare`] for a Nylas delivery given its two headers
/// (`X-Nylas-Signature`, `Content-Encoding`): for benchmarks, property
/// tests and callers without an HTTP header map.
pub fn prepare_delivery(
    keys: &ProviderKeys,
    policy: &IngestPolicy,
    signature: Option<&[u8]>,
    content_encoding: Option<&[u8]>,
    body: &[u8],
    received_at_ms: i64,
) -> Result<Prepared, IngestError> {
    let header = |name: &str| match name {
        "x-nylas-signature" => signature,
        "content-encoding" => content_encoding,
        _ => None,
    };
    crate::ingest::prepare(
        &Nylas,
        keys,
        policy,
        &Delivery::new(&header, body, received_at_ms),
    )
}

/// Queue messages for parsed notification items: the enabled types become
/// envelopes (references when over the queue's size limit); others are
/// recorded as ignored. Used after a verified delivery, and by local replay
/// of files that carry no signature.
pub fn enqueue(
    policy: &IngestPolicy,
    items: &[NotificationItem<'_>],
    received_at_ms: i64,
) -> Result<Prepared, IngestError> {
    let mut prepared = Prepared {
        messages: Vec::with_capacity(items.len()),
        items: Vec::with_capacity(items.len()),
    };
    for item in items {
        let wanted = policy.enqueue_types.contains(&item.event_type.base);
        let decision = if !wanted {
            ItemDecision::IgnoredType
        } else {
            if item.event_type.base.starts_with("message.") {
                if item.grant_id.is_none() {
                    return Err(IngestError::MissingIds {
                        notification_id: item.notification_id.clone(),
                        missing: "grant_id",
                    });
                }
                if item.object_id.is_none() {
                    return Err(IngestError::MissingIds {
                        notification_id: item.notification_id.clone(),
                        missing: "message id",
                    });
                }
            }
            check_item(item)?;
            let fields = EnvelopeFields {
                provider: NAME,
                received_at_ms,
                notification_id: &item.notification_id,
                type_raw: item.type_raw,
                base_type: &item.event_type.base,
                suffixes: item.event_type.suffixes(),
                source: item.source,
                grant_id: item.grant_id.as_deref(),
                message_id: item.object_id.as_deref(),
                delivery_attempt: item.delivery_attempt,
                shape: item.shape.as_str(),
            };
            let entry_id = format!("n{}", prepared.messages.len());
            let q = envelope::build(&fields, item.raw, entry_id, policy.max_queue_message_bytes);
            let d = if q.refetch {
                ItemDecision::EnqueuedReference
            } else {
                ItemDecision::Enqueued
            };
            prepared.messages.push(q);
            d
        };
        prepared.items.push(ItemSummary {
            notification_id: item.notification_id.clone(),
            type_raw: item.type_raw.to_string(),
            grant_id: item.grant_id.clone(),
            message_id: item.object_id.clone(),
            decision,
            provider_time_s: item.time,
        });
    }
    Ok(prepared)
}

/// Usable ids on a queued item (the message object itself was checked
/// while parsing: [`parse_notification`]).
fn check_item(item: &NotificationItem<'_>) -> Result<(), IngestError> {
    check_id("notification id", &item.notification_id)?;
    for (field, value) in [
        ("grant_id", &item.grant_id),
        ("message id", &item.object_id),
        ("thread_id", &item.thread_id),
    ] {
        if let Some(v) = value {
            check_id(field, v)?;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct V3<'a> {
    #[serde(borrow)]
    data: Option<V3Data<'a>>,
}

#[derive(Deserialize)]
struct V3Data<'a> {
    #[serde(borrow)]
    object: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct DeltaData<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// The message object inside one notification (a whole v3 body, or one
/// `deltas[]` entry for shape `deltas`), if it carries one.
pub fn message_in(notification: &str, shape: &str) -> Result<Option<Message>, EnvelopeError> {
    let object: Option<&RawValue> = if shape == Shape::Deltas.as_str() {
        json_error::from_str::<DeltaData<'_>>(notification)
            .map_err(EnvelopeError::Malformed)?
            .data
    } else {
        json_error::from_str::<V3<'_>>(notification)
            .map_err(EnvelopeError::Malformed)?
            .data
            .and_then(|d| d.object)
    };
    object
        .map(|o| {
            json_error::from_str::<Message>(o.get())
                .map_err(|e| EnvelopeError::Malformed(format!("message object: {e}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"specversion":"1.0","type":"message.created.cleaned","source":"/google/emails/realtime","id":"n1","time":5,"webhook_delivery_attempt":1,"data":{"application_id":"a","object":{"id":"m1","grant_id":"g1","subject":"Hi","body":"text","from":[{"name":"A","email":"a@x.io"}]}}}"#;

    fn one(body: &str, max_bytes: usize) -> Envelope {
        let policy = IngestPolicy {
            max_queue_message_bytes: max_bytes,
            ..IngestPolicy::default()
        };
        let p = Nylas
            .parse(&policy, body.as_bytes(), &Authenticated::unsigned(), 1000)
            .unwrap();
        Envelope::decode(&p.messages[0].body).unwrap()
    }

    #[test]
    fn full_envelope_opens_to_the_carried_message() {
        let env = one(BODY, 256 * 1024);
        assert_eq!(env.provider, "nylas");
        assert_eq!(env.notification.as_ref().unwrap().get(), BODY);
        let opened = super::super::open(&env).unwrap();
        let m = opened.message.unwrap();
        assert_eq!((m.id.as_str(), m.grant_id.as_str()), ("m1", "g1"));
        assert_eq!(opened.format, BodyFormat::Markdown);
        assert_eq!(opened.fetch, FetchRule::Allowed);
        assert_eq!(opened.origin, Origin::default());
    }

    #[test]
    fn reference_and_truncated_must_be_fetched() {
        let env = one(BODY, 300);
        assert!(env.refetch);
        let opened = Nylas.open(&env).unwrap();
        assert_eq!((opened.message, opened.fetch), (None, FetchRule::Required));
        let truncated = BODY.replace("message.created.cleaned", "message.created.truncated");
        let opened = Nylas.open(&one(&truncated, 256 * 1024)).unwrap();
        assert_eq!(opened.fetch, FetchRule::Required);
        assert_eq!(opened.format, BodyFormat::Html);
    }

    #[test]
    fn send_and_historic_sources_are_origins() {
        let sent = BODY.replace("/google/emails/realtime", "/nylas/send");
        assert!(
            Nylas
                .open(&one(&sent, 256 * 1024))
                .unwrap()
                .origin
                .own_outbound
        );
        let historic = BODY.replace("/google/emails/realtime", "/google/emails/historic");
        let o = Nylas.open(&one(&historic, 256 * 1024)).unwrap().origin;
        assert!(o.backfill && !o.own_outbound);
    }

    #[test]
    fn deltas_message_is_found() {
        let body = r#"{"deltas":[{"type":"message.created","date":1,"object":"message","data":{"id":"m9","grant_id":"g","subject":"s"}}]}"#;
        let env = one(body, 256 * 1024);
        assert_eq!(env.shape, "deltas");
        let opened = Nylas.open(&env).unwrap();
        assert_eq!(opened.message.unwrap().id, "m9");
        // No body in the delta: the worker must fetch.
        assert_eq!(opened.fetch, FetchRule::Required);
    }

    #[test]
    fn malformed_message_reasons_carry_no_input_values() {
        let bad_message = r#"{"data":{"object":{"id":"m","subject":["carol@example.org"]}}}"#;
        let e = message_in(bad_message, "v3").unwrap_err();
        let s = e.to_string();
        assert!(matches!(e, EnvelopeError::Malformed(_)), "{s}");
        assert!(!s.contains("carol"), "{s}");
        assert!(s.contains("line 1 column"), "{s}");
    }
}
