//! Raw RFC 5322 messages (`.eml`, Nylas `raw_mime`) to the pipeline's
//! [`Message`], so the filters and the classifier can run on real mail.
//!
//! Pure parsing with `mail-parser`: no I/O. What lands where:
//!
//! - `headers`: every header field of the top-level message, in order, with
//!   its name as written and its value unfolded and trimmed (not decoded:
//!   the filters only look at ASCII tokens). Always `Some`.
//! - `subject` (RFC 2047 decoded; a UTF-8 character split across two
//!   encoded words is joined: [`crate::encoded_word`]), `from`/`to`/`cc`/`bcc`/`reply_to`, `date`
//!   (unix seconds), `id` (the Message-ID without angle brackets, or empty).
//! - `body`: the HTML body parts if any ([`BodyFormat::Html`]), else the
//!   `text/plain` ones ([`BodyFormat::Text`]), several parts joined by a
//!   newline.
//! - `attachments`: metadata of every other leaf part of the top-level
//!   message (nested messages' own parts are not listed; the
//!   `message/rfc822` part holding them is): so a `text/calendar` or
//!   `message/delivery-status` part is visible to the filters. Each one's
//!   `id` (Content-ID without angle brackets, else `part<index>`),
//!   `filename`, `content_type`, `is_inline` (Content-Disposition `inline`,
//!   or an inline part mail-parser found), `size` (bytes of the decoded
//!   content: the Content-Transfer-Encoding undone; text parts as decoded
//!   to UTF-8; a `message/rfc822` part's nested message as written) and
//!   `sha256` (lower-case hex SHA-256 of those same bytes; `None` for a
//!   part the input ends inside, before its multipart's next delimiter: a
//!   message cut short, e.g. read only up to a size cap, where `size` too
//!   counts only what was there).

use std::borrow::Cow;

