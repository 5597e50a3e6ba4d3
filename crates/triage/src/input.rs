//! Reading the files `triage replay` and `triage classify` take: provider
//! deliveries (Nylas notification JSON, v3 or `deltas[]`; inbound-email
//! JSON payloads), API Gateway event files, SQS event files, Nylas message
//! JSON (`GET /messages/{id}` answers or bare message objects) and raw
//! RFC 5322 `.eml` messages.
//!
//! Bounded by design: only regular files are opened (a FIFO or device is
//! reported, never read), reads stop at [`MAX_INPUT_BYTES`], the document is
//! recognised from its top-level keys without building a `serde_json::Value`
//! tree, and lists are counted before anything is collected from them.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;
use triage_core::eml::message_from_eml;
use triage_core::envelope::Envelope;
use triage_core::ingest::{DEFAULT_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_ITEMS, IngestPolicy};
use triage_core::json_error::describe;
use triage_core::message::{BodyFormat, Message};
use triage_core::provider::{self, Authenticated, Origin, Provider, inbound, nylas};

/// Largest input file read: twice ingest's decompressed-body cap, room for
/// a full-size notification JSON-escaped inside an API Gateway or SQS event.
pub const MAX_INPUT_BYTES: u64 = 2 * DEFAULT_MAX_DECOMPRESSED_BYTES as u64;
/// Largest notification (a `.json` file, or an event's body after gzip):
/// ingest's `MAX_DECOMPRESSED_BYTES` default; ingest answers 413 above it.
pub const MAX_NOTIFICATION_BYTES: usize = DEFAULT_MAX_DECOMPRESSED_BYTES;
/// Most `deltas[]` entries or SQS `Records[]` in one file: ingest's
/// notifications-per-request default.
pub const MAX_ITEMS: usize = DEFAULT_MAX_ITEMS;
/// Largest message body (bare message JSON or `.eml`): half the
/// notification cap, so the notification replay wraps it in still fits the
/// local queue after JSON escaping.
pub const MAX_BODY_BYTES: usize = MAX_NOTIFICATION_BYTES / 2;
/// Longest reason or path printed.
const MAX_SHOWN: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: skipped: a {kind}, not a regular file")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path}: larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("{path}: more than {limit} {what}")]
    TooManyItems {
        path: String,
        what: &'static str,
        limit: usize,
    },
    #[error("{path}: {reason}")]
    Unrecognised { path: String, reason: String },
}

/// One input file, classified by what it holds.
#[derive(Debug)]
pub enum Input {
    /// An API Gateway HTTP API event: replayed through the ingest handler
    /// (signature checked).
    ApiGateway(Box<lambda_http::Request>),
    /// A provider's webhook body (signature not checked): a Nylas
    /// notification or an inbound-email payload.
    Delivery {
        /// The provider's name ([`provider::by_name`]).
        provider: &'static str,
        body: Vec<u8>,
    },
    /// Queue envelopes (from an SQS event file).
    Envelopes(Vec<String>),
    /// A message (API answer, bare message object, or `.eml`).
    Message(Box<Message>, BodyFormat),
}

/// A path as printed: control characters escaped, length capped.
pub fn shown(path: &Path) -> String {
    triage_core::logsafe::escape_capped(&path.to_string_lossy(), MAX_SHOWN)
}

/// Expand directories (sorted, non-recursive, hidden files skipped; only
/// regular `.json` and `.eml` files). Other paths are kept for [`load`] to
/// read or report.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|e| InputError::Read {
                path: shown(p),
                source: e,
            })?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .filter(|f| {
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    !name.starts_with('.')
                        && matches!(f.extension().and_then(|e| e.to_str()), Some("json" | "eml"))
                })
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn file_kind(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "named pipe";
        }
        if ft.is_char_device() {
            return "character device";
        }
        if ft.is_block_device() {
            return "block device";
        }
        if ft.is_socket() {
            return "socket";
        }
    }
    if ft.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

/// Read a regular file, at most `limit` bytes. The type is checked before
/// opening (opening a FIFO blocks until a writer appears) and again on the
/// open file; the read itself is capped whatever the file turns out to be.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let read_err = |source| InputError::Read {
        path: shown(path),
        source,
    };
    let not_regular = |ft: &std::fs::FileType| InputError::NotRegular {
        path: shown(path),
        kind: file_kind(ft),
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(not_regular(&meta.file_type()));
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            path: shown(path),
            limit,
        });
    }
    let file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(not_regular(&meta.file_type()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(limit)).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: shown(path),
            limit,
        });
    }
    Ok(bytes)
}

