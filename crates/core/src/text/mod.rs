//! Body text extraction: HTML to text, quoted reply history removed.
//!
//! Two stages, in three files beside this one:
//!
//! 1. HTML only, in two steps:
//!    - `nesting.rs`: content nested deeper than 256 elements is dropped
//!      first, in one linear pass of a light tokenizer that counts the
//!      elements that nest (the nesting cap).
//!    - `html.rs`: one streaming pass over the tokens of `html5gum` (a
//!      WHATWG tokenizer: entities decoded, `<script>`/`<style>`/`<title>`
//!      read as raw text; no DOM). Text is written as it comes, whitespace
//!      collapsed, block elements and `<br>` starting new lines. The
//!      containers mail clients put the quoted history in (Gmail
//!      `div.gmail_quote`, Outlook `div#divRplyFwdMsg`, Hotmail
//!      `hr#stopSpelling`, Yahoo `div.yahoo_quoted`, ...) end the pass: they
//!      and everything after them are never read. A `<blockquote>` is
//!      dropped and leaves a `>` line in its place, so that stage 2 also
//!      drops the attribution line above it ([`html_to_text`] keeps its
//!      text as `> `-prefixed lines).
//! 2. Every format, `quoted.rs`: text-level stripping ([`strip_quoted`]):
//!    "On ... wrote:" attribution lines (several languages) and everything
//!    after them, Outlook header blocks ("From: ... Sent: ...") and
//!    `-----Original Message-----` separators and everything after them,
//!    `>`-prefixed lines (and an "... <a@b.c>:" attribution line right
//!    above them).
//!
//! This file holds the entry points: [`visible_text`] (both stages),
//! [`visible_text_head`] (both stages, reading only as much of the body as
//! its first bytes need) and [`html_to_text`] (stage 1 without cutting
//! anything but invisible content), and the input cap [`MAX_INPUT_BYTES`].
//!
//! Everything here is linear in the input (no backtracking regex, no tree),
//! never panics, and bounds its input to [`MAX_INPUT_BYTES`].

mod html;
mod nesting;
mod quoted;

pub use quoted::strip_quoted;

use crate::message::BodyFormat;
use html::render_html;

/// Bodies longer than this (bytes) are cut (on a char boundary) before
/// conversion. Nylas truncates notification bodies at 1 MB anyway; the cap
/// keeps the worst case bounded.
pub const MAX_INPUT_BYTES: usize = 2 * 1024 * 1024;

/// The new text a sender wrote: the body converted to plain text with the
/// quoted history of earlier messages removed.
pub fn visible_text(body: &str, format: BodyFormat) -> String {
    let body = cap(body);
    match format {
        BodyFormat::Html => strip_quoted(&render_html(body, true, usize::MAX)),
        BodyFormat::Markdown | BodyFormat::Text => strip_quoted(body),
    }
}

/// Stage 2 sees this much more text than a [`visible_text_head`] keeps, so
/// that its line-level decisions near the cut (an attribution line above a
/// quote, a header block) are made with the lines that follow.
pub const HEAD_MARGIN_BYTES: usize = 4 * 1024;

/// The first `max_bytes` of [`visible_text`] (cut at a character
/// boundary), without converting the rest of the body: HTML rendering
/// stops once it has written `max_bytes` + [`HEAD_MARGIN_BYTES`] of text,
/// and plain text is read that far. What the worker keeps of a body (the
/// classifier's scan, the snippet) is its start, so a 1 MiB body costs
/// about what a short one does.
///
/// Equal to the start of [`visible_text`] unless stage 2 drops more than
/// the margin of quoted lines inside the text it reads; then it ends
/// earlier (it never holds text [`visible_text`] would drop).
pub fn visible_text_head(body: &str, format: BodyFormat, max_bytes: usize) -> String {
    let read = max_bytes.saturating_add(HEAD_MARGIN_BYTES);
    let body = cap(body);
    let mut text = match format {
        BodyFormat::Html => strip_quoted(&render_html(body, true, read)),
        BodyFormat::Markdown | BodyFormat::Text => strip_quoted(head(body, read)),
    };
    text.truncate(text.floor_char_boundary(max_bytes));
    text
}

/// HTML converted to plain text (links as their text, no markup), with
/// nothing removed but invisible content (`<title>`, `<style>`, `<script>`,
/// `<template>`, `<noscript>`, `<iframe>`). Blockquotes come out as
/// `> `-prefixed lines.
pub fn html_to_text(html: &str) -> String {
    render_html(cap(html), false, usize::MAX)
}

