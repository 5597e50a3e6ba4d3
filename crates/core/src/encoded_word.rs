//! Repair of one common RFC 2047 breakage: a UTF-8 character whose bytes
//! are split across two encoded words (mailers that cut encoded words by
//! length, not by character). RFC 2047 forbids it, so a conforming decoder
//! (`mail-parser`) decodes each word alone and gets two replacement
//! characters; joining the words' bytes before decoding gets the character.
//!
//! [`join_utf8`] decodes a header value whose encoded words are all UTF-8
//! (`B` or `Q`), joining adjacent words (the whitespace between them is not
//! text) and keeping the text between others as written. Anything else
//! (another charset, a malformed word, bytes that still are not UTF-8) is
//! `None`: the caller keeps its own decoding.

use base64::Engine as _;

/// The value decoded with adjacent UTF-8 encoded words joined, or `None`.
pub fn join_utf8(value: &str) -> Option<String> {
    let mut bytes: Vec<u8> = Vec::with_capacity(value.len());
    let mut rest = value;
    let mut after_word = false;
    let mut seen_word = false;
    while !rest.is_empty() {
        match rest.find("=?") {
            Some(start) => {
                let (text, tail) = rest.split_at(start);
                // Whitespace between two encoded words is not text.
                let between_words = after_word && text.chars().all(char::is_whitespace);
                if !between_words {
                    bytes.extend_from_slice(text.as_bytes());
                }
                let (decoded, used) = word(tail)?;
                bytes.extend_from_slice(&decoded);
                rest = &tail[used..];
                after_word = true;
                seen_word = true;
            }
            None => {
                bytes.extend_from_slice(rest.as_bytes());
                rest = "";
            }
        }
    }
    if !seen_word {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// One encoded word at the start of `s`: its bytes and its length.
fn word(s: &str) -> Option<(Vec<u8>, usize)> {
    let after_open = s.strip_prefix("=?")?;
    let (charset, after_charset) = after_open.split_once('?')?;
    // An RFC 2231 language suffix (`utf-8*en`) is not part of the charset.
    let charset = charset.split('*').next()?;
    if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") {
        return None;
    }
    let (encoding, text_and_rest) = after_charset.split_once('?')?;
    let end = text_and_rest.find("?=")?;
    let text = &text_and_rest[..end];
    let used = s.len() - text_and_rest.len() + end + 2;
    let decoded = match encoding {
        "B" | "b" => {
            let unpadded = text.trim_end_matches('=');
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(unpadded)
                .ok()?
        }
        "Q" | "q" => q_decode(text)?,
        _ => return None,
    };
    Some((decoded, used))
}

fn q_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'_' => out.push(b' '),
            b'=' => {
                let hi = (bytes.next()? as char).to_digit(16)?;
                let lo = (bytes.next()? as char).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_across_words_is_joined() {
        assert_eq!(
            join_utf8("=?utf-8?B?Q2Fmww==?= =?utf-8?B?qSBvcmRlcg==?=").as_deref(),
            Some("Café order")
        );
        assert_eq!(
            join_utf8("=?UTF-8?Q?Caf=C3?=\r\n =?UTF-8?Q?=A9_au_lait?=").as_deref(),
            Some("Café au lait")
        );
    }

    #[test]
    fn text_around_words_is_kept() {
        assert_eq!(
            join_utf8("Re: =?utf-8?q?K=C3=B6ln?= order").as_deref(),
            Some("Re: Köln order")
        );
    }

    #[test]
    fn what_it_cannot_do_is_none() {
        assert_eq!(join_utf8("plain subject"), None);
        assert_eq!(join_utf8("=?iso-8859-1?q?K=F6ln?="), None);
        assert_eq!(join_utf8("=?utf-8?q?never_closed"), None);
        assert_eq!(join_utf8("=?utf-8?x?abc?="), None);
        assert_eq!(join_utf8("=?utf-8?q?bad=ZZ?="), None);
        // Still not UTF-8 once joined.
        assert_eq!(join_utf8("=?utf-8?B?/w==?="), None);
    }
}
