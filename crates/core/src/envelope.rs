//! The queue envelope, version 1: what `ingest` puts on the queue and the
//! worker reads. Documented in the README ("Queue envelope v1").
//!
//! The notification travels verbatim (`notification`), with the fields the
//! worker routes on lifted beside it and copied into SQS message attributes.
//! When the envelope would not fit the queue's message size limit it is sent
//! as a reference (`refetch: true`, no `notification`): the worker fetches
//! the message from the provider's API instead.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::json_error;
use crate::message::{BodyFormat, Message};
use crate::notification::{EventType, NotificationItem, Shape};

/// The envelope version this build writes and reads.
pub const ENVELOPE_VERSION: u32 = 1;

/// One message ready for the queue: body plus attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Unique within one batch (SQS batch entry id: `[A-Za-z0-9_-]{1,80}`).
    pub entry_id: String,
    /// The serialized envelope (JSON).
    pub body: String,
    /// SQS message attributes (all `String` type, never empty values).
    pub attributes: Vec<(&'static str, String)>,
    /// True when this is a reference-only envelope.
    pub refetch: bool,
}

impl QueuedMessage {
    /// Size as SQS counts it: body plus attribute names, types and values.
    pub fn sqs_size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + "String".len() + v.len())
                .sum::<usize>()
    }
}

/// The envelope as decoded by the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub envelope_version: u32,
    /// `nylas` (the provider family; later providers add their own names).
    pub provider: String,
    /// When ingest accepted the delivery, unix ms.
    pub received_at_ms: i64,
    pub notification_id: String,
    /// Full type as received, e.g. `message.created.truncated`.
    #[serde(rename = "type")]
    pub type_raw: String,
    pub base_type: String,
    #[serde(default)]
    pub suffixes: Vec<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub grant_id: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub delivery_attempt: Option<u32>,
    /// `v3` or `deltas`: how to find the message object in `notification`.
    pub shape: String,
    /// Reference-only envelope: `notification` is absent, fetch the message.
    #[serde(default)]
    pub refetch: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Box<RawValue>>,
}

/// An envelope the worker cannot use: a permanent failure (DLQ).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("envelope version {0} is not supported (this build reads {ENVELOPE_VERSION})")]
    UnsupportedVersion(u32),
    #[error("envelope has no {0}")]
    Missing(&'static str),
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    envelope_version: u32,
    provider: &'a str,
    received_at_ms: i64,
    notification_id: &'a str,
    #[serde(rename = "type")]
    type_raw: &'a str,
    base_type: &'a str,
    suffixes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_attempt: Option<u32>,
    shape: &'static str,
    refetch: bool,
}

/// Serialize `out`, then append `"notification": raw` (already-valid JSON,
/// copied verbatim: no re-encoding, no second validation pass).
fn to_json(out: &EnvelopeOut<'_>, notification: Option<&str>) -> String {
    // Serializing borrowed strings and numbers cannot fail.
    let mut body = serde_json::to_string(out).unwrap_or_default();
    if let Some(raw) = notification
        && body.ends_with('}')
    {
        body.pop();
        body.reserve(raw.len() + 17);
        body.push_str(",\"notification\":");
        body.push_str(raw);
        body.push('}');
    }
    body
}

/// Build the queue message for one notification item. Falls back to a
/// reference envelope when the full one exceeds `max_bytes`.
pub fn build(
    item: &NotificationItem<'_>,
    provider: &str,
    received_at_ms: i64,
    entry_id: String,
    max_bytes: usize,
) -> QueuedMessage {
    let mut out = EnvelopeOut {
        envelope_version: ENVELOPE_VERSION,
        provider,
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
        refetch: false,
    };
    let attributes = attributes(&out);
    let attr_size: usize = attributes
        .iter()
        .map(|(k, v)| k.len() + "String".len() + v.len())
        .sum();
    let body = to_json(&out, Some(item.raw));
    if body.len() + attr_size <= max_bytes {
        return QueuedMessage {
            entry_id,
            body,
            attributes,
            refetch: false,
        };
    }
    out.refetch = true;
    let body = to_json(&out, None);
    let attributes = self::attributes(&out);
    QueuedMessage {
        entry_id,
        body,
        attributes,
        refetch: true,
    }
}

