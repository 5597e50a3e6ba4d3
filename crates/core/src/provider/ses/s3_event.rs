//! Amazon S3 event notifications, as S3 sends them to an SQS queue when
//! SES receiving writes a message to the bucket.
//!
//! A notification is `{"Records": [...]}`, each record naming the bucket
//! and the object (`s3.bucket.name`, `s3.object.key`, `s3.object.size`,
//! `s3.object.sequencer`, `eventName` such as `ObjectCreated:Put`). Object
//! keys arrive URL-encoded (`+` for a space, `%XX` for other bytes) and are
//! decoded here. When a notification configuration is saved, S3 first sends
//! a test message (`"Event": "s3:TestEvent"`), which carries no object.

use serde::Deserialize;

use crate::ports::ObjectLocation;

/// Largest object key S3 allows, in bytes (decoded).
pub const MAX_KEY_BYTES: usize = 1024;

/// What a queue message from S3 holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Notification {
    /// The test message S3 sends when notifications are configured.
    Test,
    /// Objects created, in the order of the records.
    Created(Vec<CreatedObject>),
}

/// One object a record says was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub location: ObjectLocation,
    /// Size in bytes as the record states it (0 when absent).
    pub size: u64,
    /// S3's ordering token for events of one key (hex), when present.
    pub sequencer: Option<String>,
}

/// Why a queue message is not an S3 notification we can use. Never quotes
/// the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3EventError {
    #[error("S3 notification: {0}")]
    Shape(String),
    #[error("S3 notification record {index}: {problem}")]
    Record { index: usize, problem: &'static str },
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "Records")]
    records: Option<Vec<Record>>,
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventSource")]
    event_source: Option<String>,
    #[serde(rename = "eventName")]
    event_name: Option<String>,
    s3: Option<S3>,
}

#[derive(Deserialize)]
struct S3 {
    bucket: Bucket,
    object: Object,
}

#[derive(Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Deserialize)]
struct Object {
    key: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    sequencer: Option<String>,
}

/// Does `body` look like an S3 notification (rather than a queue envelope)?
/// A cheap check on the first keys; [`parse`] decides.
pub fn looks_like(body: &str) -> bool {
    // Cut at a character boundary: byte 256 may fall inside a character.
    let head = &body[..body.floor_char_boundary(256)];
    head.contains("\"Records\"") && body.contains("\"aws:s3\"") || head.contains("\"s3:TestEvent\"")
}

/// Parse a queue message S3 sent. Records of other sources, or of events
/// other than object creation, are refused: the queue receives only what
/// the bucket's notification configuration sends.
pub fn parse(body: &str) -> Result<S3Notification, S3EventError> {
    let n: Notification = crate::json_error::from_str(body).map_err(S3EventError::Shape)?;
    if n.event.as_deref() == Some("s3:TestEvent") {
        return Ok(S3Notification::Test);
    }
    let records = n
        .records
        .ok_or_else(|| S3EventError::Shape("no Records".into()))?;
    if records.is_empty() {
        return Err(S3EventError::Shape("Records is empty".into()));
    }
    let mut created = Vec::with_capacity(records.len());
    for (index, r) in records.into_iter().enumerate() {
        let bad = |problem| S3EventError::Record { index, problem };
        if r.event_source.as_deref() != Some("aws:s3") {
            return Err(bad("not an aws:s3 record"));
        }
        if !r
            .event_name
            .as_deref()
            .is_some_and(|e| e.starts_with("ObjectCreated:"))
        {
            return Err(bad("not an object creation"));
        }
        let s3 = r.s3.ok_or_else(|| bad("no s3 section"))?;
        if s3.bucket.name.is_empty() || s3.bucket.name.len() > 63 {
            return Err(bad("bucket name empty or too long"));
        }
        let key = decode_key(&s3.object.key).ok_or_else(|| bad("object key is not valid"))?;
        created.push(CreatedObject {
            location: ObjectLocation {
                bucket: s3.bucket.name,
                key,
            },
            size: s3.object.size.unwrap_or(0),
            sequencer: s3.object.sequencer,
        });
    }
    Ok(S3Notification::Created(created))
}

/// An object key as S3 event notifications write it: `+` is a space and
/// `%XX` a byte. `None` when it is empty, too long, not UTF-8 once decoded,
/// or holds control characters.
pub fn decode_key(encoded: &str) -> Option<String> {
    let spaced = encoded.replace('+', " ");
    let key = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()?
        .into_owned();
    let ok = !key.is_empty() && key.len() <= MAX_KEY_BYTES && !key.chars().any(char::is_control);
    ok.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATED: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-12-03T10:00:00.000Z","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","configurationId":"inbound","bucket":{"name":"acme-inbound-mail","arn":"arn:aws:s3:::acme-inbound-mail"},"object":{"key":"inbound/o3k1b2c4d5e6f7g8h9","size":4821,"eTag":"0123456789abcdef","sequencer":"0061A2B3C4D5E6F7A8"}}}]}"#;

    #[test]
    fn a_created_object_is_read() {
        assert!(looks_like(CREATED));
        let S3Notification::Created(objects) = parse(CREATED).unwrap() else {
            panic!("not created");
        };
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].location.bucket, "acme-inbound-mail");
        assert_eq!(objects[0].location.key, "inbound/o3k1b2c4d5e6f7g8h9");
        assert_eq!(objects[0].size, 4821);
        assert_eq!(objects[0].sequencer.as_deref(), Some("0061A2B3C4D5E6F7A8"));
    }

    #[test]
    fn the_test_event_is_recognised() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-03T10:00:00.000Z","Bucket":"acme-inbound-mail","RequestId":"R","HostId":"H"}"#;
        assert!(looks_like(test));
        assert_eq!(parse(test).unwrap(), S3Notification::Test);
    }

    #[test]
    fn the_check_reads_any_body_without_panicking() {
        // A multi-byte character across the 256th byte.
        let body = format!("{{\"envelope_version\":1,\"x\":\"{}é\"}}", "a".repeat(228));
        assert!(!body.is_char_boundary(256));
        assert!(!looks_like(&body));
        assert!(!looks_like(""));
        assert!(!looks_like("é"));
    }

    #[test]
    fn keys_are_decoded() {
        assert_eq!(decode_key("a+b%2Fc%C3%A9").as_deref(), Some("a b/cé"));
        assert_eq!(decode_key("plain/key"), Some("plain/key".into()));
        assert_eq!(decode_key(""), None);
        assert_eq!(decode_key("%0Anewline"), None);
        assert_eq!(decode_key("%FF%FE"), None);
        assert_eq!(decode_key(&"k".repeat(MAX_KEY_BYTES + 1)), None);
    }

    #[test]
    fn other_records_and_shapes_are_refused() {
        assert!(!looks_like(r#"{"envelope_version":1}"#));
        let other = CREATED.replace("aws:s3", "aws:sqs");
        assert!(matches!(
            parse(&other),
            Err(S3EventError::Record { index: 0, .. })
        ));
        let removed = CREATED.replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert!(matches!(
            parse(&removed),
            Err(S3EventError::Record { index: 0, .. })
        ));
        assert!(matches!(parse("[]"), Err(S3EventError::Shape(_))));
        assert!(matches!(
            parse(r#"{"Records":[]}"#),
            Err(S3EventError::Shape(_))
        ));
        let bad_key = CREATED.replace("inbound/o3k1b2c4d5e6f7g8h9", "%00");
        assert!(matches!(
            parse(&bad_key),
            Err(S3EventError::Record { index: 0, .. })
        ));
    }
}
