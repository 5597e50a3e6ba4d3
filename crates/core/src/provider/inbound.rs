//! The signed inbound-email JSON family (MailParse, Postmark, CloudMailin
//! style): `POST /webhooks/inbound` with the parsed email as JSON
//! ([`crate::inbound_email`]), signed with Standard Webhooks v1 or a
//! timestamped HMAC ([`crate::timestamped_signature`]). The payload is the
//! whole message: the worker never fetches.
//!
//! Dedupe key: the receiving mailbox and a digest of the normalised
//! `Message-ID` ([`crate::inbound_email::message_key`]; or a content digest), so a redelivery under a new `webhook-id` or event id is
//! the same message. The envelope's `notification_id` is the delivery id
//! (`webhook-id`, else the payload's `id`/`event_id`, else the message id),
//! for logs.
//!
//! A payload too large for the queue travels as the core's own message with
//! the HTML part dropped and the text cut to fit (shape `message`, suffix
//! `trimmed`); there is nowhere to fetch the rest from.

use crate::envelope::{self, Envelope, EnvelopeError, EnvelopeFields};
use crate::inbound_email::{self, InboundEmail};
use crate::ingest::{IngestError, IngestPolicy, ItemDecision, ItemSummary, Prepared, check_id};
use crate::message::{BodyFormat, Message};
use crate::text::visible_text_head;
use crate::timestamped_signature::{self, Scheme};

use super::{Authenticated, Delivery, FetchRule, Opened, Origin, Provider, ProviderKeys};

/// The provider's name in envelopes.
pub const NAME: &str = "inbound";
/// The webhook route.
pub const ROUTE: &str = "/webhooks/inbound";
/// The scope of a payload that names no recipient at all.
pub const DEFAULT_SCOPE: &str = "inbound";
/// `notification` is the payload as posted.
const SHAPE_PAYLOAD: &str = "email_json";
/// `notification` is the core's [`Message`] (a trimmed payload).
const SHAPE_MESSAGE: &str = "message";
const EVENT_TYPE: &str = "message.created";
/// Room kept for the envelope's own fields when a payload is trimmed.
const TRIM_SLACK_BYTES: usize = 4 * 1024;

/// The inbound-email JSON provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct InboundJson;

impl Provider for InboundJson {
    fn name(&self) -> &'static str {
        NAME
    }

    fn route(&self) -> &'static str {
        ROUTE
    }

    fn authenticate(
        &self,
        keys: &ProviderKeys,
        delivery: &Delivery<'_>,
    ) -> Result<Authenticated, IngestError> {
        let verified = timestamped_signature::verify(
            &keys.secrets,
            |name| delivery.header(name),
            delivery.body,
            delivery.received_at_ms.div_euclid(1000),
            keys.tolerance_s,
        )?;
        Ok(Authenticated {
            scheme: match verified.scheme {
                Scheme::StandardWebhooks => "standard_webhooks",
                Scheme::TimestampedHmac => "timestamped_hmac",
            },
            delivery_id: verified.webhook_id,
        })
    }

    fn parse(
        &self,
        policy: &IngestPolicy,
        body: &[u8],
        auth: &Authenticated,
        received_at_ms: i64,
    ) -> Result<Prepared, IngestError> {
        let email = inbound_email::parse(body, DEFAULT_SCOPE)?;
        // The payload parsed as JSON, so it is UTF-8.
        let raw = std::str::from_utf8(body).map_err(|_| {
            IngestError::Inbound(inbound_email::InboundError::Shape("not UTF-8".into()))
        })?;
        let notification_id = auth
            .delivery_id
            .clone()
            .or_else(|| email.event_id.clone())
            .unwrap_or_else(|| email.message.id.clone());
        check_id("notification id", &notification_id)?;
        check_id("mailbox", &email.message.grant_id)?;
        check_id("message id", &email.message.id)?;
        let mut fields = EnvelopeFields {
            provider: NAME,
            received_at_ms,
            notification_id: &notification_id,
            type_raw: EVENT_TYPE,
            base_type: EVENT_TYPE,
            suffixes: Vec::new(),
            source: None,
            grant_id: Some(&email.message.grant_id),
            message_id: Some(&email.message.id),
            delivery_attempt: None,
            shape: SHAPE_PAYLOAD,
        };
        let max = policy.max_queue_message_bytes;
        let mut q = envelope::build_exact(&fields, Some(raw), "i0".into());
        let mut decision = ItemDecision::Enqueued;
        if q.sqs_size() > max {
            let budget = max.saturating_sub(q.sqs_size() - raw.len() + TRIM_SLACK_BYTES);
            let trimmed = trimmed_message(&email, budget);
            fields.shape = SHAPE_MESSAGE;
            fields.suffixes = vec!["trimmed"];
            q = envelope::build_exact(&fields, Some(&trimmed), "i0".into());
            decision = ItemDecision::EnqueuedTrimmed;
        }
        Ok(Prepared {
            messages: vec![q],
            items: vec![ItemSummary {
                notification_id: notification_id.clone(),
                type_raw: EVENT_TYPE.to_string(),
                grant_id: Some(email.message.grant_id.clone()),
                message_id: Some(email.message.id.clone()),
                decision,
                // The family's payloads carry no send time of their own.
                provider_time_s: None,
            }],
        })
    }

    fn open(&self, env: &Envelope) -> Result<Opened, EnvelopeError> {
        let raw = env
            .notification
            .as_ref()
            .ok_or(EnvelopeError::Missing("notification"))?
            .get();
        let (mut message, format) = match env.shape.as_str() {
            SHAPE_PAYLOAD => {
                let email = inbound_email::parse(raw.as_bytes(), DEFAULT_SCOPE)
                    .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
                (email.message, email.format)
            }
            SHAPE_MESSAGE => {
                let m: Message = crate::json_error::from_str(raw)
                    .map_err(|e| EnvelopeError::Malformed(format!("message: {e}")))?;
                (m, BodyFormat::Text)
            }
            _ => {
                return Err(EnvelopeError::Malformed(
                    "unknown shape for the inbound provider".into(),
                ));
            }
        };
        // The envelope's ids are the ones deduplicated on.
        if let Some(scope) = &env.grant_id {
            message.grant_id.clone_from(scope);
        }
        if let Some(id) = &env.message_id {
            message.id.clone_from(id);
        }
        Ok(Opened {
            message: Some(message),
            format,
            fetch: FetchRule::Never,
            origin: Origin::default(),
            raw_object: None,
        })
    }
}

