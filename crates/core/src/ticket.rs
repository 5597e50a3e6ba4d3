//! The ticket model as stored (DynamoDB item / SQLite row) and listed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::classify::Priority;
use crate::message::{Attachment, Participant};

/// Every [`Priority`], lowest first.
pub const PRIORITIES: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

/// The names of [`PRIORITIES`], as stored and accepted ([`Priority::as_str`]).
pub const PRIORITY_NAMES: [&str; 3] = ["low", "medium", "high"];

/// A ticket priority from its name (`low`, `medium`, `high`; trimmed,
/// case-insensitive), for filters read from users: the HTTP API's
/// `?priority=` and the CLI's `--priority`. Unlike `Priority`'s own
/// [`FromStr`], which reports a rules-file error, the error here names the
/// accepted values and nothing else.
pub fn parse_priority(s: &str) -> Result<Priority, UnknownValue> {
    s.parse::<Priority>().map_err(|_| UnknownValue {
        what: "priority",
        value: s.to_string(),
        expected: &PRIORITY_NAMES,
    })
}

/// Where a ticket is in its handling.
///
/// An enum rather than free text so that a later workflow (say `open`,
/// `pending`, `solved`) adds its states here, in one place: the JSON and
/// stored form (serde, [`TicketStatus::as_str`]), parsing ([`FromStr`]),
/// the CLI's `--status` values and the HTTP API's `?status=` check all
/// follow from this list. Today the worker only creates tickets, so there
/// is one state.
///
/// Stored and serialised as its lower-case name, the same string the field
/// held when it was a `String` (`"new"`): SQLite rows, DynamoDB items,
/// stream images and JSON are unchanged, so no migration is needed. A
/// stored value that names no state makes the row or item unreadable
/// (skipped by listings, like any other malformed row).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    /// Created by the worker; nothing has happened to it since.
    #[default]
    New,
}

impl TicketStatus {
    /// Every state, in workflow order.
    pub const ALL: [TicketStatus; 1] = [TicketStatus::New];

    /// The names of [`TicketStatus::ALL`], as stored and accepted.
    pub const NAMES: [&'static str; 1] = ["new"];

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
        }
    }
}

impl FromStr for TicketStatus {
    type Err = UnknownValue;

    /// A state's name ([`TicketStatus::NAMES`]), trimmed and
    /// case-insensitive like [`Priority`]'s.
    fn from_str(s: &str) -> Result<TicketStatus, UnknownValue> {
        let name = s.trim();
        TicketStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownValue {
                what: "status",
                value: s.to_string(),
                expected: &TicketStatus::NAMES,
            })
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ticket priority or status text that names none of the accepted values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}` (expected one of: {})", expected.join(", "))]
pub struct UnknownValue {
    /// `priority` or `status`.
    pub what: &'static str,
    /// The text as given.
    pub value: String,
    /// The accepted names.
    pub expected: &'static [&'static str],
}

impl UnknownValue {
    /// What is accepted, without echoing the value: `priority must be one
    /// of: low, medium, high`.
    pub fn accepted(&self) -> String {
        format!("{} must be one of: {}", self.what, self.expected.join(", "))
    }
}

/// What a rule decided, kept on the ticket for audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRule {
    /// Rule name, e.g. `incidents`, `vip_domain`, `alias`, `mailbox`, `default`.
    pub rule: String,
    /// What it decided, e.g. `category=incidents`, `priority=high`, `queue=billing`.
    pub decision: String,
}

/// Attachment metadata kept on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub inline: bool,
    /// Lower-case hex SHA-256 of the attachment's decoded content, when the
    /// pipeline saw it ([`Attachment::sha256`]). Tickets stored before the
    /// field existed read as `None`; `None` is not serialised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl From<&Attachment> for AttachmentMeta {
    /// Copies the metadata; a `sha256` that is not 64 hex digits is dropped
    /// (it came from outside), a valid one is kept in lower case.
    fn from(a: &Attachment) -> Self {
        AttachmentMeta {
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            inline: a.is_inline,
            sha256: a.sha256.as_deref().and_then(sha256_hex),
        }
    }
}

