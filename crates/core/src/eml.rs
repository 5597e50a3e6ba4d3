//! Raw RFC 5322 messages (`.eml`, Nylas `raw_mime`) to the pipeline's
//! [`Message`], so the filters and the classifier can run on real mail.
//!
//! Pure parsing with `mail-parser`: no I/O. What lands where:
//!
//! - `headers`: every header field of the top-level message, in order, with
//!   its name as written and its value unfolded and trimmed (not decoded:
//!   the filters only look at ASCII tokens). Always `Some`.
//! - `subject` (RFC 2047 decoded), `from`/`to`/`cc`/`bcc`/`reply_to`, `date`
//!   (unix seconds), `id` (the Message-ID without angle brackets, or empty).
//! - `body`: the HTML body parts if any ([`BodyFormat::Html`]), else the
//!   `text/plain` ones ([`BodyFormat::Text`]), several parts joined by a
//!   newline.
//! - `attachments`: metadata of every other leaf part of the top-level
//!   message (nested messages' own parts are not listed; the
//!   `message/rfc822` part holding them is): so a `text/calendar` or
//!   `message/delivery-status` part is visible to the filters.

use std::borrow::Cow;

use mail_parser::{Address, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::message::{Attachment, BodyFormat, Header, Message, Participant};

/// Largest raw message accepted, in bytes.
pub const MAX_EML_BYTES: usize = 64 * 1024 * 1024;

/// Why a raw message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmlError {
    /// Nothing that parses as a header block.
    #[error("not an email message: no header fields found")]
    NoHeaders,
    /// Larger than [`MAX_EML_BYTES`].
    #[error("message is {size} bytes, more than the {max} accepted")]
    TooLarge { size: usize, max: usize },
}

/// Parse a raw message. See the module documentation for the mapping.
pub fn message_from_eml(raw: &[u8]) -> Result<(Message, BodyFormat), EmlError> {
    if raw.len() > MAX_EML_BYTES {
        return Err(EmlError::TooLarge {
            size: raw.len(),
            max: MAX_EML_BYTES,
        });
    }
    // Blank lines before the header block (some exports pad the file) would
    // read as an empty header block.
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let raw = raw.get(start..).unwrap_or_default();
    let parsed = MessageParser::default()
        .parse(raw)
        .ok_or(EmlError::NoHeaders)?;
    // mail-parser's accessors index `parts[0]`: make sure it exists.
    let Some(root) = parsed.parts.first() else {
        return Err(EmlError::NoHeaders);
    };

    let headers: Vec<Header> = root
        .headers
        .iter()
        .map(|h| Header {
            name: h.name.as_str().to_string(),
            value: unfold(
                raw.get(h.offset_start as usize..h.offset_end as usize)
                    .unwrap_or_default(),
            ),
        })
        .collect();

    let (body, format, body_parts) = body_of(&parsed);

    let in_body_list = |i: usize| {
        let id = i as u32;
        parsed.text_body.contains(&id) || parsed.html_body.contains(&id)
    };
    let attachments = parsed
        .parts
        .iter()
        .enumerate()
        .filter(|(i, part)| {
            if matches!(part.body, PartType::Multipart(_)) || body_parts.contains(i) {
                return false;
            }
            // The other version of a multipart/alternative body is a body,
            // not an attachment.
            let ctype = content_type(part);
            !(in_body_list(*i) && (ctype == "text/plain" || ctype == "text/html"))
        })
        .map(|(i, part)| attachment(part, i))
        .collect();

    let message = Message {
        id: parsed
            .message_id()
            .map(|id| {
                id.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
            .unwrap_or_default(),
        subject: parsed.subject().map(str::to_string),
        from: participants(parsed.from()),
        to: participants(parsed.to()),
        cc: participants(parsed.cc()),
        bcc: participants(parsed.bcc()),
        reply_to: participants(parsed.reply_to()),
        date: parsed
            .date()
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp()),
        body,
        attachments,
        headers: Some(headers),
        ..Message::default()
    };
    Ok((message, format))
}

/// The body, its format, and the indexes of the parts it was taken from.
fn body_of(parsed: &mail_parser::Message<'_>) -> (Option<String>, BodyFormat, Vec<usize>) {
    let pick = |ids: &[u32], want_html: bool| -> Vec<(usize, &str)> {
        ids.iter()
            .filter_map(|&id| {
                let i = id as usize;
                let part = parsed.parts.get(i)?;
                match &part.body {
                    PartType::Html(html) if want_html => Some((i, html.as_ref())),
                    PartType::Text(text) if !want_html && content_type(part) == "text/plain" => {
                        Some((i, text.as_ref()))
                    }
                    _ => None,
                }
            })
            .collect()
    };
    let html = pick(&parsed.html_body, true);
    let (chosen, format) = if html.is_empty() {
        (pick(&parsed.text_body, false), BodyFormat::Text)
    } else {
        (html, BodyFormat::Html)
    };
    if chosen.is_empty() {
        return (None, BodyFormat::Text, Vec::new());
    }
    let ids = chosen.iter().map(|(i, _)| *i).collect();
    let text: Vec<&str> = chosen.into_iter().map(|(_, t)| t).collect();
    (Some(text.join("\n")), format, ids)
}

/// `type/subtype`, lower-case; parts without a Content-Type are
/// `text/plain` (RFC 2045), except the parts of a digest, which mail-parser
/// reads as messages.
fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => {
            let mut s = ct.ctype().to_ascii_lowercase();
            if let Some(sub) = ct.subtype() {
                s.push('/');
                s.push_str(&sub.to_ascii_lowercase());
            }
            s
        }
        None if matches!(part.body, PartType::Message(_)) => "message/rfc822".to_string(),
        None => "text/plain".to_string(),
    }
}

