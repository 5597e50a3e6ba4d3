//! The signed inbound-email JSON family's payload (MailParse, CloudMailin
//! style): a parsed email POSTed as JSON, read liberally and turned into
//! the core's [`Message`].
//!
//! Required: `from` (an address, or a list whose first entry is used), and
//! `text` or `html` (either may be empty). Everything else is optional:
//! `message_id`, `in_reply_to`, `references` (a string or a list), `to`/`cc`
//! (lists, or one address), `subject`, `headers` (an object whose values are
//! strings or lists, or a list of `{"name", "value"}` pairs), `attachments`
//! (`filename`, `content_type`, `size`; `url` and `sha256` are accepted),
//! `received_at` (RFC 3339, RFC 2822 or unix time; unreadable reads as
//! unknown), `id` or `event_id`, and `envelope` (`to`, `from`: the SMTP
//! envelope). An address is `{"email", "name"}` or a string
//! (`"Ann <ann@example.com>"` or a bare address). Unknown fields are ignored.
//!
//! The message id is a digest of the RFC `Message-ID` (angle brackets
//! stripped, lower case; [`message_key`]): a redelivery of the same email
//! under a new event id is the same message. An email without one gets a
//! stable id from its sender, date, subject and a digest of its content.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

use crate::message::{Attachment, BodyFormat, Header, Message, Participant};

/// An address in either shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Address {
    Object {
        #[serde(default)]
        email: Option<String>,
        #[serde(default)]
        name: Option<String>,
    },
    Text(String),
}

impl Address {
    fn participant(self) -> Participant {
        match self {
            Address::Object { email, name } => Participant {
                name: name.unwrap_or_default(),
                email: email.unwrap_or_default().trim().to_string(),
            },
            Address::Text(text) => parse_address(&text),
        }
    }
}

/// `Ann <ann@example.com>`, `<ann@example.com>` or `ann@example.com`.
fn parse_address(text: &str) -> Participant {
    let text = text.trim();
    match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => Participant {
            name: text[..open].trim().trim_matches('"').trim().to_string(),
            email: text[open + 1..close].trim().to_string(),
        },
        _ => Participant {
            name: String::new(),
            email: text.to_string(),
        },
    }
}

/// One address or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Addresses {
    List(Vec<Address>),
    One(Address),
}

impl Addresses {
    fn participants(self) -> Vec<Participant> {
        match self {
            Addresses::List(list) => list.into_iter().map(Address::participant).collect(),
            Addresses::One(a) => vec![a.participant()],
        }
    }
}

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn values(self) -> Vec<String> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct InboundAttachment {
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
struct Envelope {
    #[serde(default)]
    to: Option<Addresses>,
}

/// `headers`: an object (a value may be a string or a list of strings), or
/// a list of `{"name", "value"}` pairs (either capitalisation).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Headers {
    Map(serde_json::Map<String, serde_json::Value>),
    List(Vec<HeaderPair>),
}

#[derive(Debug, Clone, Deserialize)]
struct HeaderPair {
    #[serde(alias = "Name")]
    name: String,
    #[serde(default, alias = "Value")]
    value: String,
}

/// The string values of one header in the object form.
fn header_values(value: serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => vec![s],
        serde_json::Value::Array(items) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// `received_at` as unix seconds: RFC 3339, RFC 2822, or a number (seconds,
/// or milliseconds when that large). Anything else reads as unknown (the
/// ticket then uses the time it was written): a date is never worth
/// refusing mail over.
fn unix_seconds(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => {
            let v = n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?;
            Some(if v.abs() > 100_000_000_000 {
                v / 1000
            } else {
                v
            })
        }
        serde_json::Value::String(s) => {
            let s = s.trim();
            OffsetDateTime::parse(s, &Rfc3339)
                .or_else(|_| OffsetDateTime::parse(s, &Rfc2822))
                .map(OffsetDateTime::unix_timestamp)
                .ok()
                .or_else(|| s.parse::<i64>().ok())
        }
        _ => None,
    }
}

/// The payload as posted.
#[derive(Debug, Clone, Deserialize)]
struct Payload {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    in_reply_to: Option<String>,
    #[serde(default)]
    references: Option<OneOrMany>,
    from: Addresses,
    #[serde(default)]
    to: Option<Addresses>,
    #[serde(default)]
    cc: Option<Addresses>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    html: Option<String>,
    #[serde(default)]
    headers: Option<Headers>,
    #[serde(default)]
    attachments: Option<Vec<InboundAttachment>>,
    #[serde(default)]
    received_at: Option<serde_json::Value>,
    #[serde(default)]
    envelope: Option<Envelope>,
}

