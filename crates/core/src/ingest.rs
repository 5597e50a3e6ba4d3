//! The pure ingest pipeline, the same for every provider: size limit,
//! the provider's authentication over the bytes as received, gzip with a
//! cap, then the provider's parsing into queue envelopes. The `ingest`
//! Lambda and the local `triage serve` wrap this with HTTP and a queue.

use std::borrow::Cow;

use crate::envelope::QueuedMessage;
use crate::gzip::{GzipError, gunzip_capped};
use crate::inbound_email::InboundError;
use crate::logsafe;
use crate::provider::nylas::notification::NotificationError;
use crate::provider::{Delivery, Provider, ProviderKeys};
use crate::signature::SignatureError;
use crate::timestamped_signature::AuthError;

/// Limits and routing choices of the ingest path.
#[derive(Debug, Clone)]
pub struct IngestPolicy {
    /// Largest request body accepted, as received (compressed or not).
    pub max_body_bytes: usize,
    /// Largest body after gzip decompression.
    pub max_decompressed_bytes: usize,
    /// The queue's message size limit (SQS `MaximumMessageSize`).
    pub max_queue_message_bytes: usize,
    /// Most notifications one request may carry (`deltas[]` entries).
    pub max_items: usize,
    /// Base types that are queued; others are acknowledged and dropped.
    pub enqueue_types: Vec<String>,
}

pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 8 * 1024 * 1024;
pub const DEFAULT_MAX_QUEUE_MESSAGE_BYTES: usize = 256 * 1024;
pub const DEFAULT_MAX_ITEMS: usize = 100;

impl Default for IngestPolicy {
    fn default() -> Self {
        IngestPolicy {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            max_queue_message_bytes: DEFAULT_MAX_QUEUE_MESSAGE_BYTES,
            max_items: DEFAULT_MAX_ITEMS,
            enqueue_types: vec!["message.created".to_string()],
        }
    }
}

/// Why a delivery was refused. Each maps to an HTTP status and a short,
/// safe reason (no body, no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("body exceeds the {limit}-byte limit")]
    BodyTooLarge { limit: usize },
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A timestamped signature (Standard Webhooks, timestamped HMAC).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// An inbound-email payload that cannot be used.
    #[error(transparent)]
    Inbound(#[from] InboundError),
    #[error("unsupported Content-Encoding (only gzip is accepted)")]
    UnsupportedEncoding,
    #[error("gzip body: {0}")]
    Gzip(#[from] GzipError),
    #[error(transparent)]
    Notification(#[from] NotificationError),
    #[error("too many notifications in one request (limit {limit})")]
    TooManyItems { limit: usize },
    #[error("notification {} has no {missing}", logsafe::Escaped(notification_id))]
    MissingIds {
        notification_id: String,
        missing: &'static str,
    },
    /// An id holds control characters or is longer than [`MAX_ID_BYTES`]:
    /// no provider sends such ids, and they would corrupt keys and logs.
    #[error("{field} is not a valid id ({problem})")]
    BadId {
        field: &'static str,
        problem: &'static str,
    },
    /// An S3 event notification that cannot be used.
    #[error(transparent)]
    S3Event(#[from] crate::provider::ses::s3_event::S3EventError),
    /// A provider that is not delivered over HTTP (Amazon SES writes to
    /// S3 and S3 notifies the queue).
    #[error("{provider} is not delivered over HTTP")]
    NotOverHttp { provider: &'static str },
}

/// Longest id accepted (notification, grant, message, thread). Provider ids
/// are tens of characters; DynamoDB keys stop at 2 KiB.
pub const MAX_ID_BYTES: usize = 512;

impl IngestError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            IngestError::BodyTooLarge { .. } | IngestError::TooManyItems { .. } => 413,
            IngestError::Gzip(GzipError::TooLarge { .. }) => 413,
            IngestError::Signature(_) | IngestError::Auth(_) => 401,
            IngestError::UnsupportedEncoding => 415,
            IngestError::Gzip(GzipError::Corrupt)
            | IngestError::Notification(_)
            | IngestError::Inbound(_)
            | IngestError::MissingIds { .. }
            | IngestError::S3Event(_)
            | IngestError::BadId { .. } => 400,
            IngestError::NotOverHttp { .. } => 404,
        }
    }

    /// A stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::BodyTooLarge { .. } => "body_too_large",
            IngestError::Signature(SignatureError::Missing) => "signature_missing",
            IngestError::Signature(SignatureError::Malformed) => "signature_malformed",
            IngestError::Signature(SignatureError::Mismatch) => "signature_mismatch",
            IngestError::Auth(AuthError::NoSignature) => "signature_missing",
            IngestError::Auth(AuthError::Missing(_)) => "signature_header_missing",
            IngestError::Auth(AuthError::Malformed(_)) => "signature_malformed",
            IngestError::Auth(AuthError::OutsideTolerance { .. }) => "timestamp_outside_tolerance",
            IngestError::Auth(AuthError::Mismatch) => "signature_mismatch",
            IngestError::Inbound(_) => "invalid_payload",
            IngestError::UnsupportedEncoding => "unsupported_encoding",
            IngestError::Gzip(GzipError::TooLarge { .. }) => "decompressed_too_large",
            IngestError::Gzip(GzipError::Corrupt) => "gzip_corrupt",
            IngestError::Notification(NotificationError::NotJson) => "not_json",
            IngestError::Notification(NotificationError::NotANotification(_)) => {
                "not_a_notification"
            }
            IngestError::Notification(NotificationError::BadType) => "bad_type",
            IngestError::TooManyItems { .. } => "too_many_items",
            IngestError::MissingIds { .. } => "missing_ids",
            IngestError::BadId { .. } => "bad_id",
            IngestError::S3Event(_) => "s3_event_unusable",
            IngestError::NotOverHttp { .. } => "not_over_http",
            IngestError::Notification(NotificationError::InvalidMessage(_)) => "invalid_message",
        }
    }
}