fn attachment(part: &MessagePart<'_>, index: usize) -> Attachment {
    Attachment {
        id: part
            .content_id()
            .map(|id| id.trim_matches(|c| c == '<' || c == '>').to_string())
            .unwrap_or_else(|| format!("part{index}")),
        filename: part.attachment_name().unwrap_or_default().to_string(),
        content_type: content_type(part),
        size: part.len() as u64,
        is_inline: matches!(part.body, PartType::InlineBinary(_))
            || part.content_disposition().is_some_and(|d| d.is_inline()),
    }
}

fn participants(address: Option<&Address<'_>>) -> Vec<Participant> {
    let Some(address) = address else {
        return Vec::new();
    };
    address
        .iter()
        .map(|a| Participant {
            name: a.name.as_deref().unwrap_or_default().trim().to_string(),
            email: a.address.as_deref().unwrap_or_default().trim().to_string(),
        })
        .filter(|p| !p.email.is_empty() || !p.name.is_empty())
        .collect()
}

/// A raw header value: line breaks of folded lines removed, whitespace runs
/// at the folds collapsed, trimmed. Invalid UTF-8 is replaced.
fn unfold(raw: &[u8]) -> String {
    let text: Cow<'_, str> = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &str = "From: Ann Example <Ann@Example.com>\r\n\
To: support@acme.test, \"Bob\" <bob@acme.test>\r\n\
Cc: carol@acme.test\r\n\
Subject: =?utf-8?Q?Caf=C3=A9?= invoice\r\n\
Date: Sat, 20 Nov 2021 14:22:01 -0800\r\n\
Message-ID: <abc123@mail.example.com>\r\n\
X-Custom: first\r\n\
\tfolded\r\n\
\r\n\
Hello there\r\n";

    #[test]
    fn simple_text_message() {
        let (m, format) = message_from_eml(SIMPLE.as_bytes()).expect("parses");
        assert_eq!(format, BodyFormat::Text);
        assert_eq!(m.id, "abc123@mail.example.com");
        assert_eq!(m.subject.as_deref(), Some("Café invoice"));
        assert_eq!(m.from[0].email, "Ann@Example.com");
        assert_eq!(m.from[0].name, "Ann Example");
        assert_eq!(m.sender_email().as_deref(), Some("ann@example.com"));
        assert_eq!(m.to.len(), 2);
        assert_eq!(m.to[1].name, "Bob");
        assert_eq!(m.cc[0].email, "carol@acme.test");
        assert_eq!(m.date, Some(1_637_446_921));
        assert_eq!(m.body.as_deref().map(str::trim_end), Some("Hello there"));
        assert!(m.attachments.is_empty());
        assert_eq!(m.header("x-custom"), Some("first folded"));
        assert_eq!(m.headers.as_ref().map(Vec::len), Some(7));
    }

    #[test]
    fn alternative_prefers_html_and_lists_no_body_as_attachment() {
        let raw = "From: a@b.c\r\nSubject: s\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n\
--XX\r\nContent-Type: text/plain\r\n\r\nplain version\r\n\
--XX\r\nContent-Type: text/html\r\n\r\n<p>html version</p>\r\n\
--XX\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n\
--XX--\r\n";
        let (m, format) = message_from_eml(raw.as_bytes()).expect("parses");
        assert_eq!(format, BodyFormat::Html);
        assert!(
            m.body
                .as_deref()
                .unwrap_or_default()
                .contains("html version")
        );
        let types: Vec<&str> = m
            .attachments
            .iter()
            .map(|a| a.content_type.as_str())
            .collect();
        assert_eq!(types, ["text/calendar"]);
    }

    #[test]
    fn missing_message_id_is_empty_and_garbage_is_an_error() {
        let (m, _) = message_from_eml(b"Subject: x\r\n\r\nbody").expect("parses");
        assert_eq!(m.id, "");
        assert_eq!(message_from_eml(b""), Err(EmlError::NoHeaders));
    }

    #[test]
    fn attachments_carry_names_types_and_sizes() {
        let raw = "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--B\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
--B--\r\n";
        let (m, format) = message_from_eml(raw.as_bytes()).expect("parses");
        assert_eq!(format, BodyFormat::Text);
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert_eq!(a.filename, "report.pdf");
        assert_eq!(a.content_type, "application/pdf");
        assert_eq!(a.size, 9);
        assert!(!a.is_inline);
    }
}