/// `s` as a lower-case hex SHA-256 digest, if it is one (64 hex digits).
fn sha256_hex(s: &str) -> Option<String> {
    (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// A support ticket. Never holds the full body: `snippet` is short text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// Deterministic: derived from grant id + first message id.
    pub id: String,
    pub grant_id: String,
    /// The message that opened the ticket.
    pub message_id: String,
    pub thread_id: Option<String>,
    pub subject: String,
    pub requester: Participant,
    /// The opening message's `From` address, lower case
    /// ([`crate::threading::address`]): unlike the requester (`Reply-To`
    /// first), not the sender's to choose, so threading's participant
    /// check reads it. `None` without one, and for tickets written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    pub to: Vec<Participant>,
    pub cc: Vec<Participant>,
    pub category: String,
    pub queue: String,
    pub priority: Priority,
    pub status: TicketStatus,
    /// Message `date`, unix seconds.
    pub received_at: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the latest message on the ticket.
    pub last_message_at: i64,
    pub message_count: u32,
    pub message_ids: Vec<String>,
    pub snippet: String,
    pub attachments: Vec<AttachmentMeta>,
    pub applied_rules: Vec<AppliedRule>,
    /// Other keys that thread into this ticket: RFC 5322 `Message-ID`,
    /// `In-Reply-To` and `References` values (angle brackets stripped).
    #[serde(default)]
    pub thread_keys: Vec<String>,
    /// Recipients (`to` and `cc`) beyond [`MAX_RECIPIENTS_KEPT`] per list,
    /// counted but not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recipients_omitted: u32,
    /// Attachments beyond [`MAX_ATTACHMENTS_KEPT`], counted but not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attachments_omitted: u32,
    /// ISO 639-1 code of the opening message's visible text (`en`, `de`),
    /// when detected reliably ([`crate::language`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Longest subject kept on a ticket, in characters.
pub const MAX_SUBJECT_CHARS: usize = 256;
/// Most recipients kept per list (`to`, `cc`); the rest are counted.
pub const MAX_RECIPIENTS_KEPT: usize = 20;
/// Longest name or address kept for a participant, in characters.
pub const MAX_PARTICIPANT_CHARS: usize = 256;
/// Most attachments whose metadata a ticket keeps; the rest are counted.
pub const MAX_ATTACHMENTS_KEPT: usize = 20;
/// Longest attachment file name or content type kept, in characters.
pub const MAX_ATTACHMENT_FIELD_CHARS: usize = 200;

/// `s` cut to at most `max` characters, on a character boundary.
pub fn cap_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => s[..end].to_string(),
        None => s.to_string(),
    }
}

fn capped_participant(p: &Participant) -> Participant {
    Participant {
        name: cap_chars(&p.name, MAX_PARTICIPANT_CHARS),
        email: cap_chars(&p.email, MAX_PARTICIPANT_CHARS),
    }
}

/// The first [`MAX_RECIPIENTS_KEPT`] of a list, capped; returns how many
/// were left out.
fn keep_recipients(list: &mut Vec<Participant>) -> usize {
    let omitted = list.len().saturating_sub(MAX_RECIPIENTS_KEPT);
    list.truncate(MAX_RECIPIENTS_KEPT);
    for p in list.iter_mut() {
        *p = capped_participant(p);
    }
    omitted
}

impl Ticket {
    /// Apply the bounds of what a ticket keeps (subject, recipients,
    /// attachments (a malformed hash is dropped), snippet, threading keys),
    /// counting what is left out.
    /// Tickets are built bounded; listings bound again, for rows written
    /// before the bounds existed.
    pub fn bound(&mut self) {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        if self.subject.chars().count() > MAX_SUBJECT_CHARS {
            self.subject = cap_chars(&self.subject, MAX_SUBJECT_CHARS);
        }
        self.requester = capped_participant(&self.requester);
        let omitted = keep_recipients(&mut self.to) + keep_recipients(&mut self.cc);
        self.recipients_omitted = self.recipients_omitted.saturating_add(count(omitted));
        let omitted = self.attachments.len().saturating_sub(MAX_ATTACHMENTS_KEPT);
        self.attachments.truncate(MAX_ATTACHMENTS_KEPT);
        for a in &mut self.attachments {
            a.filename = cap_chars(&a.filename, MAX_ATTACHMENT_FIELD_CHARS);
            a.content_type = cap_chars(&a.content_type, MAX_ATTACHMENT_FIELD_CHARS);
            a.sha256 = a.sha256.as_deref().and_then(sha256_hex);
        }
        self.attachments_omitted = self.attachments_omitted.saturating_add(count(omitted));
        if self.snippet.chars().count() > SNIPPET_CHARS {
            self.snippet = cap_chars(&self.snippet, SNIPPET_CHARS);
        }
        self.thread_keys.truncate(MAX_THREAD_KEYS);
    }
}

/// Longest snippet kept on a ticket, in characters.
pub const SNIPPET_CHARS: usize = 280;