/// The message as the core's JSON, its body the visible text cut to
/// `budget` bytes (at a character boundary) and the HTML part dropped.
fn trimmed_message(email: &InboundEmail, budget: usize) -> String {
    let mut m = email.message.clone();
    m.body = Some(visible_text_head(
        m.body.as_deref().unwrap_or(""),
        email.format,
        budget,
    ));
    // Headers and attachment lists are bounded by the ticket later; keep
    // the envelope bounded now too.
    if let Some(headers) = m.headers.as_mut() {
        headers.truncate(100);
    }
    m.attachments.truncate(100);
    serde_json::to_string(&m).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::WebhookSecrets;
    use crate::timestamped_signature::{sign_standard, sign_timestamped};

    const NOW_S: i64 = 1_764_547_200;
    const PAYLOAD: &str = r#"{"event_id":"evt_1","message_id":"<A.1@Mail.Example.com>","from":{"email":"ann@example.com","name":"Ann"},"to":[{"email":"Support@Acme.example"}],"subject":"Checkout is down","text":"Our checkout returns an error.","headers":{"X-Mailer":"m"}}"#;

    fn keys(list: &str) -> ProviderKeys {
        ProviderKeys {
            secrets: WebhookSecrets::parse_whsec(list).unwrap(),
            tolerance_s: 300,
        }
    }

    fn authenticate(
        keys: &ProviderKeys,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Authenticated, IngestError> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_bytes())
        };
        InboundJson.authenticate(keys, &Delivery::new(&header, body, NOW_S * 1000 + 999))
    }

    #[test]
    fn both_schemes_authenticate_and_name_themselves() {
        let k = keys("old-secret, inbox-triage-test-secret");
        let body = PAYLOAD.as_bytes();
        let sig = sign_standard(b"inbox-triage-test-secret", "msg_1", NOW_S, body);
        let a = authenticate(
            &k,
            &[
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", NOW_S.to_string()),
                ("webhook-signature", sig),
            ],
            body,
        )
        .unwrap();
        assert_eq!(a.scheme, "standard_webhooks");
        assert_eq!(a.delivery_id.as_deref(), Some("msg_1"));
        let hex = sign_timestamped(b"old-secret", NOW_S - 299, body);
        let a = authenticate(
            &k,
            &[
                ("x-webhook-timestamp", (NOW_S - 299).to_string()),
                ("x-webhook-signature", format!("sha256={hex}")),
            ],
            body,
        )
        .unwrap();
        assert_eq!((a.scheme, a.delivery_id), ("timestamped_hmac", None));
    }

    #[test]
    fn refusals_are_401_with_their_code() {
        let k = keys("inbox-triage-test-secret");
        let body = PAYLOAD.as_bytes();
        let stale = NOW_S - 301;
        let hex = sign_timestamped(b"inbox-triage-test-secret", stale, body);
        let e = authenticate(
            &k,
            &[
                ("x-webhook-timestamp", stale.to_string()),
                ("x-webhook-signature", hex),
            ],
            body,
        )
        .unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "timestamp_outside_tolerance"));
        let e = authenticate(&k, &[], body).unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "signature_missing"));
        let sig = sign_standard(b"inbox-triage-test-secret", "msg_1", NOW_S, b"{}");
        let e = authenticate(
            &k,
            &[
                ("webhook-id", "msg_1".into()),
                ("webhook-timestamp", NOW_S.to_string()),
                ("webhook-signature", sig),
            ],
            body,
        )
        .unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "signature_mismatch"));
    }

    fn prepared(body: &str, auth: &Authenticated, max: usize) -> Prepared {
        let policy = IngestPolicy {
            max_queue_message_bytes: max,
            ..IngestPolicy::default()
        };
        InboundJson
            .parse(&policy, body.as_bytes(), auth, 7)
            .unwrap()
    }

    #[test]
    fn the_envelope_is_keyed_by_mailbox_and_message_id_and_opens_whole() {
        let auth = Authenticated {
            scheme: "standard_webhooks",
            delivery_id: Some("msg_1".into()),
        };
        let p = prepared(PAYLOAD, &auth, 256 * 1024);
        assert_eq!(p.items[0].decision, ItemDecision::Enqueued);
        let env = Envelope::decode(&p.messages[0].body).unwrap();
        assert_eq!(env.provider, "inbound");
        assert_eq!(env.notification_id, "msg_1");
        let mailbox = crate::inbound_email::mailbox_key("support@acme.example");
        assert_eq!(env.grant_id.as_deref(), Some(mailbox.as_str()));
        let key = crate::inbound_email::message_key("a.1@mail.example.com");
        assert_eq!(env.message_id, key);
        assert_eq!(env.notification.as_ref().unwrap().get(), PAYLOAD);
        let opened = super::super::open(&env).unwrap();
        assert_eq!(opened.fetch, FetchRule::Never);
        assert_eq!(opened.format, BodyFormat::Text);
        let m = opened.message.unwrap();
        assert_eq!(Some(&m.id), key.as_ref());
        assert_eq!(m.header("x-mailer"), Some("m"));
        // Without a webhook-id the payload's event id names the delivery.
        let p = prepared(PAYLOAD, &Authenticated::unsigned(), 256 * 1024);
        assert_eq!(p.items[0].notification_id, "evt_1");
    }

    #[test]
    fn an_oversize_payload_is_trimmed_to_fit_not_referenced() {
        let long = "word ".repeat(100_000);
        let body = serde_json::json!({
            "message_id": "<big@x.example>", "from": "ann@example.com",
            "to": ["support@acme.example"], "subject": "Big",
            "html": format!("<p>{long}</p>"), "text": long,
        })
        .to_string();
        let p = prepared(&body, &Authenticated::unsigned(), 64 * 1024);
        assert_eq!(p.items[0].decision, ItemDecision::EnqueuedTrimmed);
        let q = &p.messages[0];
        assert!(!q.refetch);
        assert!(q.sqs_size() <= 64 * 1024, "{}", q.sqs_size());
        let env = Envelope::decode(&q.body).unwrap();
        assert_eq!(env.suffixes, ["trimmed"]);
        let opened = InboundJson.open(&env).unwrap();
        let m = opened.message.unwrap();
        assert_eq!(
            Some(m.id),
            crate::inbound_email::message_key("big@x.example")
        );
        assert!(m.body.as_deref().unwrap().starts_with("word word"));
        assert_eq!(opened.format, BodyFormat::Text);
    }

    #[test]
    fn unusable_payloads_are_400() {
        let auth = Authenticated::unsigned();
        let policy = IngestPolicy::default();
        for body in [&b"not json"[..], b"{}", br#"{"from":"a@b.c"}"#, b"[1]"] {
            let e = InboundJson.parse(&policy, body, &auth, 1).unwrap_err();
            assert_eq!((e.status(), e.code()), (400, "invalid_payload"), "{e}");
        }
        // An event id is logged as the notification id: it must be usable.
        let control = br#"{"from":"a@b.c","text":"x","event_id":"a\u0001b"}"#;
        let e = InboundJson.parse(&policy, control, &auth, 1).unwrap_err();
        assert_eq!((e.status(), e.code()), (400, "bad_id"));
        // A Message-ID is only ever used as its digest, whatever it holds.
        let odd = br#"{"from":"a@b.c","text":"x","message_id":"<a\u0001b@c>"}"#;
        let p = InboundJson.parse(&policy, odd, &auth, 1).unwrap();
        assert!(
            p.items[0]
                .message_id
                .as_deref()
                .unwrap()
                .starts_with("mid-")
        );
    }
}