/// The top-level keys recognition looks at, borrowed; everything else is
/// skipped (syntax-checked, not stored).
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "requestContext", borrow, default)]
    request_context: Option<&'a RawValue>,
    #[serde(rename = "Records", borrow, default)]
    records: Option<&'a RawValue>,
    #[serde(borrow, default)]
    deltas: Option<&'a RawValue>,
    #[serde(rename = "type", borrow, default)]
    ty: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    subject: Option<&'a RawValue>,
    #[serde(borrow, default)]
    from: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    html: Option<&'a RawValue>,
}

/// `data` of a `GET /messages/{id}` answer.
#[derive(Deserialize)]
struct DataProbe<'a> {
    #[serde(borrow, default)]
    object: Option<&'a RawValue>,
    #[serde(borrow, default)]
    grant_id: Option<&'a RawValue>,
}

/// An array's length, counted without storing its elements.
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(n))
            }
        }
        d.deserialize_seq(V)
    }
}

/// One SQS record: only its body is kept.
#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    body: Option<String>,
}

/// Length of a JSON array held in `raw`, or `None` when it is not an array.
fn array_len(raw: &RawValue) -> Option<usize> {
    serde_json::from_str::<Count>(raw.get()).ok().map(|c| c.0)
}

/// Read and recognise one file.
pub fn load(path: &Path) -> Result<Input, InputError> {
    let bytes = read_capped(path, MAX_INPUT_BYTES)?;
    let unrecognised = |reason: String| InputError::Unrecognised {
        path: shown(path),
        reason,
    };
    let is_eml = path.extension().and_then(|e| e.to_str()) == Some("eml");
    if is_eml {
        let (m, f) = message_from_eml(&bytes).map_err(|e| unrecognised(e.to_string()))?;
        check_body(&m).map_err(unrecognised)?;
        return Ok(Input::Message(Box::new(m), f));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| unrecognised("not UTF-8 text; expected .json or .eml".into()))?;
    let probe: Probe<'_> = serde_json::from_str(text).map_err(|e| {
        unrecognised(match e.classify() {
            serde_json::error::Category::Data => "JSON is not an object".into(),
            _ => format!("not JSON ({}); expected .json or .eml", describe(&e)),
        })
    })?;
    let too_many = |what| InputError::TooManyItems {
        path: shown(path),
        what,
        limit: MAX_ITEMS,
    };
    if probe.request_context.is_some() {
        let req = lambda_http::request::from_str(text)
            .map_err(|e| unrecognised(format!("not an API Gateway event: {}", describe(&e))))?;
        return Ok(Input::ApiGateway(Box::new(req)));
    }
    if let Some(records) = probe.records
        && let Some(n) = array_len(records)
    {
        if n > MAX_ITEMS {
            return Err(too_many("SQS records"));
        }
        let records: Vec<Record> = serde_json::from_str(records.get())
            .map_err(|e| unrecognised(format!("SQS records: {}", describe(&e))))?;
        return Ok(Input::Envelopes(
            records.into_iter().filter_map(|r| r.body).collect(),
        ));
    }
    // A provider's delivery: a Nylas notification (v3 or `deltas[]`), or an
    // inbound-email payload (a sender and a text or HTML part at the top).
    let delivery = if probe.deltas.is_some() || (probe.ty.is_some() && probe.data.is_some()) {
        if probe
            .deltas
            .and_then(array_len)
            .is_some_and(|n| n > MAX_ITEMS)
        {
            return Err(too_many("`deltas` entries"));
        }
        Some(nylas::NAME)
    } else if probe.from.is_some() && (probe.text.is_some() || probe.html.is_some()) {
        Some(inbound::NAME)
    } else {
        None
    };
    if let Some(provider) = delivery {
        if bytes.len() > MAX_NOTIFICATION_BYTES {
            return Err(unrecognised(format!(
                "notification larger than {MAX_NOTIFICATION_BYTES} bytes (ingest answers 413)"
            )));
        }
        return Ok(Input::Delivery {
            provider,
            body: bytes,
        });
    }
    let answer_data = probe.data.filter(|d| {
        serde_json::from_str::<DataProbe<'_>>(d.get()).is_ok_and(|p| {
            p.object.is_some_and(|o| o.get() == "\"message\"") || p.grant_id.is_some()
        })
    });
    let message_text = match answer_data {
        Some(d) => Some(d.get()),
        None if probe.id.is_some() || probe.subject.is_some() => Some(text),
        None => None,
    };
    if let Some(message_text) = message_text {
        let m: Message = triage_core::json_error::from_str(message_text)
            .map_err(|e| unrecognised(format!("not a Nylas message: {e}")))?;
        check_body(&m).map_err(unrecognised)?;
        return Ok(Input::Message(Box::new(m), BodyFormat::Html));
    }
    Err(unrecognised(
        "not a Nylas notification, inbound-email payload, API Gateway event, SQS event, Nylas message or .eml".into(),
    ))
}

