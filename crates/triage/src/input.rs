//! Reading the files `triage replay` and `triage classify` take: Nylas
//! notification JSON (v3 or `deltas[]`), API Gateway event files, SQS event
//! files, Nylas message JSON (`GET /messages/{id}` answers or bare message
//! objects) and raw RFC 5322 `.eml` messages.

use std::path::{Path, PathBuf};

use serde_json::Value;
use triage_core::eml::message_from_eml;
use triage_core::envelope::{Envelope, message_in};
use triage_core::message::{BodyFormat, Message};
use triage_core::notification::parse_notification;

/// Largest input file read.
pub const MAX_INPUT_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: larger than {MAX_INPUT_BYTES} bytes")]
    TooLarge { path: String },
    #[error("{path}: {reason}")]
    Unrecognised { path: String, reason: String },
}

/// One input file, classified by what it holds.
#[derive(Debug)]
pub enum Input {
    /// An API Gateway HTTP API event: replayed through the ingest handler
    /// (signature checked).
    ApiGateway(Box<lambda_http::Request>),
    /// A webhook notification body (signature not checked).
    Notification(Vec<u8>),
    /// Queue envelopes (from an SQS event file).
    Envelopes(Vec<String>),
    /// A message (API answer, bare message object, or `.eml`).
    Message(Box<Message>, BodyFormat),
}

/// Expand directories (sorted, non-recursive, hidden files skipped).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|e| InputError::Read {
                path: p.display().to_string(),
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

/// Read and recognise one file.
pub fn load(path: &Path) -> Result<Input, InputError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| InputError::Read {
        path: name.clone(),
        source: e,
    })?;
    if meta.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge { path: name });
    }
    let bytes = std::fs::read(path).map_err(|e| InputError::Read {
        path: name.clone(),
        source: e,
    })?;
    let unrecognised = |reason: String| InputError::Unrecognised {
        path: name.clone(),
        reason,
    };
    let is_eml = path.extension().and_then(|e| e.to_str()) == Some("eml");
    if is_eml {
        let (m, f) = message_from_eml(&bytes).map_err(|e| unrecognised(e.to_string()))?;
        return Ok(Input::Message(Box::new(m), f));
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| unrecognised(format!("not JSON ({e}); expected .json or .eml")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| unrecognised("JSON is not an object".into()))?;
    if obj.contains_key("requestContext") {
        let text = std::str::from_utf8(&bytes).map_err(|e| unrecognised(e.to_string()))?;
        let req = lambda_http::request::from_str(text)
            .map_err(|e| unrecognised(format!("not an API Gateway event: {e}")))?;
        return Ok(Input::ApiGateway(Box::new(req)));
    }
    if let Some(records) = obj.get("Records").and_then(Value::as_array) {
        let bodies = records
            .iter()
            .filter_map(|r| r.get("body").and_then(Value::as_str).map(str::to_string))
            .collect();
        return Ok(Input::Envelopes(bodies));
    }
    if obj.contains_key("deltas") || (obj.contains_key("type") && obj.contains_key("data")) {
        return Ok(Input::Notification(bytes));
    }
    let message_value = match obj.get("data") {
        Some(d)
            if d.get("object").and_then(Value::as_str) == Some("message")
                || d.get("grant_id").is_some() =>
        {
            d.clone()
        }
        _ => value.clone(),
    };
    if message_value.get("id").is_some() || message_value.get("subject").is_some() {
        let m: Message = serde_json::from_value(message_value)
            .map_err(|e| unrecognised(format!("not a Nylas message: {e}")))?;
        return Ok(Input::Message(Box::new(m), BodyFormat::Html));
    }
    Err(unrecognised(
        "not a notification, API Gateway event, SQS event, Nylas message or .eml".into(),
    ))
}

/// Messages (with their body format and source) an input carries, for a
/// dry run. API Gateway events are read without checking the signature.
pub fn messages(input: &Input) -> Result<Vec<(Message, BodyFormat, Option<String>)>, String> {
    match input {
        Input::Message(m, f) => Ok(vec![((**m).clone(), *f, None)]),
        Input::Notification(bytes) => notification_messages(bytes),
        Input::ApiGateway(req) => notification_messages(req.body().as_ref()),
        Input::Envelopes(bodies) => bodies
            .iter()
            .map(|b| {
                let env = Envelope::decode(b).map_err(|e| e.to_string())?;
                let m = env
                    .message()
                    .map_err(|e| e.to_string())?
                    .ok_or("reference envelope: the message must be fetched")?;
                Ok((m, env.body_format(), env.source.clone()))
            })
            .collect(),
    }
}

fn notification_messages(
    bytes: &[u8],
) -> Result<Vec<(Message, BodyFormat, Option<String>)>, String> {
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        triage_core::gzip::gunzip_capped(bytes, 64 * 1024 * 1024).map_err(|e| e.to_string())?
    } else {
        bytes.to_vec()
    };
    let items = parse_notification(&bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for item in &items {
        let format = if item.event_type.cleaned {
            BodyFormat::Markdown
        } else {
            BodyFormat::Html
        };
        if let Some(m) = message_in(item.raw, item.shape.as_str()).map_err(|e| e.to_string())? {
            out.push((m, format, item.source.map(str::to_string)));
        }
    }
    if out.is_empty() {
        return Err("the notification carries no message object".into());
    }
    Ok(out)
}
