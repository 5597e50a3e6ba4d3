//! Amazon SES receiving (#16, in progress): SES writes each message as raw
//! MIME to an S3 bucket, S3 notifies a queue, and the worker reads the
//! object. No public webhook is involved.
//!
//! # Layout
//! - [`s3_event`]: the S3 event notifications the queue receives (objects
//!   created, or S3's test message), keys decoded.
//! - [`mime`]: a raw object to the pipeline's message, scoped by the
//!   receiving mailbox and keyed by its `Message-ID` (the signed
//!   inbound-email family's keys), or by the object.
//! - [`verdicts`]: SES's spam, virus, SPF, DKIM and DMARC verdicts, and the
//!   rules file's policy for them.
//!
//! Not wired into the worker yet: the worker's queue intake, the S3 adapter
//! (`crates/s3`, the core's `RawMailStore` port), the template's receipt
//! rule and bucket, and `triage serve`'s watched folder are the rest of #16.

pub mod mime;
pub mod s3_event;
pub mod verdicts;

use serde::{Deserialize, Serialize};

use super::{Authenticated, Delivery, FetchRule, Opened, Origin, Provider, ProviderKeys};
use crate::envelope::{self, Envelope, EnvelopeError, EnvelopeFields};
use crate::ingest::{IngestError, IngestPolicy, ItemDecision, ItemSummary, Prepared, check_id};
use crate::message::BodyFormat;
use crate::ports::ObjectLocation;
use s3_event::S3Notification;

/// The provider's name in envelopes.
pub const NAME: &str = "ses";
/// Not served: SES receiving is not delivered over HTTP (the route only
/// keeps the provider table uniform).
pub const ROUTE: &str = "/webhooks/ses";
/// `notification` is the object's location ([`ObjectRef`]).
const SHAPE_OBJECT: &str = "s3_object";
const EVENT_TYPE: &str = "message.created";

/// The object SES writes under the rule's prefix when a receipt rule with
/// an S3 action is created: not a message.
pub const SETUP_NOTIFICATION: &str = "AMAZON_SES_SETUP_NOTIFICATION";

/// Is `key` SES's setup notification (its last path segment)?
pub fn is_setup_notification(key: &str) -> bool {
    key.rsplit('/').next() == Some(SETUP_NOTIFICATION)
}

/// Amazon SES receiving through S3.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ses;

/// What an envelope of this family carries: where the raw message is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// Size in bytes as S3's notification stated it.
    #[serde(default)]
    pub size: u64,
}