fn attributes(e: &EnvelopeOut<'_>) -> Vec<(&'static str, String)> {
    let mut a: Vec<(&'static str, String)> = vec![
        ("envelope_version", e.envelope_version.to_string()),
        ("provider", e.provider.to_string()),
        ("received_at_ms", e.received_at_ms.to_string()),
        ("notification_id", e.notification_id.to_string()),
        ("type", e.type_raw.to_string()),
        ("base_type", e.base_type.to_string()),
        ("refetch", e.refetch.to_string()),
    ];
    if !e.suffixes.is_empty() {
        a.push(("suffixes", e.suffixes.join(",")));
    }
    if let Some(g) = e.grant_id {
        a.push(("grant_id", g.to_string()));
    }
    if let Some(m) = e.message_id {
        a.push(("message_id", m.to_string()));
    }
    // SQS allows 10 attributes, and empty values are refused.
    a.retain(|(_, v)| !v.is_empty());
    a.truncate(10);
    a
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

impl Envelope {
    /// Decode and check the version.
    pub fn decode(body: &str) -> Result<Envelope, EnvelopeError> {
        // One parse on the hot path; only a failure pays for the version
        // probe, which names the problem better (another version's fields
        // need not parse as v1).
        let env: Envelope = serde_json::from_str(body).map_err(|e| {
            version_problem(body)
                .unwrap_or_else(|| EnvelopeError::Malformed(crate::json_error::describe(&e)))
        })?;
        if env.envelope_version != ENVELOPE_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(env.envelope_version));
        }
        if env.notification_id.is_empty() {
            return Err(EnvelopeError::Missing("notification_id"));
        }
        if !env.refetch && env.notification.is_none() {
            return Err(EnvelopeError::Missing("notification"));
        }
        let ids = [
            ("notification_id", Some(&env.notification_id)),
            ("grant_id", env.grant_id.as_ref()),
            ("message_id", env.message_id.as_ref()),
        ];
        for (field, value) in ids {
            if let Some(v) = value
                && crate::ingest::check_id(field, v).is_err()
            {
                return Err(EnvelopeError::Malformed(format!(
                    "{field} is not a valid id (control characters or too long)"
                )));
            }
        }
        Ok(env)
    }

    /// The parsed event type.
    pub fn event_type(&self) -> Result<EventType, EnvelopeError> {
        EventType::parse(&self.type_raw).map_err(|e| EnvelopeError::Malformed(e.to_string()))
    }

    /// Format of the message body in this notification.
    pub fn body_format(&self) -> BodyFormat {
        if self.suffixes.iter().any(|s| s == "cleaned") {
            BodyFormat::Markdown
        } else {
            BodyFormat::Html
        }
    }

    /// The message object carried in the notification, if any (`None` for a
    /// reference envelope or a notification without an object).
    pub fn message(&self) -> Result<Option<Message>, EnvelopeError> {
        match &self.notification {
            Some(raw) => message_in(raw.get(), &self.shape),
            None => Ok(None),
        }
    }
}

