//! A raw message read from its S3 object, as the pipeline's [`Message`].
//!
//! The MIME parsing is [`crate::eml`]'s (`mail-parser`). What SES adds:
//!
//! - Scope (`grant_id`): the receiving mailbox, [`mailbox_key`] of the
//!   recipient SES received the message for: the `for <address>` of the
//!   first `Received` field (SES's own, prepended), else the first `To`
//!   address, else [`DEFAULT_SCOPE`]. The signed inbound-email family scopes
//!   by the same key, so one mail arriving both ways is one message.
//! - Id: [`message_key`] of the `Message-ID`, else `obj-` and 32 hex digits
//!   of the SHA-256 of the bucket and key (a message without a Message-ID
//!   is deduplicated per object).
//! - An object larger than the size cap was read only up to it
//!   ([`RawObject::truncated`]): the parts that fit are kept, and
//!   [`ObjectMessage::truncated_at`] says so for the ticket.

use sha2::{Digest, Sha256};

use crate::eml::{EmlError, message_from_eml};
use crate::inbound_email::{mailbox_key, message_key};
use crate::message::{BodyFormat, Message};
use crate::ports::{ObjectLocation, RawObject};

/// The scope of a message that names no recipient at all.
pub const DEFAULT_SCOPE: &str = "ses";

/// A message made from an object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectMessage {
    pub message: Message,
    pub format: BodyFormat,
    /// `Some((read, size))` when only the first `read` of `size` bytes were
    /// read.
    pub truncated_at: Option<(u64, u64)>,
}

/// Parse `raw`, read from `at`. See the module doc for the keys.
pub fn message_from_object(
    raw: &RawObject,
    at: &ObjectLocation,
) -> Result<ObjectMessage, EmlError> {
    let (mut message, format) = message_from_eml(&raw.bytes)?;
    let recipient = ses_recipient(&message).or_else(|| {
        message
            .to
            .first()
            .map(|p| p.email.clone())
            .filter(|e| !e.is_empty())
    });
    message.grant_id = match recipient {
        Some(address) => mailbox_key(&address),
        None => DEFAULT_SCOPE.to_string(),
    };
    message.id = message
        .header("message-id")
        .and_then(message_key)
        .unwrap_or_else(|| object_key(at));
    let truncated_at = raw
        .truncated()
        .then_some((raw.bytes.len() as u64, raw.size));
    Ok(ObjectMessage {
        message,
        format,
        truncated_at,
    })
}

/// The dedupe id of an object: `obj-` and 32 hex digits of the SHA-256 of
/// `bucket/key`.
pub fn object_key(at: &ObjectLocation) -> String {
    let mut h = Sha256::new();
    h.update(at.bucket.as_bytes());
    h.update(b"/");
    h.update(at.key.as_bytes());
    format!("obj-{}", &hex::encode(h.finalize())[..32])
}