impl Provider for Ses {
    fn name(&self) -> &'static str {
        NAME
    }

    fn route(&self) -> &'static str {
        ROUTE
    }

    fn authenticate(
        &self,
        _: &ProviderKeys,
        _: &Delivery<'_>,
    ) -> Result<Authenticated, IngestError> {
        Err(IngestError::NotOverHttp { provider: NAME })
    }

    /// `body` is a queue message S3 sent: one envelope per object created
    /// (none for S3's test message). The dedupe key is the bucket and a
    /// digest of the key ([`mime::object_key`]): a notification delivered
    /// twice is one message; the same mail in two objects is one ticket by
    /// its `Message-ID` (the ticket store's key).
    fn parse(
        &self,
        policy: &IngestPolicy,
        body: &[u8],
        _: &Authenticated,
        received_at_ms: i64,
    ) -> Result<Prepared, IngestError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| IngestError::S3Event(s3_event::S3EventError::Shape("not UTF-8".into())))?;
        let objects = match s3_event::parse(text)? {
            S3Notification::Test => return Ok(Prepared::default()),
            S3Notification::Created(objects) => objects,
        };
        let mut prepared = Prepared::default();
        for (i, object) in objects.into_iter().enumerate() {
            if is_setup_notification(&object.location.key) {
                continue;
            }
            let at = object.location;
            let message_id = mime::object_key(&at);
            let notification_id = format!("s3-{}", &message_id["obj-".len()..]);
            check_id("bucket", &at.bucket)?;
            let reference = ObjectRef {
                bucket: at.bucket.clone(),
                key: at.key.clone(),
                size: object.size,
            };
            let raw = serde_json::to_string(&reference).unwrap_or_default();
            let fields = EnvelopeFields {
                provider: NAME,
                received_at_ms,
                notification_id: &notification_id,
                type_raw: EVENT_TYPE,
                base_type: EVENT_TYPE,
                suffixes: Vec::new(),
                source: None,
                grant_id: Some(&at.bucket),
                message_id: Some(&message_id),
                delivery_attempt: None,
                shape: SHAPE_OBJECT,
            };
            let q = envelope::build_exact(&fields, Some(&raw), format!("s{i}"));
            if q.sqs_size() > policy.max_queue_message_bytes {
                return Err(IngestError::S3Event(s3_event::S3EventError::Record {
                    index: i,
                    problem: "object reference too large for the queue",
                }));
            }
            prepared.messages.push(q);
            prepared.items.push(ItemSummary {
                notification_id,
                type_raw: EVENT_TYPE.to_string(),
                grant_id: Some(at.bucket.clone()),
                message_id: Some(message_id),
                decision: ItemDecision::Enqueued,
                provider_time_s: None,
            });
        }
        Ok(prepared)
    }

    fn open(&self, env: &Envelope) -> Result<Opened, EnvelopeError> {
        if env.shape != SHAPE_OBJECT {
            return Err(EnvelopeError::Malformed(
                "unknown shape for the ses provider".into(),
            ));
        }
        let raw = env
            .notification
            .as_ref()
            .ok_or(EnvelopeError::Missing("notification"))?
            .get();
        let r: ObjectRef = crate::json_error::from_str(raw)
            .map_err(|e| EnvelopeError::Malformed(format!("object reference: {e}")))?;
        Ok(Opened {
            message: None,
            format: BodyFormat::Text,
            fetch: FetchRule::Required,
            origin: Origin::default(),
            raw_object: Some(ObjectLocation {
                bucket: r.bucket,
                key: r.key,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATED: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"acme-inbound"},"object":{"key":"inbound/a+b%C3%A9","size":4821,"sequencer":"00A1"}}}]}"#;

    #[test]
    fn a_notification_becomes_envelopes_that_open_to_the_object() {
        let p = Ses
            .parse(
                &IngestPolicy::default(),
                CREATED.as_bytes(),
                &Authenticated::unsigned(),
                1_000,
            )
            .unwrap();
        assert_eq!(p.messages.len(), 1);
        let env = Envelope::decode(&p.messages[0].body).unwrap();
        assert_eq!(env.provider, NAME);
        assert_eq!(env.grant_id.as_deref(), Some("acme-inbound"));
        let at = ObjectLocation {
            bucket: "acme-inbound".into(),
            key: "inbound/a bé".into(),
        };
        assert_eq!(env.message_id, Some(mime::object_key(&at)));
        let opened = super::super::open(&env).unwrap();
        assert_eq!(opened.raw_object, Some(at));
        assert_eq!(opened.fetch, FetchRule::Required);
        assert!(opened.message.is_none());
    }

    #[test]
    fn the_test_message_makes_nothing_and_bad_ones_are_400() {
        let test = br#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#;
        let p = Ses
            .parse(
                &IngestPolicy::default(),
                test,
                &Authenticated::unsigned(),
                0,
            )
            .unwrap();
        assert!(p.messages.is_empty() && p.items.is_empty());
        let e = Ses
            .parse(
                &IngestPolicy::default(),
                b"{\"Records\":[]}",
                &Authenticated::unsigned(),
                0,
            )
            .unwrap_err();
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn the_setup_notification_is_no_message() {
        let setup = CREATED.replace("inbound/a+b%C3%A9", "inbound/AMAZON_SES_SETUP_NOTIFICATION");
        let p = Ses
            .parse(
                &IngestPolicy::default(),
                setup.as_bytes(),
                &Authenticated::unsigned(),
                0,
            )
            .unwrap();
        assert!(p.messages.is_empty());
        assert!(!is_setup_notification(
            "inbound/AMAZON_SES_SETUP_NOTIFICATION.eml"
        ));
    }

    #[test]
    fn it_is_not_served_over_http() {
        let header = |_: &str| None;
        let d = Delivery::new(&header, b"{}", 0);
        let keys = ProviderKeys {
            secrets: crate::signature::WebhookSecrets::parse("x").unwrap(),
            tolerance_s: 300,
        };
        let e = Ses.authenticate(&keys, &d).unwrap_err();
        assert_eq!(e.status(), 404);
    }
}