/// One parsed inbound email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEmail {
    /// The provider's event id (`id` or `event_id`), if it sent one: it
    /// changes across redeliveries, so it is logged, never deduplicated on.
    pub event_id: Option<String>,
    /// The message, its id the normalised `Message-ID` (or a stable digest),
    /// its `grant_id` the receiving mailbox (see [`parse`]).
    pub message: Message,
    pub format: BodyFormat,
    /// SMTP envelope recipients, when the payload carries them.
    pub envelope_to: Vec<String>,
}

/// Why a payload cannot be used (400). Never quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("payload: {0}")]
    Shape(String),
    #[error("payload has no sender address (`from`)")]
    NoSender,
    #[error("payload has neither `text` nor `html`")]
    NoBody,
}

/// A `Message-ID` without angle brackets, lower case; `None` when empty.
pub fn normalise_message_id(raw: &str) -> Option<String> {
    let id = raw
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.to_ascii_lowercase())
}

/// The dedupe key of an RFC `Message-ID`: `mid-` and 32 hex digits of the
/// SHA-256 of the normalised id. Opaque and bounded, so it is safe as a
/// key and in logs (a `Message-ID` can carry a host name or an address and
/// be up to 998 characters); every family that sees RFC `Message-ID`s keys
/// on it, so one mail arriving by two paths is one message.
pub fn message_key(raw: &str) -> Option<String> {
    normalise_message_id(raw)
        .map(|id| format!("mid-{}", &hex::encode(Sha256::digest(id.as_bytes()))[..32]))
}

/// The scope key of a receiving mailbox: `mbx-` and 24 hex digits of the
/// SHA-256 of the lower-cased address. Opaque, so keys and logs carry no
/// address; the same for every family that knows the receiving mailbox.
pub fn mailbox_key(address: &str) -> String {
    let address = address.trim().to_ascii_lowercase();
    format!(
        "mbx-{}",
        &hex::encode(Sha256::digest(address.as_bytes()))[..24]
    )
}

/// Parse a payload. The message's scope (its `grant_id`: ids are unique
/// within it, as within a Nylas grant) is the receiving mailbox
/// ([`mailbox_key`]): the first SMTP envelope recipient, else the first `to`
/// address, else `default_scope`.
pub fn parse(body: &[u8], default_scope: &str) -> Result<InboundEmail, InboundError> {
    let p: Payload = crate::json_error::from_slice(body).map_err(InboundError::Shape)?;
    let from = p.from.participants().into_iter().next().unwrap_or_default();
    if from.email.is_empty() {
        return Err(InboundError::NoSender);
    }
    if p.text.is_none() && p.html.is_none() {
        return Err(InboundError::NoBody);
    }
    let date = p.received_at.as_ref().and_then(unix_seconds);
    let mut headers: Vec<Header> = Vec::new();
    match p.headers {
        None => {}
        Some(Headers::Map(map)) => {
            for (name, value) in map {
                headers.extend(header_values(value).into_iter().map(|value| Header {
                    name: name.clone(),
                    value,
                }));
            }
        }
        Some(Headers::List(list)) => {
            headers.extend(list.into_iter().map(|h| Header {
                name: h.name,
                value: h.value,
            }));
        }
    }
    // The threading fields, as headers when the payload did not repeat them.
    let references = p.references.map(OneOrMany::values).unwrap_or_default();
    for (name, value) in [
        ("Message-ID", p.message_id.clone()),
        ("In-Reply-To", p.in_reply_to.clone()),
        (
            "References",
            (!references.is_empty()).then(|| references.join(" ")),
        ),
    ] {
        if let Some(v) = value.filter(|v| !v.trim().is_empty())
            && !headers.iter().any(|h| h.name.eq_ignore_ascii_case(name))
        {
            headers.push(Header {
                name: name.to_string(),
                value: v,
            });
        }
    }
    let (body, format) = match (p.html, p.text) {
        (Some(html), _) if !html.trim().is_empty() => (html, BodyFormat::Html),
        (_, Some(text)) => (text, BodyFormat::Text),
        (Some(html), None) => (html, BodyFormat::Html),
        (None, None) => return Err(InboundError::NoBody),
    };
    let subject = p.subject;
    let id = p
        .message_id
        .as_deref()
        .and_then(message_key)
        .unwrap_or_else(|| content_id(&from.email, date, subject.as_deref(), &body));
    let to = p.to.map(Addresses::participants).unwrap_or_default();
    let envelope_to: Vec<String> = p
        .envelope
        .and_then(|e| e.to)
        .map(Addresses::participants)
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.email)
        .filter(|e| !e.is_empty())
        .collect();
    let scope = envelope_to
        .first()
        .or(to.iter().map(|p| &p.email).find(|e| !e.is_empty()))
        .map_or_else(|| default_scope.to_string(), |m| mailbox_key(m));
    let message = Message {
        id,
        grant_id: scope,
        thread_id: None,
        subject,
        from: vec![from],
        to,
        cc: p.cc.map(Addresses::participants).unwrap_or_default(),
        date,
        body: Some(body),
        folders: Vec::new(),
        attachments: p
            .attachments
            .unwrap_or_default()
            .into_iter()
            .map(|a| Attachment {
                filename: a.filename.unwrap_or_default(),
                content_type: a.content_type.unwrap_or_default(),
                size: a.size.unwrap_or_default(),
                ..Default::default()
            })
            .collect(),
        headers: Some(headers),
        ..Default::default()
    };
    Ok(InboundEmail {
        event_id: p.id.or(p.event_id).filter(|e| !e.trim().is_empty()),
        message,
        format,
        envelope_to,
    })
}