/// Deterministic ticket id for the first message of a ticket:
/// `t_` + the first 24 hex digits of SHA-256(grant_id NUL message_id).
pub fn ticket_id(grant_id: &str, message_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(grant_id.as_bytes());
    h.update([0u8]);
    h.update(message_id.as_bytes());
    let digest = h.finalize();
    format!("t_{}", &hex::encode(digest)[..24])
}

/// Cut text to at most `max` characters on a char boundary, collapsing whitespace.
pub fn snippet(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        let needed = word.chars().count() + usize::from(!out.is_empty());
        if count + needed > max {
            if out.is_empty() {
                out.extend(word.chars().take(max));
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        count += needed;
    }
    out
}

/// Result of writing a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketWrite {
    /// A new ticket was created with this id.
    Created { ticket_id: String },
    /// The message joined an existing ticket, found by `signal`.
    Appended {
        ticket_id: String,
        signal: crate::threading::Signal,
    },
    /// This message was already on the ticket (a redelivery): nothing changed.
    AlreadyRecorded { ticket_id: String },
}

impl TicketWrite {
    pub fn ticket_id(&self) -> &str {
        match self {
            TicketWrite::Created { ticket_id }
            | TicketWrite::Appended { ticket_id, .. }
            | TicketWrite::AlreadyRecorded { ticket_id } => ticket_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_id_is_deterministic_and_distinct() {
        let a = ticket_id("g1", "m1");
        assert_eq!(a, ticket_id("g1", "m1"));
        assert_ne!(a, ticket_id("g1", "m2"));
        // The separator keeps ("g1m", "1") apart from ("g1", "m1").
        assert_ne!(a, ticket_id("g1m", "1"));
        assert!(a.starts_with("t_") && a.len() == 26);
    }

    #[test]
    fn status_parses_prints_and_serialises_as_its_name() {
        assert_eq!(TicketStatus::ALL.len(), TicketStatus::NAMES.len());
        for (status, name) in TicketStatus::ALL.into_iter().zip(TicketStatus::NAMES) {
            assert_eq!(status.as_str(), name);
            assert_eq!(status.to_string(), name);
            assert_eq!(name.parse::<TicketStatus>(), Ok(status));
            assert_eq!(
                format!(" {} ", name.to_ascii_uppercase()).parse::<TicketStatus>(),
                Ok(status)
            );
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<TicketStatus>(&json).unwrap(), status);
        }
        assert_eq!(TicketStatus::default(), TicketStatus::New);
        let e = "open".parse::<TicketStatus>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown status `open` (expected one of: new)"
        );
        assert_eq!(e.accepted(), "status must be one of: new");
        assert!("".parse::<TicketStatus>().is_err());
        assert!(serde_json::from_str::<TicketStatus>(r#""open""#).is_err());
    }

    #[test]
    fn priority_parses_and_serialises_as_its_name() {
        // Every variant is listed (a new one fails to compile here).
        let index = |p: Priority| match p {
            Priority::Low => 0,
            Priority::Medium => 1,
            Priority::High => 2,
        };
        for (p, name) in PRIORITIES.into_iter().zip(PRIORITY_NAMES) {
            assert_eq!(PRIORITIES[index(p)], p);
            assert_eq!(p.as_str(), name);
            assert_eq!(parse_priority(name), Ok(p));
            assert_eq!(parse_priority(&name.to_ascii_uppercase()), Ok(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Priority>(&json).unwrap(), p);
        }
        assert!(PRIORITIES.windows(2).all(|w| w[0] < w[1]), "lowest first");
        let e = parse_priority("urgent").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown priority `urgent` (expected one of: low, medium, high)"
        );
        assert_eq!(e.accepted(), "priority must be one of: low, medium, high");
        for stored in [r#""normal""#, r#""High""#, r#""""#, "3"] {
            assert!(
                serde_json::from_str::<Priority>(stored).is_err(),
                "{stored}"
            );
        }
    }

    #[test]
    fn snippet_cuts_on_words_and_chars() {
        assert_eq!(snippet("  hello   world  ", 280), "hello world");
        assert_eq!(snippet("hello world", 8), "hello");
        assert_eq!(snippet("ééééééééééé", 3), "ééé");
        assert_eq!(snippet("", 10), "");
    }
}

/// Threading keys from RFC 5322 headers: this message's `Message-ID` and
/// the ids in `In-Reply-To` and `References`, angle brackets stripped,
/// lower-cased, at most `MAX_THREAD_KEYS`.
pub fn thread_keys(msg: &crate::message::Message) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for name in ["Message-ID", "In-Reply-To", "References"] {
        let Some(value) = msg.header(name) else {
            continue;
        };
        for token in value.split(|c: char| c.is_whitespace() || c == ',') {
            let id = token
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim();
            if id.len() < 3 || !id.contains('@') || id.len() > 256 {
                continue;
            }
            let id = id.to_ascii_lowercase();
            if !keys.contains(&id) {
                keys.push(id);
            }
            if keys.len() >= MAX_THREAD_KEYS {
                return keys;
            }
        }
    }
    keys
}

/// Most threading keys kept per message (long `References` chains are cut).
pub const MAX_THREAD_KEYS: usize = 20;

/// Build the ticket for a message that passed the filters.
pub fn build_ticket(
    msg: &crate::message::Message,
    class: &crate::classify::Classification,
    visible_text: &str,
    now_s: i64,
) -> Ticket {
    let requester = msg
        .reply_to
        .first()
        .or(msg.from.first())
        .cloned()
        .unwrap_or_default();
    let received_at = msg.date.unwrap_or(now_s);
    let text = if visible_text.trim().is_empty() {
        msg.snippet.as_deref().unwrap_or("")
    } else {
        visible_text
    };
    let mut ticket = Ticket {
        id: ticket_id(&msg.grant_id, &msg.id),
        grant_id: msg.grant_id.clone(),
        message_id: msg.id.clone(),
        thread_id: msg.thread_id.clone().filter(|t| !t.is_empty()),
        subject: msg.subject.clone().unwrap_or_default(),
        requester,
        sender: msg
            .from
            .first()
            .and_then(|p| crate::threading::address(&p.email)),
        to: msg.to.clone(),
        cc: msg.cc.clone(),
        category: class.category.clone(),
        queue: class.queue.clone(),
        priority: class.priority,
        status: TicketStatus::New,
        received_at,
        created_at: now_s,
        last_message_at: received_at,
        message_count: 1,
        message_ids: vec![msg.id.clone()],
        snippet: snippet(text, SNIPPET_CHARS),
        attachments: msg.attachments.iter().map(AttachmentMeta::from).collect(),
        applied_rules: class.applied_rules.clone(),
        thread_keys: thread_keys(msg),
        recipients_omitted: 0,
        attachments_omitted: 0,
        language: class.language.clone(),
    };
    ticket.bound();
    ticket
}

#[cfg(test)]
mod build_tests {
    use super::*;
    use crate::classify::{Classification, Priority};
    use crate::message::{Header, Message};