/// What happened to one notification item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemDecision {
    /// Queued with the notification verbatim.
    Enqueued,
    /// Queued as a reference (too large for the queue): the worker fetches.
    EnqueuedReference,
    /// Too large for the queue and nothing to fetch it from: queued with
    /// the HTML part dropped and the text cut to fit.
    EnqueuedTrimmed,
    /// A type we are not configured to queue: acknowledged, dropped.
    IgnoredType,
}

impl ItemDecision {
    /// Whether the item went on the queue.
    pub fn queued(self) -> bool {
        !matches!(self, ItemDecision::IgnoredType)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ItemDecision::Enqueued => "enqueued",
            ItemDecision::EnqueuedReference => "enqueued_reference",
            ItemDecision::EnqueuedTrimmed => "enqueued_trimmed",
            ItemDecision::IgnoredType => "ignored_type",
        }
    }
}

/// Loggable facts about one item (ids and types only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSummary {
    pub notification_id: String,
    pub type_raw: String,
    pub grant_id: Option<String>,
    pub message_id: Option<String>,
    pub decision: ItemDecision,
    /// When the provider says it sent the notification (unix seconds), for
    /// the webhook latency KPI; `None` when it does not say.
    pub provider_time_s: Option<i64>,
}

/// A verified delivery, ready for the queue.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub messages: Vec<QueuedMessage>,
    pub items: Vec<ItemSummary>,
}

/// Is this `Content-Encoding` gzip? `None`/identity: no. Others: error.
fn is_gzip(content_encoding: Option<&[u8]>) -> Result<bool, IngestError> {
    let Some(v) = content_encoding.map(<[u8]>::trim_ascii) else {
        return Ok(false);
    };
    if v.is_empty() || v.eq_ignore_ascii_case(b"identity") {
        Ok(false)
    } else if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") {
        Ok(true)
    } else {
        Err(IngestError::UnsupportedEncoding)
    }
}

/// Verify and parse one delivery for `provider`, and build its queue
/// messages.
///
/// Order matters: size first (cheap), then the signature over the bytes as
/// received (compressed bytes when gzip), then decompression with a cap,
/// then parsing. Nothing is parsed before the signature checks out.
pub fn prepare(
    provider: &dyn Provider,
    keys: &ProviderKeys,
    policy: &IngestPolicy,
    delivery: &Delivery<'_>,
) -> Result<Prepared, IngestError> {
    if delivery.body.len() > policy.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            limit: policy.max_body_bytes,
        });
    }
    let gzip = is_gzip(delivery.header("content-encoding"))?;
    let auth = provider.authenticate(keys, delivery)?;
    let body: Cow<'_, [u8]> = if gzip {
        Cow::Owned(gunzip_capped(delivery.body, policy.max_decompressed_bytes)?)
    } else {
        Cow::Borrowed(delivery.body)
    };
    provider.parse(policy, &body, &auth, delivery.received_at_ms)
}