/// A stable id for an email without a `Message-ID`: the same email posted
/// twice gets the same id, whatever its event id.
fn content_id(sender: &str, date: Option<i64>, subject: Option<&str>, body: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        sender.to_ascii_lowercase().as_bytes(),
        date.unwrap_or_default().to_string().as_bytes(),
        subject.unwrap_or_default().as_bytes(),
        body.as_bytes(),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    format!("sha256-{}", &hex::encode(h.finalize())[..40])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse_json(v: serde_json::Value) -> Result<InboundEmail, InboundError> {
        parse(v.to_string().as_bytes(), "mailbox:support")
    }

    fn full() -> serde_json::Value {
        json!({
            "event_id": "evt_1",
            "message_id": "<CAF=Abc@mail.example.com>",
            "in_reply_to": "<prev@mail.example.com>",
            "references": ["<root@mail.example.com>", "<prev@mail.example.com>"],
            "from": {"email": "ann@example.com", "name": "Ann"},
            "to": [{"email": "support@acme.io", "name": "Support"}, "Bob <bob@acme.io>"],
            "cc": "carol@example.org",
            "subject": "Refund please",
            "text": "I was charged twice.",
            "html": "<p>I was charged twice.</p>",
            "headers": {"Auto-Submitted": "no", "Received": ["a", "b"], "X-Odd": 5},
            "attachments": [{"filename": "invoice.pdf", "content_type": "application/pdf",
                             "size": 1234, "url": "https://files.example/x", "sha256": "00"}],
            "received_at": "2026-11-29T10:00:00Z",
            "envelope": {"to": ["support+billing@acme.io"], "from": "ann@example.com"},
        })
    }

    #[test]
    fn a_full_payload_becomes_a_message() {
        let e = parse_json(full()).unwrap();
        let m = &e.message;
        assert_eq!(m.id, message_key("<caf=abc@MAIL.example.com> ").unwrap());
        assert!(m.id.starts_with("mid-") && m.id.len() == 36, "{}", m.id);
        assert!(!m.id.contains('@'));
        // Scoped by the receiving mailbox: the SMTP envelope recipient.
        assert_eq!(m.grant_id, mailbox_key("Support+Billing@acme.io"));
        assert!(m.grant_id.starts_with("mbx-") && !m.grant_id.contains('@'));
        assert_eq!(e.event_id.as_deref(), Some("evt_1"));
        assert_eq!(m.from[0].email, "ann@example.com");
        assert_eq!(m.to[1].name, "Bob");
        assert_eq!(m.to[1].email, "bob@acme.io");
        assert_eq!(m.cc[0].email, "carol@example.org");
        assert_eq!(m.date, Some(1_795_946_400));
        assert_eq!(e.format, BodyFormat::Html);
        assert_eq!(m.header("received"), Some("a"));
        assert_eq!(m.header("Auto-Submitted"), Some("no"));
        assert_eq!(m.header("Message-ID"), Some("<CAF=Abc@mail.example.com>"));
        assert_eq!(
            m.header("References"),
            Some("<root@mail.example.com> <prev@mail.example.com>")
        );
        assert_eq!(m.attachments[0].size, 1234);
        assert_eq!(e.envelope_to, ["support+billing@acme.io"]);
        // Threading keys come from the headers, as for any message.
        let keys = crate::ticket::thread_keys(m);
        assert!(
            keys.contains(&"prev@mail.example.com".to_string()),
            "{keys:?}"
        );
    }

    #[test]
    fn a_minimal_payload_is_accepted() {
        let e = parse_json(json!({"from": "ann@example.com", "text": ""})).unwrap();
        assert_eq!(e.format, BodyFormat::Text);
        assert!(e.message.id.starts_with("sha256-"));
        assert!(e.message.to.is_empty() && e.event_id.is_none());
        // No recipient at all: the default scope.
        assert_eq!(e.message.grant_id, "mailbox:support");
    }

    #[test]
    fn the_scope_is_the_first_to_without_an_smtp_envelope() {
        let mut v = full();
        v.as_object_mut().unwrap().remove("envelope");
        assert_eq!(
            parse_json(v.clone()).unwrap().message.grant_id,
            mailbox_key("support@acme.io")
        );
        v["to"] = json!(["Help Desk <HELP@Acme.io>"]);
        assert_eq!(
            parse_json(v).unwrap().message.grant_id,
            mailbox_key("help@acme.io")
        );
    }

    #[test]
    fn a_redelivery_with_a_new_event_id_is_the_same_message() {
        let mut again = full();
        again["event_id"] = json!("evt_2");
        let (a, b) = (parse_json(full()).unwrap(), parse_json(again).unwrap());
        assert_ne!(a.event_id, b.event_id);
        assert_eq!(a.message.id, b.message.id);
        // Without a Message-ID, the content decides.
        let bare = json!({"from": "ann@example.com", "subject": "Hi", "text": "hello",
                          "received_at": "2026-11-29T10:00:00+01:00", "id": "e1"});
        let mut bare2 = bare.clone();
        bare2["id"] = json!("e2");
        let mut other = bare.clone();
        other["text"] = json!("hello!");
        let id = |v| parse_json(v).unwrap().message.id;
        assert_eq!(id(bare.clone()), id(bare2));
        assert_ne!(id(bare), id(other));
    }

    #[test]
    fn the_filters_read_the_payload_headers() {
        use crate::filters::{FilterContext, SkipReason, skip_reason};
        let ours = vec!["support@acme.io".to_string()];
        let ctx = FilterContext {
            support_addresses: &ours,
            folder_roles: None,
            origin: crate::provider::Origin::default(),
            allow_historic: false,
            list_mailboxes: &[],
        };
        let mut auto = full();
        auto["headers"] = json!({"Auto-Submitted": "auto-replied"});
        let m = parse_json(auto).unwrap().message;
        assert!(matches!(
            skip_reason(&m, &ctx),
            Some(SkipReason::AutoReply(_))
        ));
        let human = parse_json(full()).unwrap().message;
        assert_eq!(skip_reason(&human, &ctx), None);
        let mut own = full();
        own["from"] = json!("Support <support@acme.io>");
        let m = parse_json(own).unwrap().message;
        assert!(
            skip_reason(&m, &ctx).is_some(),
            "our own outbound is skipped"
        );
    }

    #[test]
    fn liberal_dates_headers_and_senders() {
        let date = |v: serde_json::Value| {
            parse_json(json!({"from": "a@b.c", "text": "x", "received_at": v}))
                .unwrap()
                .message
                .date
        };
        assert_eq!(date(json!("2025-12-01T00:00:00Z")), Some(1_764_547_200));
        assert_eq!(
            date(json!("Mon, 01 Dec 2025 00:00:00 +0000")),
            Some(1_764_547_200)
        );
        assert_eq!(date(json!(1_764_547_200)), Some(1_764_547_200));
        assert_eq!(date(json!(1_764_547_200_123_i64)), Some(1_764_547_200));
        assert_eq!(date(json!("yesterday")), None);
        assert_eq!(date(json!({"at": 1})), None);
        // Headers as a list of pairs (either capitalisation); `from` as a list.
        let e = parse_json(json!({
            "from": [{"email": "ann@example.com"}, "bob@example.com"], "text": "x",
            "headers": [{"Name": "Auto-Submitted", "Value": "auto-replied"},
                        {"name": "X-Other", "value": "1"}],
        }))
        .unwrap();
        assert_eq!(e.message.from.len(), 1);
        assert_eq!(e.message.from[0].email, "ann@example.com");
        assert_eq!(e.message.header("auto-submitted"), Some("auto-replied"));
        assert_eq!(e.message.header("x-other"), Some("1"));
    }

    #[test]
    fn unusable_payloads_are_refused_without_their_values() {
        for (v, want) in [
            (json!({"text": "x"}), "payload: missing field `from`"),
            (
                json!({"from": {"name": "No Address"}, "text": "x"}),
                "payload has no sender address",
            ),
            (json!({"from": "a@b.c"}), "payload has neither"),
            (
                json!({"from": "a@b.c", "text": ["carol@example.org"]}),
                "field text: wrong type",
            ),
            (json!({"from": 5, "text": "x"}), "field from"),
        ] {
            let e = parse_json(v).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("carol"), "{e}");
        }
        assert!(parse(b"not json", "s").is_err());
    }
}