use mail_parser::{Address, MessageParser, MessagePart, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

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

/// The subject as decoded, or, when decoding left replacement characters,
/// the raw header decoded with split UTF-8 encoded words joined
/// ([`crate::encoded_word`]).
fn repaired_subject(decoded: &str, headers: &[Header]) -> String {
    if !decoded.contains('\u{FFFD}') {
        return decoded.to_string();
    }
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("subject"))
        .and_then(|h| crate::encoded_word::join_utf8(h.value.trim()))
        .unwrap_or_else(|| decoded.to_string())
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
        .map(|(i, part)| {
            // A part other than the message itself whose body runs to the
            // end of the input never met its multipart's delimiter: the
            // input was cut inside it (a raw object read up to a size cap).
            let rest = raw.get(part.offset_end as usize..).unwrap_or_default();
            let whole = i == 0 || rest.iter().any(|b| !b.is_ascii_whitespace());
            attachment(part, i, whole)
        })
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
        subject: parsed.subject().map(|s| repaired_subject(s, &headers)),
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

/// The attachment metadata of `part`; `whole`: its content is all there, so
/// it is hashed.
fn attachment(part: &MessagePart<'_>, index: usize, whole: bool) -> Attachment {
    // `contents()` is what `len()` counts: decoded bytes, UTF-8 text, or a
    // nested message's raw bytes.
    let content = part.contents();
    Attachment {
        id: part
            .content_id()
            .map(|id| id.trim_matches(|c| c == '<' || c == '>').to_string())
            .unwrap_or_else(|| format!("part{index}")),
        filename: part.attachment_name().unwrap_or_default().to_string(),
        content_type: content_type(part),
        size: content.len() as u64,
        is_inline: matches!(part.body, PartType::InlineBinary(_))
            || part.content_disposition().is_some_and(|d| d.is_inline()),
        sha256: whole.then(|| hex::encode(Sha256::digest(content))),
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

    /// `sha256` of `bytes`, lower-case hex, computed here independently of
    /// `attachment`.
    fn hex_sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn only_attachment(raw: &str) -> Attachment {
        let (m, _) = message_from_eml(raw.as_bytes()).expect("parses");
        assert_eq!(m.attachments.len(), 1, "{:?}", m.attachments);
        m.attachments.into_iter().next().expect("one attachment")
    }

    #[test]
    fn base64_attachment_has_the_sha256_of_its_decoded_content() {
        let raw = "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--B\r\nContent-Type: application/octet-stream; name=\"hello.txt\"\r\nContent-Disposition: attachment; filename=\"hello.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8K\r\n\
--B--\r\n";
        let a = only_attachment(raw);
        assert_eq!(a.filename, "hello.txt");
        assert_eq!(a.size, 6);
        assert_eq!(
            a.sha256.as_deref(),
            Some("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
        );
    }

    #[test]
    fn quoted_printable_text_attachment_hashes_the_decoded_text() {
        // A soft line break, an encoded UTF-8 é and `=3D`, then a hard break.
        let raw = "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--B\r\nContent-Type: text/plain; charset=utf-8; name=\"note.txt\"\r\nContent-Disposition: attachment; filename=\"note.txt\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
line one caf=C3=A9 =3D=\r\n continued\r\nline two\r\n\
--B--\r\n";
        let a = only_attachment(raw);
        assert_eq!(a.filename, "note.txt");
        assert_eq!(a.content_type, "text/plain");
        let decoded = "line one café = continued\r\nline two";
        assert_eq!(a.size, decoded.len() as u64);
        assert_eq!(a.sha256, Some(hex_sha256(decoded.as_bytes())));
    }

    #[test]
    fn inline_image_stays_inline_and_is_hashed() {
        // The PNG signature, base64.
        let raw = "From: a@b.c\r\nContent-Type: multipart/related; boundary=R\r\n\r\n\
--R\r\nContent-Type: text/html\r\n\r\n<p><img src=\"cid:logo@x.test\"></p>\r\n\
--R\r\nContent-Type: image/png; name=\"logo.png\"\r\nContent-Disposition: inline; filename=\"logo.png\"\r\nContent-ID: <logo@x.test>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
--R--\r\n";
        let (m, format) = message_from_eml(raw.as_bytes()).expect("parses");
        assert_eq!(format, BodyFormat::Html);
        assert_eq!(m.attachments.len(), 1, "{:?}", m.attachments);
        let a = &m.attachments[0];
        assert_eq!(a.id, "logo@x.test");
        assert_eq!(a.filename, "logo.png");
        assert_eq!(a.content_type, "image/png");
        assert!(a.is_inline);
        assert_eq!(a.size, 8);
        assert_eq!(
            a.sha256.as_deref(),
            Some("4c4b6a3be1314ab86138bef4314dde022e600960d8689a2c8f8631802d20dab6")
        );
    }

    #[test]
    fn nested_message_hashes_what_its_size_counts() {
        let inner = "From: x@y.z\r\nSubject: inner\r\n\r\ninner body\r\n";
        let raw = format!(
            "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nforwarded\r\n\
--B\r\nContent-Type: message/rfc822\r\n\r\n{inner}\
--B--\r\n"
        );
        let (m, _) = message_from_eml(raw.as_bytes()).expect("parses");
        let types: Vec<&str> = m
            .attachments
            .iter()
            .map(|a| a.content_type.as_str())
            .collect();
        assert_eq!(types, ["message/rfc822"]);
        let a = &m.attachments[0];
        // The nested message as written, up to the delimiter's line break.
        let nested = inner.strip_suffix("\r\n").unwrap_or(inner);
        assert_eq!(a.size, nested.len() as u64);
        assert_eq!(a.sha256, Some(hex_sha256(nested.as_bytes())));
    }

    #[test]
    fn a_part_cut_off_before_its_delimiter_gets_no_hash() {
        // A multipart message cut inside its last attachment (a raw object
        // read only up to the size cap): that part's bytes are not its
        // content, so no hash; the parts before it are whole.
        let whole = "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--B\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8K\r\n\
--B\r\nContent-Type: application/octet-stream; name=\"b.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8KaGVsbG8K\r\naGVsbG8K\r\n\
--B--\r\n";
        let hello = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        let (m, _) = message_from_eml(whole.as_bytes()).expect("parses");
        let hashes: Vec<Option<&str>> = m.attachments.iter().map(|a| a.sha256.as_deref()).collect();
        let three_hellos = hex_sha256(b"hello\nhello\nhello\n");
        assert_eq!(hashes, [Some(hello), Some(three_hellos.as_str())]);
        // Cut inside the last part, at the end of its data, inside its
        // trailing line break, and inside the next delimiter.
        let end_of_data = whole.len() - "\r\n--B--\r\n".len();
        for cut in [
            end_of_data - 5,
            end_of_data,
            end_of_data + 1,
            end_of_data + 3,
        ] {
            let (m, _) = message_from_eml(&whole.as_bytes()[..cut]).expect("parses");
            let hashes: Vec<Option<&str>> =
                m.attachments.iter().map(|a| a.sha256.as_deref()).collect();
            assert_eq!(hashes, [Some(hello), None], "cut at {cut}");
        }
        // A closing delimiter cut short still ends the part.
        let (m, _) = message_from_eml(&whole.as_bytes()[..whole.len() - 4]).expect("parses");
        assert_eq!(
            m.attachments[1].sha256.as_deref(),
            Some(three_hellos.as_str())
        );
    }

    #[test]
    fn fixture_pdf_attachment_is_hashed() {
        let raw = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/email/normal/attached-pdf.eml"
        ))
        .expect("fixture");
        let (m, _) = message_from_eml(&raw).expect("parses");
        let pdf = m
            .attachments
            .iter()
            .find(|a| a.content_type == "application/pdf")
            .unwrap_or_else(|| panic!("{:?}", m.attachments));
        assert_eq!(pdf.filename, "test.pdf");
        assert_eq!(pdf.size, 6940);
        let hash = pdf.sha256.as_deref().expect("hashed");
        assert_eq!(hash.len(), 64);
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{hash}"
        );
        // Python's email package, base64-decoding the same part.
        assert_eq!(
            hash,
            "9bceec6f82bb812d493146ebbb807461493dd330d0044309962469df58b8f39f"
        );
        // Every part listed carries a hash of what its size counts.
        assert!(m.attachments.iter().all(|a| a.sha256.is_some()));
    }
}
