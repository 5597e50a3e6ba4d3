//! Webhook notification parsing: the Nylas v3 CloudEvents-style shape
//! (`type`, `id`, `data.object`) and the older `deltas[]` shape.
//!
//! Parsing borrows from the body and reads only the fields routing needs, in
//! one pass; the notification itself travels verbatim in the queue envelope.

use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::message_check::{MessageIds, check_message};

/// Suffixes a notification type may carry after its base type.
pub const KNOWN_SUFFIXES: [&str; 3] = ["truncated", "cleaned", "transformed"];

/// A notification type split into its base (`message.created`) and suffixes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventType {
    pub base: String,
    /// `.truncated`: the body was removed (payload over 1 MB); re-fetch.
    pub truncated: bool,
    /// `.cleaned`: the body is cleaned Markdown.
    pub cleaned: bool,
    /// `.transformed`.
    pub transformed: bool,
}

/// Why a notification cannot be used. All map to 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("body is not valid UTF-8 JSON")]
    NotJson,
    #[error("JSON is not a notification: {0}")]
    NotANotification(&'static str),
    #[error("notification type is malformed")]
    BadType,
    /// A `message.*` object the worker could not read as a message (a field
    /// of the wrong type, a duplicate key): the field, never its value.
    #[error("message object: {0}")]
    InvalidMessage(String),
}

impl EventType {
    /// Parse `message.created.truncated.cleaned` and the like. Suffixes may
    /// come in any order and combination; the base needs two or more
    /// dot-separated segments of `[a-z0-9_]`.
    pub fn parse(raw: &str) -> Result<EventType, NotificationError> {
        if raw.is_empty() || raw.len() > 128 {
            return Err(NotificationError::BadType);
        }
        let mut t = EventType::default();
        let mut base_end = raw.len();
        let segments: Vec<&str> = raw.split('.').collect();
        let mut n = segments.len();
        while n > 2 {
            let seg = segments[n - 1];
            let flag = match seg {
                "truncated" => &mut t.truncated,
                "cleaned" => &mut t.cleaned,
                "transformed" => &mut t.transformed,
                _ => break,
            };
            if *flag {
                return Err(NotificationError::BadType);
            }
            *flag = true;
            base_end -= seg.len() + 1;
            n -= 1;
        }
        let base = &raw[..base_end];
        let valid_segment = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if n < 2 || !base.split('.').all(valid_segment) {
            return Err(NotificationError::BadType);
        }
        t.base = base.to_string();
        Ok(t)
    }

    /// The suffixes present, in canonical order.
    pub fn suffixes(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.truncated {
            v.push("truncated");
        }
        if self.cleaned {
            v.push("cleaned");
        }
        if self.transformed {
            v.push("transformed");
        }
        v
    }
}

/// Which payload shape an item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    V3,
    Deltas,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::V3 => "v3",
            Shape::Deltas => "deltas",
        }
    }
}

/// One notification: a v3 body yields one, a `deltas[]` body one per entry.
#[derive(Debug, Clone)]
pub struct NotificationItem<'a> {
    /// The provider's notification id (stable across retries). For the
    /// `deltas[]` shape, which has none, a digest of the entry.
    pub notification_id: String,
    /// The full type string as received.
    pub type_raw: &'a str,
    pub event_type: EventType,
    pub source: Option<&'a str>,
    /// Unix seconds.
    pub time: Option<i64>,
    pub delivery_attempt: Option<u32>,
    pub grant_id: Option<String>,
    /// The object's id: the message id for `message.*` types.
    pub object_id: Option<String>,
    /// The message's thread id (`message.*` types).
    pub thread_id: Option<String>,
    /// The notification verbatim (the whole v3 body, or one delta entry):
    /// valid JSON, checked while parsing.
    pub raw: &'a str,
    pub shape: Shape,
}

#[derive(Deserialize)]
struct Top<'a> {
    #[serde(rename = "type", borrow, default)]
    ty: Option<&'a str>,
    #[serde(default)]
    id: Option<String>,
    #[serde(borrow, default)]
    source: Option<&'a str>,
    #[serde(default)]
    time: Option<i64>,
    #[serde(default)]
    webhook_delivery_attempt: Option<u32>,
    #[serde(borrow, default)]
    data: Option<V3Data<'a>>,
    #[serde(borrow, default)]
    deltas: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct V3Data<'a> {
    #[serde(borrow, default)]
    object: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ObjectIds {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    grant_id: Option<String>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(rename = "type", borrow, default)]
    ty: Option<&'a str>,
    #[serde(default)]
    date: Option<i64>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// The ids of a notification's object. A `message.*` object must read as a