/// What is wrong with the version of an envelope that did not parse, if
/// that is what is wrong.
fn version_problem(body: &str) -> Option<EnvelopeError> {
    #[derive(Deserialize)]
    struct Version {
        envelope_version: Option<u32>,
    }
    match serde_json::from_str::<Version>(body).ok()?.envelope_version {
        None => Some(EnvelopeError::Missing("envelope_version")),
        Some(v) if v != ENVELOPE_VERSION => Some(EnvelopeError::UnsupportedVersion(v)),
        Some(_) => None,
    }
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
    use crate::notification::parse_notification;

    const BODY: &str = r#"{"specversion":"1.0","type":"message.created.cleaned","source":"/google/emails/realtime","id":"n1","time":5,"webhook_delivery_attempt":1,"data":{"application_id":"a","object":{"id":"m1","grant_id":"g1","subject":"Hi","body":"text","from":[{"name":"A","email":"a@x.io"}]}}}"#;

    #[test]
    fn full_envelope_round_trips_with_attributes() {
        let items = parse_notification(BODY.as_bytes()).unwrap();
        let q = build(&items[0], "nylas", 1000, "e0".into(), 256 * 1024);
        assert!(!q.refetch);
        let env = Envelope::decode(&q.body).unwrap();
        assert_eq!(env.envelope_version, 1);
        assert_eq!(env.notification_id, "n1");
        assert_eq!(env.base_type, "message.created");
        assert_eq!(env.suffixes, vec!["cleaned"]);
        assert_eq!(env.body_format(), BodyFormat::Markdown);
        assert_eq!(env.notification.as_ref().unwrap().get(), BODY);
        let m = env.message().unwrap().unwrap();
        assert_eq!((m.id.as_str(), m.grant_id.as_str()), ("m1", "g1"));
        let attr = |k: &str| {
            q.attributes
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(attr("grant_id"), Some("g1"));
        assert_eq!(attr("message_id"), Some("m1"));
        assert_eq!(attr("suffixes"), Some("cleaned"));
        assert_eq!(attr("refetch"), Some("false"));
        assert!(q.attributes.len() <= 10);
    }

    #[test]
    fn oversize_becomes_reference() {
        let items = parse_notification(BODY.as_bytes()).unwrap();
        let q = build(&items[0], "nylas", 1000, "e0".into(), 300);
        assert!(q.refetch);
        assert!(q.sqs_size() <= 600);
        let env = Envelope::decode(&q.body).unwrap();
        assert!(env.refetch && env.notification.is_none());
        assert_eq!(env.message_id.as_deref(), Some("m1"));
        assert_eq!(env.message().unwrap(), None);
    }

    #[test]
    fn deltas_message_is_found() {
        let body = br#"{"deltas":[{"type":"message.created","date":1,"object":"message","data":{"id":"m9","grant_id":"g","subject":"s"}}]}"#;
        let items = parse_notification(body).unwrap();
        let q = build(&items[0], "nylas", 1, "e0".into(), 256 * 1024);
        let env = Envelope::decode(&q.body).unwrap();
        assert_eq!(env.shape, "deltas");
        assert_eq!(env.message().unwrap().unwrap().id, "m9");
    }

    #[test]
    fn malformed_reasons_carry_no_input_values() {
        let e = Envelope::decode(r#"{"envelope_version":1,"received_at_ms":"carol@example.org"}"#)
            .unwrap_err();
        let bad_message = r#"{"data":{"object":{"id":"m","subject":["carol@example.org"]}}}"#;
        let m = message_in(bad_message, "v3").unwrap_err();
        for e in [e, m] {
            let s = e.to_string();
            assert!(matches!(e, EnvelopeError::Malformed(_)), "{s}");
            assert!(!s.contains("carol"), "{s}");
            assert!(s.contains("line 1 column"), "{s}");
        }
    }

    #[test]
    fn bad_envelopes_are_named() {
        assert!(matches!(
            Envelope::decode("nope"),
            Err(EnvelopeError::Malformed(_))
        ));
        assert_eq!(
            Envelope::decode(r#"{"envelope_version":2}"#).unwrap_err(),
            EnvelopeError::UnsupportedVersion(2)
        );
        assert_eq!(
            Envelope::decode(r#"{"x":1}"#).unwrap_err(),
            EnvelopeError::Missing("envelope_version")
        );
        let no_notification = r#"{"envelope_version":1,"provider":"nylas","received_at_ms":1,"notification_id":"n","type":"message.created","base_type":"message.created","shape":"v3","refetch":false}"#;
        assert_eq!(
            Envelope::decode(no_notification).unwrap_err(),
            EnvelopeError::Missing("notification")
        );
    }
}