    #[test]
    fn builds_from_message_without_the_body() {
        let msg = Message {
            id: "m1".into(),
            grant_id: "g1".into(),
            thread_id: Some("th".into()),
            subject: Some("Refund please".into()),
            from: vec![Participant {
                name: "A".into(),
                email: "a@x.io".into(),
            }],
            date: Some(100),
            body: Some("<p>secret body text</p>".into()),
            attachments: vec![Attachment {
                filename: "f.pdf".into(),
                content_type: "application/pdf".into(),
                size: 10,
                ..Default::default()
            }],
            headers: Some(vec![
                Header {
                    name: "Message-ID".into(),
                    value: "<ABC@mail.x.io>".into(),
                },
                Header {
                    name: "References".into(),
                    value: "<r1@x.io> <r2@x.io>\r\n <abc@mail.x.io> junk".into(),
                },
            ]),
            ..Default::default()
        };
        let class = Classification {
            category: "billing".into(),
            queue: "billing".into(),
            priority: Priority::Medium,
            applied_rules: vec![],
            language: Some("en".into()),
        };
        let t = build_ticket(&msg, &class, "please refund me", 200);
        assert_eq!(t.id, ticket_id("g1", "m1"));
        assert_eq!(t.requester.email, "a@x.io");
        assert_eq!((t.received_at, t.created_at), (100, 200));
        assert_eq!(t.priority, Priority::Medium);
        assert_eq!(t.status, TicketStatus::New);
        assert_eq!(t.snippet, "please refund me");
        assert_eq!(t.thread_keys, ["abc@mail.x.io", "r1@x.io", "r2@x.io"]);
        assert_eq!(t.attachments[0].filename, "f.pdf");
        let json = serde_json::to_string(&t).unwrap();
        assert!(!json.contains("secret body text"));
        assert!(!json.contains("omitted"), "zero counts are not serialised");
        assert!(
            json.contains(r#""priority":"medium","status":"new""#),
            "the same strings as when they were text: {json}"
        );
    }

    #[test]
    fn what_a_ticket_keeps_is_bounded() {
        let p = |i: usize| Participant {
            name: "N".repeat(5_000),
            email: format!("user{i}@example.org"),
        };
        let msg = Message {
            id: "m1".into(),
            grant_id: "g1".into(),
            subject: Some("é".repeat(100_000)),
            from: vec![p(0)],
            to: (0..5_000).map(p).collect(),
            cc: (0..30).map(p).collect(),
            attachments: (0..500)
                .map(|i| Attachment {
                    filename: format!("{i}{}", "f".repeat(10_000)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let class = Classification {
            category: "general".into(),
            queue: "support".into(),
            priority: Priority::Low,
            applied_rules: vec![],
            language: Some("en".into()),
        };
        let t = build_ticket(&msg, &class, "", 1);
        assert_eq!(t.subject.chars().count(), MAX_SUBJECT_CHARS);
        assert_eq!(
            (t.to.len(), t.cc.len()),
            (MAX_RECIPIENTS_KEPT, MAX_RECIPIENTS_KEPT)
        );
        assert_eq!(t.recipients_omitted, 5_000 - 20 + 30 - 20);
        assert_eq!(t.attachments.len(), MAX_ATTACHMENTS_KEPT);
        assert_eq!(t.attachments_omitted, 480);
        assert_eq!(t.requester.name.chars().count(), MAX_PARTICIPANT_CHARS);
        let bytes = serde_json::to_vec(&t).unwrap().len();
        assert!(bytes < 64 * 1024, "{bytes}");
        let back: Ticket = serde_json::from_slice(&serde_json::to_vec(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn attachment_meta_without_sha256_keeps_its_json_shape() {
        // As stored (SQLite JSON column, DynamoDB item) before the field.
        let old = serde_json::json!({
            "filename": "f.pdf",
            "content_type": "application/pdf",
            "size": 3,
            "inline": false
        });
        let a: AttachmentMeta = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(a.sha256, None);
        assert_eq!(serde_json::to_value(&a).unwrap(), old);

        let hashed = AttachmentMeta {
            sha256: Some("0f".repeat(32)),
            ..a
        };
        let json = serde_json::to_value(&hashed).unwrap();
        assert_eq!(json["sha256"], "0f".repeat(32));
        assert_eq!(
            serde_json::from_value::<AttachmentMeta>(json).unwrap(),
            hashed
        );
    }

    #[test]
    fn ticket_keeps_a_valid_attachment_hash_only() {
        let hash = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        let with = |sha256: Option<String>| Attachment {
            filename: "f".into(),
            sha256,
            ..Default::default()
        };
        let meta = |a: &Attachment| AttachmentMeta::from(a).sha256;
        assert_eq!(meta(&with(Some(hash.into()))).as_deref(), Some(hash));
        assert_eq!(
            meta(&with(Some(hash.to_ascii_uppercase()))).as_deref(),
            Some(hash)
        );
        assert_eq!(meta(&with(None)), None);
        assert_eq!(meta(&with(Some("00".into()))), None);
        assert_eq!(meta(&with(Some("g".repeat(64)))), None);
        assert_eq!(meta(&with(Some("é".repeat(32)))), None);

        let msg = Message {
            id: "m1".into(),
            grant_id: "g1".into(),
            attachments: vec![with(Some(hash.into())), with(Some("x".repeat(100_000)))],
            ..Default::default()
        };
        let class = Classification {
            category: "general".into(),
            queue: "support".into(),
            priority: Priority::Low,
            applied_rules: vec![],
            language: None,
        };
        let mut t = build_ticket(&msg, &class, "", 1);
        assert_eq!(t.attachments[0].sha256.as_deref(), Some(hash));
        assert_eq!(t.attachments[1].sha256, None);
        // Rows read back are bounded again.
        t.attachments[1].sha256 = Some("y".repeat(100_000));
        t.bound();
        assert_eq!(t.attachments[1].sha256, None);
        assert_eq!(t.attachments[0].sha256.as_deref(), Some(hash));
    }

    #[test]
    fn stored_ticket_without_attachment_hashes_reads() {
        let msg = Message {
            id: "m1".into(),
            grant_id: "g1".into(),
            attachments: vec![Attachment {
                filename: "f.pdf".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let class = Classification {
            category: "general".into(),
            queue: "support".into(),
            priority: Priority::Low,
            applied_rules: vec![],
            language: None,
        };
        let t = build_ticket(&msg, &class, "", 1);
        let json = serde_json::to_string(&t).unwrap();
        assert!(!json.contains("sha256"), "{json}");
        let back: Ticket = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }
}