/// message (what the worker will parse); others need only string ids.
fn object_ids(
    event_type: &EventType,
    object: Option<&RawValue>,
) -> Result<MessageIds, NotificationError> {
    let Some(object) = object else {
        return Ok(MessageIds::default());
    };
    if event_type.base.starts_with("message.") {
        return check_message(object.get()).map_err(NotificationError::InvalidMessage);
    }
    let ids: ObjectIds = serde_json::from_str(object.get())
        .map_err(|_| NotificationError::NotANotification("object ids are not strings"))?;
    Ok(MessageIds {
        id: ids.id,
        grant_id: ids.grant_id,
        thread_id: None,
    })
}

/// Parse a (decompressed) webhook body into its notification items.
pub fn parse_notification(body: &[u8]) -> Result<Vec<NotificationItem<'_>>, NotificationError> {
    let text = std::str::from_utf8(body).map_err(|_| NotificationError::NotJson)?;
    // One pass: deserializing `Top` checks the syntax of the whole document,
    // ignored fields included, so `text` is known-valid JSON afterwards.
    let top: Top<'_> = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            NotificationError::NotANotification("not an object of the expected shape")
        }
        _ => NotificationError::NotJson,
    })?;
    let raw = text.trim();

    if let Some(deltas) = top.deltas {
        if top.ty.is_some() {
            return Err(NotificationError::NotANotification(
                "both `type` and `deltas`",
            ));
        }
        if deltas.is_empty() {
            return Err(NotificationError::NotANotification("empty `deltas`"));
        }
        return deltas.into_iter().map(parse_delta).collect();
    }

    let type_raw = top.ty.ok_or(NotificationError::NotANotification(
        "no `type` and no `deltas`",
    ))?;
    let event_type = EventType::parse(type_raw)?;
    let notification_id = top
        .id
        .filter(|s| !s.is_empty())
        .ok_or(NotificationError::NotANotification("no notification `id`"))?;
    let object = top
        .data
        .ok_or(NotificationError::NotANotification("no `data`"))?
        .object;
    let object = object_ids(&event_type, object)?;
    Ok(vec![NotificationItem {
        notification_id,
        type_raw,
        event_type,
        source: top.source,
        time: top.time,
        delivery_attempt: top.webhook_delivery_attempt,
        grant_id: object.grant_id.filter(|s| !s.is_empty()),
        object_id: object.id.filter(|s| !s.is_empty()),
        thread_id: object.thread_id.filter(|s| !s.is_empty()),
        raw,
        shape: Shape::V3,
    }])
}

