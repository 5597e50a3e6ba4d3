//! The queue envelope, version 1: what `ingest` puts on the queue and the
//! worker reads. Documented in the README ("Queue envelope v1").
//!
//! The provider's notification travels verbatim (`notification`), with the
//! fields the worker routes on lifted beside it and copied into SQS message
//! attributes. `provider` names the [`crate::provider::Provider`] that wrote
//! it and reads it back; `shape` is that provider's name for the form of
//! `notification`. When the envelope would not fit the queue's message size
//! limit it is sent as a reference (`refetch: true`, no `notification`): the
//! worker fetches the message from the provider's API instead.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

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
    /// The provider that wrote it (`nylas`, `inbound`): selects the reader.
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
    /// The provider's name for the form of `notification` (Nylas: `v3` or
    /// `deltas`; inbound: `email_json` or `message`).
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
    #[error("envelope names a provider this build does not know")]
    UnknownProvider,
}

/// What a provider lifts out of one notification into the envelope (and
/// the queue message's attributes).
#[derive(Debug, Clone, Serialize)]
pub struct EnvelopeFields<'a> {
    pub provider: &'a str,
    pub received_at_ms: i64,
    pub notification_id: &'a str,
    #[serde(rename = "type")]
    pub type_raw: &'a str,
    pub base_type: &'a str,
    pub suffixes: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_attempt: Option<u32>,
    pub shape: &'static str,
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    envelope_version: u32,
    #[serde(flatten)]
    fields: &'a EnvelopeFields<'a>,
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

/// Build the queue message for one notification (`raw`: valid JSON,
/// copied verbatim). Falls back to a reference envelope when the full one
/// exceeds `max_bytes`.
pub fn build(
    fields: &EnvelopeFields<'_>,
    raw: &str,
    entry_id: String,
    max_bytes: usize,
) -> QueuedMessage {
    let full = build_exact(fields, Some(raw), entry_id.clone());
    if full.sqs_size() <= max_bytes {
        return full;
    }
    build_exact(fields, None, entry_id)
}

/// The envelope with `raw` as its notification, or a reference envelope
/// when `raw` is `None`, whatever its size.
pub fn build_exact(
    fields: &EnvelopeFields<'_>,
    raw: Option<&str>,
    entry_id: String,
) -> QueuedMessage {
    let out = EnvelopeOut {
        envelope_version: ENVELOPE_VERSION,
        fields,
        refetch: raw.is_none(),
    };
    QueuedMessage {
        entry_id,
        body: to_json(&out, raw),
        attributes: attributes(&out),
        refetch: raw.is_none(),
    }
}

fn attributes(out: &EnvelopeOut<'_>) -> Vec<(&'static str, String)> {
    let e = out.fields;
    let mut a: Vec<(&'static str, String)> = vec![
        ("envelope_version", out.envelope_version.to_string()),
        ("provider", e.provider.to_string()),
        ("received_at_ms", e.received_at_ms.to_string()),
        ("notification_id", e.notification_id.to_string()),
        ("type", e.type_raw.to_string()),
        ("base_type", e.base_type.to_string()),
        ("refetch", out.refetch.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    const NOTIFICATION: &str = r#"{"id":"n1","data":{"object":{"id":"m1","subject":"Hi"}}}"#;

    fn fields() -> EnvelopeFields<'static> {
        EnvelopeFields {
            provider: "nylas",
            received_at_ms: 1000,
            notification_id: "n1",
            type_raw: "message.created.cleaned",
            base_type: "message.created",
            suffixes: vec!["cleaned"],
            source: Some("/google/emails/realtime"),
            grant_id: Some("g1"),
            message_id: Some("m1"),
            delivery_attempt: Some(1),
            shape: "v3",
        }
    }

    #[test]
    fn full_envelope_round_trips_with_attributes() {
        let q = build(&fields(), NOTIFICATION, "e0".into(), 256 * 1024);
        assert!(!q.refetch);
        let env = Envelope::decode(&q.body).unwrap();
        assert_eq!(env.envelope_version, 1);
        assert_eq!(env.provider, "nylas");
        assert_eq!(env.notification_id, "n1");
        assert_eq!(env.base_type, "message.created");
        assert_eq!(env.suffixes, vec!["cleaned"]);
        assert_eq!(env.shape, "v3");
        assert_eq!(env.notification.as_ref().unwrap().get(), NOTIFICATION);
        let attr = |k: &str| {
            q.attributes
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(attr("provider"), Some("nylas"));
        assert_eq!(attr("grant_id"), Some("g1"));
        assert_eq!(attr("message_id"), Some("m1"));
        assert_eq!(attr("suffixes"), Some("cleaned"));
        assert_eq!(attr("refetch"), Some("false"));
        assert!(q.attributes.len() <= 10);
        // The field order is part of the format (events/ is generated by a
        // script that writes the same bytes).
        assert!(
            q.body
                .starts_with(r#"{"envelope_version":1,"provider":"nylas","#),
            "{}",
            q.body
        );
        assert!(
            q.body
                .contains(r#""shape":"v3","refetch":false,"notification":{"#)
        );
    }

    #[test]
    fn oversize_becomes_reference() {
        let q = build(&fields(), NOTIFICATION, "e0".into(), 300);
        assert!(q.refetch);
        assert!(q.sqs_size() <= 600);
        let env = Envelope::decode(&q.body).unwrap();
        assert!(env.refetch && env.notification.is_none());
        assert_eq!(env.message_id.as_deref(), Some("m1"));
    }

    #[test]
    fn malformed_reasons_carry_no_input_values() {
        let e = Envelope::decode(r#"{"envelope_version":1,"received_at_ms":"carol@example.org"}"#)
            .unwrap_err();
        let s = e.to_string();
        assert!(matches!(e, EnvelopeError::Malformed(_)), "{s}");
        assert!(!s.contains("carol"), "{s}");
        assert!(s.contains("line 1 column"), "{s}");
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