fn cap(s: &str) -> &str {
    head(s, MAX_INPUT_BYTES)
}

/// At most the first `max` bytes of `s`, cut at a character boundary.
fn head(s: &str, max: usize) -> &str {
    s.get(..s.floor_char_boundary(max)).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_cut() {
        // Stays under MAX_INPUT_BYTES so that "bottom" is not capped away.
        let depth = 50_000;
        for (open, close) in [
            ("<div/>", ""),
            ("<div>", "</div>"),
            ("<blockquote>", "</blockquote>"),
            ("<table><tr><td>", "</td></tr></table>"),
        ] {
            let html = format!(
                "<p>top</p>{}deep text{}<p>bottom</p>",
                open.repeat(depth),
                close.repeat(depth)
            );
            let t = visible_text(&html, BodyFormat::Html);
            assert!(t.contains("top"), "{open}: {t}");
            // Never-closed `<div/>`s keep "bottom" deep too.
            assert_eq!(t.contains("bottom"), !close.is_empty(), "{open}: {t}");
            assert!(!t.contains("deep text"), "{open}: {t}");
        }
    }

    /// A long body: paragraphs of numbered words, so that any reordering or
    /// loss shows.
    fn long_html(paragraphs: usize) -> String {
        (0..paragraphs)
            .map(|i| format!("<p>Paragraph {i}: caf\u{e9} na\u{ef}ve r\u{e9}sum\u{e9} &amp; more words {i}.</p>"))
            .collect()
    }

    #[test]
    fn head_is_the_start_of_the_whole_visible_text() {
        let html = long_html(5_000);
        let whole = visible_text(&html, BodyFormat::Html);
        assert!(whole.len() > 100_000);
        for max in [0, 1, 37, 280, 16 * 1024, 64 * 1024] {
            let head = visible_text_head(&html, BodyFormat::Html, max);
            assert!(head.len() <= max, "{max}: {}", head.len());
            // Every cut lands on a character boundary and keeps all it can.
            assert!(whole.starts_with(&head), "{max}");
            assert!(
                head.len() + 4 > max.min(whole.len()),
                "{max}: {}",
                head.len()
            );
        }
        let text = whole.clone();
        for format in [BodyFormat::Text, BodyFormat::Markdown] {
            let head = visible_text_head(&text, format, 16 * 1024);
            assert!(visible_text(&text, format).starts_with(&head));
            assert!(head.len() > 16 * 1024 - 4);
        }
    }

    #[test]
    fn head_of_a_short_body_is_the_whole_visible_text() {
        let html = "<p>Hi,</p><p>the export fails.</p><div class=\"gmail_quote\">On Mon, Bob wrote: old</div>";
        assert_eq!(
            visible_text_head(html, BodyFormat::Html, 16 * 1024),
            visible_text(html, BodyFormat::Html)
        );
        let text = "New words.\n\nOn Mon, 1 Jan 2024, Bob <b@x.test> wrote:\n> old\n";
        assert_eq!(
            visible_text_head(text, BodyFormat::Text, 16 * 1024),
            visible_text(text, BodyFormat::Text)
        );
    }

    #[test]
    fn quoted_history_past_the_head_is_never_read_into_it() {
        // The quote container starts far beyond the head: the head is the
        // same with or without it, and holds none of the quoted words.
        let new = long_html(2_000);
        let with_quote = format!("{new}<div class=\"gmail_quote\">QUOTED words</div>");
        let head = visible_text_head(&with_quote, BodyFormat::Html, 16 * 1024);
        assert_eq!(head, visible_text_head(&new, BodyFormat::Html, 16 * 1024));
        assert!(!head.contains("QUOTED"));
        // A quote inside the head is dropped from it as from the whole.
        let early = format!("<p>Short ask.</p><blockquote>QUOTED</blockquote>{new}");
        let head = visible_text_head(&early, BodyFormat::Html, 16 * 1024);
        assert!(!head.contains("QUOTED"));
        assert!(visible_text(&early, BodyFormat::Html).starts_with(&head));
    }

    #[test]
    fn input_is_capped_on_a_char_boundary() {
        let big = format!("a{}", "é".repeat(MAX_INPUT_BYTES / 2));
        assert!(!big.is_char_boundary(MAX_INPUT_BYTES));
        assert_eq!(cap(&big).len(), MAX_INPUT_BYTES - 1);
        assert_eq!(
            visible_text(&big, BodyFormat::Text).len(),
            MAX_INPUT_BYTES - 1
        );
    }
}