/// The recipient of SES's own `Received` field (the first one): the
/// address after `for`, up to `;`.
fn ses_recipient(message: &Message) -> Option<String> {
    let received = message
        .headers
        .as_deref()?
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("received"))?;
    let value = received.value.as_str();
    if !value.contains("amazonaws.com") {
        return None;
    }
    let lower = value.to_ascii_lowercase();
    let at = lower.find(" for ")? + " for ".len();
    let rest = value.get(at..)?;
    let address = rest
        .split(';')
        .next()?
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (address.contains('@') && !address.contains(char::is_whitespace)).then(|| address.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "Return-Path: <ann@example.com>\r\n\
Received: from mail.example.com (mail.example.com [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com with SMTP id 0a1b2c3d for Support@Acme.example; Thu, 03 Dec 2026 10:00:00 +0000 (UTC)\r\n\
X-SES-Spam-Verdict: PASS\r\n\
X-SES-Virus-Verdict: PASS\r\n\
From: Ann <ann@example.com>\r\n\
To: help@acme.example\r\n\
Subject: =?UTF-8?Q?Caf=C3=A9_order_missing?=\r\n\
Message-ID: <A1@Mail.Example.com>\r\n\
Date: Thu, 03 Dec 2026 09:59:58 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
My order never arrived.\r\n";

    fn at() -> ObjectLocation {
        ObjectLocation {
            bucket: "acme-inbound".into(),
            key: "inbound/0a1b2c3d".into(),
        }
    }

    fn whole(raw: &str) -> RawObject {
        RawObject {
            bytes: raw.as_bytes().to_vec(),
            size: raw.len() as u64,
        }
    }

    #[test]
    fn keys_are_the_receiving_mailbox_and_the_message_id() {
        let m = message_from_object(&whole(RAW), &at()).unwrap();
        // SES's recipient wins over the To header; case does not matter.
        assert_eq!(m.message.grant_id, mailbox_key("support@acme.example"));
        assert_eq!(
            Some(m.message.id.clone()),
            message_key("<a1@mail.example.com>")
        );
        assert_eq!(m.message.subject.as_deref(), Some("Café order missing"));
        assert_eq!(m.truncated_at, None);
        assert_eq!(m.format, BodyFormat::Text);
    }

    #[test]
    fn without_ses_received_or_message_id_the_to_and_the_object_key() {
        let raw = RAW
            .replace("Received: from mail.example.com (mail.example.com [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com with SMTP id 0a1b2c3d for Support@Acme.example; Thu, 03 Dec 2026 10:00:00 +0000 (UTC)\r\n", "")
            .replace("Message-ID: <A1@Mail.Example.com>\r\n", "");
        let m = message_from_object(&whole(&raw), &at()).unwrap();
        assert_eq!(m.message.grant_id, mailbox_key("help@acme.example"));
        assert_eq!(m.message.id, object_key(&at()));
        assert!(m.message.id.starts_with("obj-") && m.message.id.len() == 36);
        let other = ObjectLocation {
            key: "inbound/other".into(),
            ..at()
        };
        assert_ne!(object_key(&other), object_key(&at()));
    }

    #[test]
    fn a_received_field_of_another_server_names_no_recipient() {
        let raw = RAW.replace("amazonaws.com", "mx.example.net");
        let m = message_from_object(&whole(&raw), &at()).unwrap();
        assert_eq!(m.message.grant_id, mailbox_key("help@acme.example"));
    }

    #[test]
    fn a_truncated_object_keeps_what_fits_and_says_so() {
        let mut raw = whole(RAW);
        raw.size += 10_000_000;
        let m = message_from_object(&raw, &at()).unwrap();
        assert_eq!(m.truncated_at, Some((RAW.len() as u64, raw.size)));
        assert_eq!(m.message.subject.as_deref(), Some("Café order missing"));
    }

    #[test]
    fn not_a_message_is_an_error() {
        let empty = RawObject {
            bytes: vec![],
            size: 0,
        };
        assert!(message_from_object(&empty, &at()).is_err());
    }
}

#[cfg(test)]
mod encoded_words {
    use super::*;

    fn subject_of(header: &str) -> Option<String> {
        let raw = format!(
            "From: ann@example.com\r\nTo: support@acme.example\r\nSubject: {header}\r\n\r\nbody\r\n"
        );
        let object = RawObject {
            bytes: raw.clone().into_bytes(),
            size: raw.len() as u64,
        };
        let at = ObjectLocation {
            bucket: "b".into(),
            key: "k".into(),
        };
        message_from_object(&object, &at).unwrap().message.subject
    }

    #[test]
    fn encoded_words_are_decoded_and_common_breakage_repaired() {
        // Adjacent encoded words join without the space between them.
        assert_eq!(
            subject_of("=?utf-8?q?Caf=C3=A9?= =?utf-8?q?_au_lait?=").as_deref(),
            Some("Café au lait")
        );
        // Base64 words, and a character split across two of them (its
        // bytes in each: some mailers cut encoded words by length).
        assert_eq!(
            subject_of("=?utf-8?B?Q2Fmw6k=?= =?utf-8?B?IG9yZGVy?=").as_deref(),
            Some("Café order")
        );
        let split = subject_of("=?utf-8?B?Q2Fmww==?= =?utf-8?B?qSBvcmRlcg==?=").unwrap_or_default();
        assert_eq!(split, "Café order");
        // Another charset, lower-case encoding letter.
        assert_eq!(
            subject_of("=?iso-8859-1?q?K=F6ln?=").as_deref(),
            Some("Köln")
        );
        // Unterminated: kept as written rather than lost.
        let broken = subject_of("=?utf-8?q?never_closed").unwrap_or_default();
        assert!(broken.contains("never"), "{broken}");
        // Raw UTF-8 in the header (not encoded at all) reads as UTF-8.
        assert_eq!(subject_of("Grüße").as_deref(), Some("Grüße"));
    }
}
