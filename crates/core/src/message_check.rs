//! Checking that a message object reads as a [`Message`] without building
//! one: the ingest path refuses what the worker could not read, and must
//! stay close to the cost of the signature check.
//!
//! [`MessageShape`] mirrors [`Message`] field for field with types that
//! check and keep nothing (no `String` for a body), except the ids ingest
//! needs. A test holds the two to the same verdict on generated objects.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::message::Message;

/// Any JSON string, checked and dropped.
struct Str;

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Str;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Str, E> {
                Ok(Str)
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON array whose every element reads as `T`, checked and dropped.
struct Each<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Each<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Each<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Each<T>, A::Error> {
                while seq.next_element::<T>()?.is_some() {}
                Ok(Each(PhantomData))
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct ParticipantShape {
    #[serde(default)]
    name: Option<Str>,
    #[serde(default)]
    email: Option<Str>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct HeaderShape {
    name: Str,
    #[serde(default)]
    value: Option<Str>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct AttachmentShape {
    #[serde(default)]
    id: Option<Str>,
    #[serde(default)]
    filename: Option<Str>,
    #[serde(default)]
    content_type: Option<Str>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    is_inline: Option<bool>,
    #[serde(default)]
    sha256: Option<Str>,
}

/// [`Message`]'s fields, in its order and with its null rules.
#[derive(Deserialize)]
#[allow(dead_code)]
struct MessageShape<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    grant_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thread_id: Option<Cow<'a, str>>,
    #[serde(default)]
    subject: Option<Str>,
    #[serde(default)]
    from: Option<Each<ParticipantShape>>,
    #[serde(default)]
    to: Option<Each<ParticipantShape>>,
    #[serde(default)]
    cc: Option<Each<ParticipantShape>>,
    #[serde(default)]
    bcc: Option<Each<ParticipantShape>>,
    #[serde(default)]
    reply_to: Option<Each<ParticipantShape>>,
    #[serde(default)]
    date: Option<i64>,
    #[serde(default)]
    body: Option<Str>,
    #[serde(default)]
    snippet: Option<Str>,
    #[serde(default)]
    folders: Option<Each<Str>>,
    #[serde(default)]
    attachments: Option<Each<AttachmentShape>>,
    #[serde(default)]
    headers: Option<Each<HeaderShape>>,
}

/// The ids of a message object that reads as a [`Message`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageIds {
    pub id: Option<String>,
    pub grant_id: Option<String>,
    pub thread_id: Option<String>,
}

/// Check that `object` (JSON text) reads as a [`Message`] and return its
/// ids; the error names the field and the kind of problem, never a value.
pub fn check_message(object: &str) -> Result<MessageIds, String> {
    match serde_json::from_str::<MessageShape<'_>>(object) {
        Ok(shape) => {
            let own = |v: Option<Cow<'_, str>>| v.map(Cow::into_owned);
            Ok(MessageIds {
                id: own(shape.id),
                grant_id: own(shape.grant_id),
                thread_id: own(shape.thread_id),
            })
        }
        // Only a failure pays for the full parse that names the field.
        Err(e) => Err(match crate::json_error::from_str::<Message>(object) {
            Err(reason) => reason,
            Ok(_) => crate::json_error::describe(&e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn ids_come_back_and_nulls_read_as_empty() {
        let ids = check_message(
            r#"{"id":"m1","grant_id":"g1","thread_id":null,"from":null,"to":[{"email":null}]}"#,
        )
        .unwrap();
        assert_eq!(ids.id.as_deref(), Some("m1"));
        assert_eq!(ids.grant_id.as_deref(), Some("g1"));
        assert_eq!(ids.thread_id, None);
    }

    #[test]
    fn a_failure_names_the_field() {
        let e = check_message(r#"{"id":"m1","folders":"carol@example.org"}"#).unwrap_err();
        assert!(e.starts_with("field folders: wrong type"), "{e}");
        assert!(!e.contains("carol"), "{e}");
    }

    #[test]
    fn attachment_sha256_must_be_a_string_or_null() {
        for (attachments, ok) in [
            (json!([{"sha256": "ab"}]), true),
            (json!([{"sha256": null}]), true),
            (json!([{"sha256": 5}]), false),
        ] {
            let text = json!({"id": "m1", "attachments": attachments}).to_string();
            assert_eq!(serde_json::from_str::<Message>(&text).is_ok(), ok, "{text}");
            assert_eq!(check_message(&text).is_ok(), ok, "{text}");
        }
    }

    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            Just(json!("text")),
            Just(json!("")),
            Just(json!(5)),
            Just(json!(-5)),
            Just(json!(1.5)),
            Just(json!(true)),
            Just(json!([])),
            Just(json!(["a", "b"])),
            Just(json!([1])),
            Just(json!([null])),
            Just(json!([{"name": "A", "email": "a@x.io"}])),
            Just(json!([{"name": 1}])),
            Just(json!([{"name": "X-Loop", "value": "x"}])),
            Just(json!([{"value": "x"}])),
            Just(json!([{"filename": "f", "size": 3, "is_inline": false}])),
            Just(json!([{"size": "3"}])),
            Just(json!([{"size": -1}])),
            Just(json!([{"filename": "f", "sha256": "ab"}])),
            Just(json!([{"sha256": null}])),
            Just(json!([{"sha256": 5}])),
            Just(json!({})),
            Just(json!({"name": "A"})),
        ]
    }

    const FIELDS: [&str; 16] = [
        "id",
        "grant_id",
        "thread_id",
        "subject",
        "from",
        "to",
        "cc",
        "bcc",
        "reply_to",
        "date",
        "body",
        "snippet",
        "folders",
        "attachments",
        "headers",
        "object",
    ];

    proptest! {
        /// The shape and the message agree on every generated object,
        /// duplicate keys included.
        #[test]
        fn shape_and_message_agree(
            fields in prop::collection::vec((prop::sample::select(FIELDS.to_vec()), any_value()), 0..8),
        ) {
            let body = fields
                .iter()
                .map(|(k, v)| format!("{}:{v}", json!(k)))
                .collect::<Vec<_>>()
                .join(",");
            let text = format!("{{{body}}}");
            let message = serde_json::from_str::<Message>(&text);
            let shape = check_message(&text);
            prop_assert_eq!(message.is_ok(), shape.is_ok(), "{}", text);
            if let (Ok(m), Ok(ids)) = (message, shape) {
                prop_assert_eq!(ids.id.unwrap_or_default(), m.id);
                prop_assert_eq!(ids.grant_id.unwrap_or_default(), m.grant_id);
                prop_assert_eq!(ids.thread_id, m.thread_id);
            }
        }
    }
}