fn check_body(m: &Message) -> Result<(), String> {
    match &m.body {
        Some(b) if b.len() > MAX_BODY_BYTES => {
            Err(format!("message body larger than {MAX_BODY_BYTES} bytes"))
        }
        _ => Ok(()),
    }
}

/// Messages (with their body format and origin) an input carries, for a
/// dry run: deliveries go through their provider's parsing and envelopes
/// are opened as the worker opens them. API Gateway events are read without
/// checking the signature. Reasons are safe to print (no input values).
pub fn messages(input: &Input) -> Result<Vec<(Message, BodyFormat, Origin)>, String> {
    match input {
        Input::Message(m, f) => Ok(vec![((**m).clone(), *f, Origin::default())]),
        Input::Delivery { provider, body } => {
            let p = provider::by_name(provider).ok_or("unknown provider")?;
            delivery_messages(p, body)
        }
        Input::ApiGateway(req) => {
            let p = provider::by_route(req.uri().path())
                .ok_or("the event's path is not a webhook route")?;
            delivery_messages(p, req.body().as_ref())
        }
        Input::Envelopes(bodies) => bodies.iter().map(|b| envelope_message(b)).collect(),
    }
}

fn envelope_message(body: &str) -> Result<(Message, BodyFormat, Origin), String> {
    let env = Envelope::decode(body).map_err(|e| e.to_string())?;
    let opened = provider::open(&env).map_err(|e| e.to_string())?;
    let m = opened
        .message
        .ok_or("reference envelope: the message must be fetched")?;
    Ok((m, opened.format, opened.origin))
}

/// A body the way ingest reads it after the signature: gzip inflated
/// (recognised by its magic bytes: a saved body has no headers), capped.
pub fn decoded(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        triage_core::gzip::gunzip_capped(bytes, MAX_NOTIFICATION_BYTES)
            .map(std::borrow::Cow::Owned)
            .map_err(|e| e.to_string())
    } else if bytes.len() > MAX_NOTIFICATION_BYTES {
        Err(format!(
            "notification larger than {MAX_NOTIFICATION_BYTES} bytes (ingest answers 413)"
        ))
    } else {
        Ok(std::borrow::Cow::Borrowed(bytes))
    }
}

fn delivery_messages(
    provider: &dyn Provider,
    bytes: &[u8],
) -> Result<Vec<(Message, BodyFormat, Origin)>, String> {
    let body = decoded(bytes)?;
    // Every item whole: a dry run has no queue size limit.
    let policy = IngestPolicy {
        max_queue_message_bytes: usize::MAX,
        max_items: MAX_ITEMS,
        ..IngestPolicy::default()
    };
    let prepared = provider
        .parse(&policy, &body, &Authenticated::unsigned(), 0)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for q in &prepared.messages {
        if let Ok(m) = envelope_message(&q.body) {
            out.push(m);
        }
    }
    if out.is_empty() {
        return Err("the delivery carries no message to classify".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_many_recipient_message_loads_without_a_value_tree() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.json");
        let to: Vec<String> = (0..50_000)
            .map(|i| format!(r#"{{"email":"a{i}@b.example"}}"#))
            .collect();
        let text = format!(
            r#"{{"data":{{"object":"message","id":"m","subject":"s","to":[{}]}}}}"#,
            to.join(",")
        );
        std::fs::write(&f, text).unwrap();
        match load(&f).unwrap() {
            Input::Message(m, _) => assert_eq!((m.id.as_str(), m.to.len()), ("m", 50_000)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exactly_max_items_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sqs.json");
        let records = vec![r#"{"body":"{}"}"#; MAX_ITEMS].join(",");
        std::fs::write(&f, format!(r#"{{"Records":[{records}]}}"#)).unwrap();
        match load(&f).unwrap() {
            Input::Envelopes(b) => assert_eq!(b.len(), MAX_ITEMS),
            other => panic!("{other:?}"),
        }
    }
}