fn parse_delta(raw: &RawValue) -> Result<NotificationItem<'_>, NotificationError> {
    let raw = raw.get();
    let delta: Delta<'_> = serde_json::from_str(raw)
        .map_err(|_| NotificationError::NotANotification("malformed `deltas` entry"))?;
    let type_raw = delta.ty.ok_or(NotificationError::NotANotification(
        "`deltas` entry without `type`",
    ))?;
    let event_type = EventType::parse(type_raw)?;
    let object = object_ids(&event_type, delta.data)?;
    let digest = Sha256::digest(raw.as_bytes());
    Ok(NotificationItem {
        notification_id: format!("delta-{}", &hex::encode(digest)[..32]),
        type_raw,
        event_type,
        source: None,
        time: delta.date,
        delivery_attempt: None,
        grant_id: object.grant_id.filter(|s| !s.is_empty()),
        object_id: object.id.filter(|s| !s.is_empty()),
        thread_id: object.thread_id.filter(|s| !s.is_empty()),
        raw,
        shape: Shape::Deltas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suffix_combination_parses() {
        // All ordered selections of distinct suffixes, of length 0 to 3.
        let mut combos: Vec<Vec<&str>> = vec![vec![]];
        let mut frontier: Vec<Vec<&str>> = vec![vec![]];
        for _ in 0..KNOWN_SUFFIXES.len() {
            let mut next = Vec::new();
            for c in &frontier {
                for s in KNOWN_SUFFIXES {
                    if !c.contains(&s) {
                        let mut n = c.clone();
                        n.push(s);
                        next.push(n);
                    }
                }
            }
            combos.extend(next.iter().cloned());
            frontier = next;
        }
        assert_eq!(combos.len(), 1 + 3 + 6 + 6);
        for combo in combos {
            let raw = std::iter::once("message.updated")
                .chain(combo.iter().copied())
                .collect::<Vec<_>>()
                .join(".");
            let t = EventType::parse(&raw).unwrap();
            assert_eq!(t.base, "message.updated", "{raw}");
            assert_eq!(t.truncated, combo.contains(&"truncated"), "{raw}");
            assert_eq!(t.cleaned, combo.contains(&"cleaned"), "{raw}");
            assert_eq!(t.transformed, combo.contains(&"transformed"), "{raw}");
            assert_eq!(t.suffixes().len(), combo.len());
        }
    }

    #[test]
    fn bad_types_are_refused() {
        for bad in [
            "",
            "message",
            "message.",
            ".created",
            "Message.Created",
            "message.created.truncated.truncated",
            "message created",
        ] {
            assert_eq!(
                EventType::parse(bad),
                Err(NotificationError::BadType),
                "{bad:?}"
            );
        }
        // A base that merely looks like a suffix word stays the base.
        assert_eq!(
            EventType::parse("grant.expired").unwrap().base,
            "grant.expired"
        );
        let t = EventType::parse("message.cleaned").unwrap();
        assert_eq!((t.base.as_str(), t.cleaned), ("message.cleaned", false));
    }

    #[test]
    fn v3_shape() {
        let body = br#"{"specversion":"1.0","type":"message.created.truncated","source":"/google/emails/realtime","id":"n1","time":5,"webhook_delivery_attempt":2,"data":{"application_id":"a","object":{"id":"m1","grant_id":"g1","subject":"x"}}}"#;
        let items = parse_notification(body).unwrap();
        assert_eq!(items.len(), 1);
        let i = &items[0];
        assert_eq!(i.notification_id, "n1");
        assert_eq!(i.event_type.base, "message.created");
        assert!(i.event_type.truncated);
        assert_eq!(i.grant_id.as_deref(), Some("g1"));
        assert_eq!(i.object_id.as_deref(), Some("m1"));
        assert_eq!(i.source, Some("/google/emails/realtime"));
        assert_eq!(i.delivery_attempt, Some(2));
        assert_eq!(i.raw.as_bytes(), body);
        assert_eq!(i.shape, Shape::V3);
    }

    #[test]
    fn deltas_shape_yields_one_item_per_entry() {
        let body = br#"{"deltas":[{"type":"message.created","date":1,"object":"message","data":{"id":"m1","grant_id":"g"}},{"type":"message.updated","date":2,"object":"message","data":{"id":"m2","grant_id":"g"}}]}"#;
        let items = parse_notification(body).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].object_id.as_deref(), Some("m1"));
        assert_eq!(items[1].event_type.base, "message.updated");
        assert_ne!(items[0].notification_id, items[1].notification_id);
        assert!(items[0].notification_id.starts_with("delta-"));
        assert!(items[0].raw.contains("\"m1\""));
        assert!(!items[0].raw.contains("\"m2\""));
    }

    #[test]
    fn unusable_bodies_are_named() {
        use NotificationError::*;
        assert_eq!(parse_notification(b"not json").unwrap_err(), NotJson);
        assert_eq!(parse_notification(&[0xff, 0xfe]).unwrap_err(), NotJson);
        assert!(matches!(
            parse_notification(b"[1,2]").unwrap_err(),
            NotANotification(_)
        ));
        assert!(matches!(
            parse_notification(b"{}").unwrap_err(),
            NotANotification(_)
        ));
        assert!(matches!(
            parse_notification(br#"{"deltas":[]}"#).unwrap_err(),
            NotANotification(_)
        ));
        assert!(matches!(
            parse_notification(br#"{"type":"message.created","data":{}}"#).unwrap_err(),
            NotANotification(_)
        ));
        assert!(matches!(
            parse_notification(br#"{"type":5,"id":"n"}"#).unwrap_err(),
            NotANotification(_)
        ));
        assert_eq!(
            parse_notification(br#"{"type":"BAD","id":"n","data":{}}"#).unwrap_err(),
            BadType
        );
    }
}
