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
//! This file holds the entry points: [`visible_text`] (both stages) and
//! [`html_to_text`] (stage 1 without cutting anything but invisible
//! content), and the input cap [`MAX_INPUT_BYTES`].
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
        BodyFormat::Html => strip_quoted(&render_html(body, true)),
        BodyFormat::Markdown | BodyFormat::Text => strip_quoted(body),
    }
}

/// HTML converted to plain text (links as their text, no markup), with
/// nothing removed but invisible content (`<title>`, `<style>`, `<script>`,
/// `<template>`, `<noscript>`, `<iframe>`). Blockquotes come out as
/// `> `-prefixed lines.
pub fn html_to_text(html: &str) -> String {
    render_html(cap(html), false)
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
