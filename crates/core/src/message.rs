//! The core's neutral email message model: every provider yields it (Nylas
//! notifications and API answers, inbound-email payloads, `.eml` files).
//! Its JSON form is the Nylas v3 message object (a webhook's `data.object`,
//! `GET /v3/grants/{grant}/messages/{id}`), so Nylas JSON reads straight in;
//! `grant_id` is the provider's scope (a Nylas grant, a receiving mailbox).

use serde::{Deserialize, Deserializer, Serialize};

/// A sender or recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub email: String,
}

/// One raw header, present only when the message was fetched with
/// `fields=include_headers` (webhook payloads carry none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: String,
}

/// Attachment metadata (never the content).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub filename: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub content_type: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub size: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_inline: bool,
    /// Lower-case hex SHA-256 of the attachment's decoded content (after
    /// its Content-Transfer-Encoding is undone: the bytes `size` counts),
    /// when the pipeline saw the content, i.e. for raw MIME messages
    /// ([`crate::eml`]). `None` when only metadata was given (Nylas API,
    /// inbound-email JSON); absent from the JSON form when `None`, so
    /// existing shapes read and write unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// How `Message::body` is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// Nylas default: HTML.
    #[default]
    Html,
    /// `.cleaned` notifications: Markdown produced by Nylas' cleaner.
    Markdown,
    /// Plain text (e.g. a `text/plain` MIME part).
    Text,
}

/// A message as the pipeline sees it. Unknown fields are ignored; `null`
/// where a list or string is expected reads as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub grant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub from: Vec<Participant>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub to: Vec<Participant>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cc: Vec<Participant>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub bcc: Vec<Participant>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub reply_to: Vec<Participant>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub folders: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub attachments: Vec<Attachment>,
    /// `None`: headers were not fetched. `Some(vec![])`: fetched, none present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<Header>>,
}

impl Message {
    /// The first value of a header, case-insensitive on the name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .as_deref()?
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The sender's address (first `from`), lower-cased.
    pub fn sender_email(&self) -> Option<String> {
        self.from
            .first()
            .map(|p| p.email.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
    }
}

/// Reads JSON `null` as the type's default.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_read_as_empty() {
        let m: Message = serde_json::from_str(
            r#"{"id":"m1","grant_id":"g1","from":null,"to":[{"name":null,"email":"a@b.c"}],"folders":null,"attachments":null}"#,
        )
        .unwrap();
        assert!(m.from.is_empty());
        assert_eq!(m.to[0].email, "a@b.c");
        assert_eq!(m.to[0].name, "");
        assert!(m.folders.is_empty());
        assert!(m.headers.is_none());
    }

    #[test]
    fn header_lookup_is_case_insensitive() {
        let m = Message {
            headers: Some(vec![Header {
                name: "Auto-Submitted".into(),
                value: "auto-replied".into(),
            }]),
            ..Default::default()
        };
        assert_eq!(m.header("auto-submitted"), Some("auto-replied"));
        assert_eq!(m.header("X-Loop"), None);
    }

    #[test]
    fn attachment_without_sha256_keeps_its_json_shape() {
        // The Nylas v3 attachment object (and records stored before the
        // field existed): no `sha256`.
        let old = serde_json::json!({
            "id": "a1",
            "filename": "f.pdf",
            "content_type": "application/pdf",
            "size": 3,
            "is_inline": false
        });
        let a: Attachment = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(a.sha256, None);
        assert_eq!(a.size, 3);
        assert_eq!(serde_json::to_value(&a).unwrap(), old);
        let null: Attachment = serde_json::from_str(r#"{"id":"a1","sha256":null}"#).unwrap();
        assert_eq!(null.sha256, None);

        let hashed = Attachment {
            sha256: Some("ab".repeat(32)),
            ..a
        };
        let json = serde_json::to_value(&hashed).unwrap();
        assert_eq!(json["sha256"], "ab".repeat(32));
        let back: Attachment = serde_json::from_value(json).unwrap();
        assert_eq!(back, hashed);
    }
}