/// Is `value` usable as an id: no control characters, at most
/// [`MAX_ID_BYTES`]? Ids are keys (tickets, dedupe records) and go into logs.
pub fn check_id(field: &'static str, value: &str) -> Result<(), IngestError> {
    if value.len() > MAX_ID_BYTES {
        return Err(IngestError::BadId {
            field,
            problem: "too long",
        });
    }
    if logsafe::has_control(value) {
        return Err(IngestError::BadId {
            field,
            problem: "control characters",
        });
    }
    Ok(())
}

/// Longest challenge echoed back.
pub const MAX_CHALLENGE_BYTES: usize = 1024;

/// Why a challenge was refused (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error("missing challenge parameter")]
    Missing,
    #[error("challenge exceeds {MAX_CHALLENGE_BYTES} bytes")]
    TooLong,
    #[error("challenge contains control characters")]
    ControlCharacters,
}

/// Validate the `challenge` query value to echo it back verbatim.
pub fn check_challenge(value: Option<&str>) -> Result<&str, ChallengeError> {
    let v = value.ok_or(ChallengeError::Missing)?;
    if v.is_empty() {
        return Err(ChallengeError::Missing);
    }
    if v.len() > MAX_CHALLENGE_BYTES {
        return Err(ChallengeError::TooLong);
    }
    if v.chars().any(char::is_control) {
        return Err(ChallengeError::ControlCharacters);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Envelope;
    use crate::gzip::gzip;
    use crate::provider::nylas::Nylas;
    use crate::signature::{WebhookSecrets, sign_nylas};

    const SECRET: &str = "test-secret";

    fn body(ty: &str, id: &str) -> String {
        format!(
            r#"{{"specversion":"1.0","type":"{ty}","source":"/google/emails/realtime","id":"{id}","time":1,"webhook_delivery_attempt":1,"data":{{"application_id":"a","object":{{"id":"m-{id}","grant_id":"g1","subject":"s","body":"<p>hi</p>"}}}}}}"#
        )
    }

    fn run(
        policy: &IngestPolicy,
        body: &[u8],
        enc: Option<&[u8]>,
    ) -> Result<Prepared, IngestError> {
        let sig = sign_nylas(SECRET.as_bytes(), body);
        run_with(policy, Some(sig.as_bytes()), enc, body, 42)
    }

    /// The generic pipeline with the Nylas provider and explicit headers.
    fn run_with(
        policy: &IngestPolicy,
        signature: Option<&[u8]>,
        enc: Option<&[u8]>,
        body: &[u8],
        now_ms: i64,
    ) -> Result<Prepared, IngestError> {
        let keys = ProviderKeys {
            secrets: WebhookSecrets::parse(SECRET).unwrap(),
            tolerance_s: 300,
        };
        let header = |name: &str| match name {
            "x-nylas-signature" => signature,
            "content-encoding" => enc,
            _ => None,
        };
        prepare(&Nylas, &keys, policy, &Delivery::new(&header, body, now_ms))
    }

    #[test]
    fn created_is_enqueued_verbatim() {
        let b = body("message.created", "n1");
        let p = run(&IngestPolicy::default(), b.as_bytes(), None).unwrap();
        assert_eq!(p.messages.len(), 1);
        assert_eq!(p.items[0].decision, ItemDecision::Enqueued);
        let env = Envelope::decode(&p.messages[0].body).unwrap();
        assert_eq!(env.received_at_ms, 42);
        assert_eq!(env.notification.unwrap().get(), b);
    }

    #[test]
    fn other_types_are_acknowledged_not_queued() {
        let b = body("message.updated", "n1");
        let p = run(&IngestPolicy::default(), b.as_bytes(), None).unwrap();
        assert!(p.messages.is_empty());
        assert_eq!(p.items[0].decision, ItemDecision::IgnoredType);
        let mut policy = IngestPolicy::default();
        policy.enqueue_types.push("message.updated".into());
        assert_eq!(run(&policy, b.as_bytes(), None).unwrap().messages.len(), 1);
    }

    #[test]
    fn gzip_is_verified_over_compressed_bytes() {
        let b = body("message.created.truncated", "n1");
        let gz = gzip(b.as_bytes());
        let p = run(&IngestPolicy::default(), &gz, Some(b"gzip")).unwrap();
        assert_eq!(p.messages.len(), 1);
        // Signed over the plain body but sent compressed: refused.
        let sig = sign_nylas(SECRET.as_bytes(), b.as_bytes());
        let err = run_with(
            &IngestPolicy::default(),
            Some(sig.as_bytes()),
            Some(b"gzip"),
            &gz,
            1,
        )
        .unwrap_err();
        assert_eq!(err.status(), 401);
    }

    #[test]
    fn size_limits() {
        let policy = IngestPolicy {
            max_body_bytes: 300,
            max_decompressed_bytes: 1000,
            ..Default::default()
        };
        let big = vec![b' '; 301];
        assert_eq!(run(&policy, &big, None).unwrap_err().status(), 413);
        // Body at the limit passes the size check (then fails as JSON).
        assert_eq!(run(&policy, &big[..300], None).unwrap_err().status(), 400);
        let bomb = gzip(&vec![b' '; 100_000]);
        assert!(bomb.len() <= 300, "{}", bomb.len());
        let err = run(&policy, &bomb, Some(b"gzip")).unwrap_err();
        assert_eq!((err.status(), err.code()), (413, "decompressed_too_large"));
    }

    #[test]
    fn statuses_for_bad_input() {
        let p = IngestPolicy::default();
        assert_eq!(run(&p, b"not json", None).unwrap_err().status(), 400);
        assert_eq!(run(&p, b"{}", None).unwrap_err().status(), 400);
        assert_eq!(run(&p, b"x", Some(b"br")).unwrap_err().status(), 415);
        assert_eq!(
            run(&p, b"x", Some(b"gzip")).unwrap_err().code(),
            "gzip_corrupt"
        );
        let no_grant = br#"{"type":"message.created","id":"n","data":{"object":{"id":"m"}}}"#;
        assert_eq!(run(&p, no_grant, None).unwrap_err().code(), "missing_ids");
        let err = run_with(&p, None, None, b"{}", 1).unwrap_err();
        assert_eq!((err.status(), err.code()), (401, "signature_missing"));
    }

    #[test]
    fn too_many_deltas() {
        let entry = r#"{"type":"message.created","data":{"id":"m","grant_id":"g"}}"#;
        let b = format!(r#"{{"deltas":[{}]}}"#, [entry; 3].join(","));
        let policy = IngestPolicy {
            max_items: 2,
            ..Default::default()
        };
        assert_eq!(run(&policy, b.as_bytes(), None).unwrap_err().status(), 413);
        let ok = run(&IngestPolicy::default(), b.as_bytes(), None).unwrap();
        assert_eq!(ok.messages.len(), 3);
        let ids: Vec<_> = ok.messages.iter().map(|m| m.entry_id.as_str()).collect();
        assert_eq!(ids, ["n0", "n1", "n2"]);
    }

    #[test]
    fn challenge_rules() {
        assert_eq!(check_challenge(Some("abc-123")), Ok("abc-123"));
        assert_eq!(check_challenge(None), Err(ChallengeError::Missing));
        assert_eq!(check_challenge(Some("")), Err(ChallengeError::Missing));
        assert_eq!(
            check_challenge(Some("a\nb")),
            Err(ChallengeError::ControlCharacters)
        );
        assert_eq!(
            check_challenge(Some("a\u{7f}")),
            Err(ChallengeError::ControlCharacters)
        );
        let long = "a".repeat(MAX_CHALLENGE_BYTES + 1);
        assert_eq!(check_challenge(Some(&long)), Err(ChallengeError::TooLong));
        let max = "a".repeat(MAX_CHALLENGE_BYTES);
        assert!(check_challenge(Some(&max)).is_ok());
    }
}
