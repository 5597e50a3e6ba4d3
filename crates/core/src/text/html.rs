//! Stage 1 of the text extraction (HTML only), after the nesting cap
//! (`nesting.rs`): HTML rendered as plain text in one streaming pass over
//! the tokens of `html5gum`. Holds the tag tables (what each element does
//! to the text, [`kind`]; where the quoted history starts, [`QUOTE_IDS`]
//! and [`QUOTE_CLASSES`]) and the writer that builds the text
//! ([`TextWriter`]).

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Emitter, ForwardingEmitter, Span, Tokenizer};

use super::nesting::{MAX_NESTING, limit_nesting};

/// Returned by the tokenizer callback where the quoted history starts: the
/// tokenizer yields it and nothing after it is read.
struct Stop;

pub(super) fn render_html(html: &str, cut_history: bool, max_out: usize) -> String {
    let html = limit_nesting(html, MAX_NESTING);
    let mut text = TextWriter::new(cut_history, html.len(), max_out);
    let mut emitter =
        CallbackEmitter::new(|event: CallbackEvent<'_>, _: Span<()>| text.event(event));
    // The content of <script>, <style>, <title>, <textarea>, ... is raw text
    // (a tree builder would switch the tokenizer's state; the emitter does it
    // from the tag name).
    emitter.naively_switch_states(true);
    let emitter = Quiet(emitter);
    // The only token the callback yields is `Stop`: one `next` reads up to
    // the quoted history, or the whole document. Reading a `&str` cannot
    // fail (the error type is `Infallible`).
    let _ = Tokenizer::new_with_emitter(html.as_ref(), emitter).next();
    text.finish()
}

/// An emitter with parse error reporting off: the tokenizer then skips its
/// per-byte checks for errors we would ignore anyway.
struct Quiet<E>(E);

impl<E: Emitter> ForwardingEmitter for Quiet<E> {
    type Token = E::Token;

    fn inner(&mut self) -> &mut impl Emitter<Token = Self::Token> {
        &mut self.0
    }

    fn should_emit_errors(&mut self) -> bool {
        false
    }
}

/// What an element does to the text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Nothing (`<a>`, `<span>`, `<b>`, unknown elements).
    Inline,
    /// Its content starts and ends a line.
    Line,
    /// Its content is a paragraph: a blank line before and after.
    Paragraph,
    /// A line break.
    Br,
    /// A rule: ends the line. Hotmail's `hr#stopSpelling` starts the history.
    Hr,
    /// A table cell: separated from its neighbours by a space.
    Cell,
    /// Preformatted: a paragraph whose whitespace is kept.
    Pre,
    /// Quoted text.
    Blockquote,
    /// Raw text that is not shown (the tokenizer reads it up to the end tag).
    Hidden,
    /// Markup that is not shown.
    Template,
}

fn kind(name: &[u8]) -> Kind {
    match name {
        b"br" => Kind::Br,
        b"hr" => Kind::Hr,
        b"p" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" | b"ul" | b"ol" | b"dl" | b"table" => {
            Kind::Paragraph
        }
        b"div" | b"li" | b"tr" | b"dt" | b"dd" | b"address" | b"article" | b"aside" | b"body"
        | b"caption" | b"center" | b"details" | b"dialog" | b"dir" | b"fieldset"
        | b"figcaption" | b"figure" | b"footer" | b"form" | b"header" | b"hgroup" | b"legend"
        | b"listing" | b"main" | b"menu" | b"nav" | b"section" | b"summary" | b"thead"
        | b"tbody" | b"tfoot" | b"xmp" | b"plaintext" | b"option" => Kind::Line,
        b"td" | b"th" => Kind::Cell,
        b"pre" => Kind::Pre,
        b"blockquote" => Kind::Blockquote,
        // Exactly the invisible ones among the elements the tokenizer
        // reads as raw text (`html5gum::naive_next_state`).
        b"script" | b"style" | b"title" | b"iframe" | b"noembed" | b"noscript" => Kind::Hidden,
        b"template" => Kind::Template,
        _ => Kind::Inline,
    }
}

/// Ids of the element the quoted history starts at (Outlook).
const QUOTE_IDS: &[&[u8]] = &[b"divRplyFwdMsg", b"x_divRplyFwdMsg", b"appendonsend"];

/// Classes of the element the quoted history starts at (Gmail, Yahoo,
/// Outlook).
const QUOTE_CLASSES: &[&[u8]] = &[
    b"gmail_quote",
    b"gmail_quote_container",
    b"yahoo_quoted",
    b"OutlookMessageHeader",
];

/// The attribute whose value the tokenizer reports next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attr {
    Id,
    Class,
    Other,
}

/// Builds the text from the tokenizer's events.
struct TextWriter {
    /// UTF-8: copied from the tokenizer's output (UTF-8) in pieces split at
    /// ASCII bytes only.
    out: Vec<u8>,
    /// Stop at the quoted history; drop blockquotes (`visible_text`).
    cut_history: bool,
    /// Stop once `out` holds this many bytes (the rest is never read).
    max_out: usize,
    /// Newlines at the end of `out`.
    trailing: usize,
    /// Line breaks owed before the next text: 1 ends the line, 2 leaves a
    /// blank line.
    pending: usize,
    /// Whitespace seen since the last word.
    space: bool,
    /// Inside a [`Kind::Hidden`] element.
    hidden: bool,
    /// Open `<template>`s.
    template: usize,
    /// Open `<blockquote>`s.
    quote: usize,
    /// Open `<pre>`s.
    pre: usize,
    /// The start tag being read, if any, and its current attribute.
    tag: Option<Kind>,
    attr: Attr,
}

impl TextWriter {
    fn new(cut_history: bool, input_len: usize, max_out: usize) -> Self {
        TextWriter {
            out: Vec::with_capacity((input_len / 2).min(max_out.saturating_add(64))),
            cut_history,
            max_out,
            trailing: 0,
            pending: 0,
            space: false,
            hidden: false,
            template: 0,
            quote: 0,
            pre: 0,
            tag: None,
            attr: Attr::Other,
        }
    }

    fn event(&mut self, event: CallbackEvent<'_>) -> Option<Stop> {
        match event {
            CallbackEvent::String { value } => {
                self.text(value);
                if self.out.len() >= self.max_out {
                    return Some(Stop);
                }
            }
            CallbackEvent::OpenStartTag { name } => self.start_tag(kind(name)),
            CallbackEvent::AttributeName { name } => {
                // Only a start tag's: the tokenizer also reports attributes
                // of end tags (`</div class=x>`), which mean nothing.
                self.attr = match (self.tag, name) {
                    (None, _) => Attr::Other,
                    (Some(_), b"id") => Attr::Id,
                    (Some(_), b"class") => Attr::Class,
                    (Some(_), _) => Attr::Other,
                };
            }
            CallbackEvent::AttributeValue { value } => {
                if self.cut_history && self.template == 0 && self.starts_history(value) {
                    return Some(Stop);
                }
            }
            CallbackEvent::EndTag { name } => self.end_tag(kind(name)),
            CallbackEvent::CloseStartTag { .. } => {
                self.tag = None;
                self.attr = Attr::Other;
            }
            CallbackEvent::Comment { .. }
            | CallbackEvent::Doctype { .. }
            | CallbackEvent::Error(_) => {}
        }
        None
    }

    /// Whether the value of the current attribute marks the start of the
    /// quoted history.
    fn starts_history(&self, value: &[u8]) -> bool {
        match self.attr {
            Attr::Id => {
                QUOTE_IDS.iter().any(|id| value.eq_ignore_ascii_case(id))
                    || (self.tag == Some(Kind::Hr) && value.eq_ignore_ascii_case(b"stopSpelling"))
            }
            Attr::Class => value
                .split(u8::is_ascii_whitespace)
                .any(|class| QUOTE_CLASSES.iter().any(|q| class.eq_ignore_ascii_case(q))),
            Attr::Other => false,
        }
    }

    fn start_tag(&mut self, kind: Kind) {
        self.tag = Some(kind);
        self.attr = Attr::Other;
        match kind {
            Kind::Inline => {}
            Kind::Line | Kind::Hr => self.block(1),
            Kind::Paragraph => self.block(2),
            Kind::Br => self.line_break(),
            Kind::Cell => self.space = true,
            Kind::Pre => {
                self.block(2);
                self.pre += 1;
            }
            Kind::Blockquote => {
                self.block(2);
                if self.cut_history && self.quote == 0 && self.visible() {
                    // Dropped, but leaves a quote line: stage 2 then drops an
                    // attribution line above it too.
                    self.word(b">");
                    self.block(2);
                }
                self.quote += 1;
            }
            Kind::Hidden => self.hidden = true,
            Kind::Template => self.template += 1,
        }
    }

    fn end_tag(&mut self, kind: Kind) {
        self.tag = None;
        self.attr = Attr::Other;
        // Raw text runs up to its own end tag: whatever ends, it is over.
        self.hidden = false;
        match kind {
            Kind::Inline | Kind::Hidden => {}
            Kind::Line | Kind::Hr => self.block(1),
            Kind::Paragraph => self.block(2),
            // `</br>` is read as `<br>`.
            Kind::Br => self.line_break(),
            Kind::Cell => self.space = true,
            Kind::Pre => {
                self.pre = self.pre.saturating_sub(1);
                self.block(2);
            }
            Kind::Blockquote => {
                self.quote = self.quote.saturating_sub(1);
                self.block(2);
            }
            Kind::Template => self.template = self.template.saturating_sub(1),
        }
    }

    fn visible(&self) -> bool {
        !self.hidden && self.template == 0 && !(self.cut_history && self.quote > 0)
    }

    fn text(&mut self, text: &[u8]) {
        if !self.visible() {
            return;
        }
        if self.pre > 0 {
            for (i, line) in text.split(|&b| b == b'\n').enumerate() {
                if i > 0 {
                    self.line_break();
                }
                if !line.is_empty() {
                    self.word(line);
                }
            }
            return;
        }
        // Whitespace collapses (HTML's: ASCII only, a no-break space stays).
        for (i, word) in text.split(u8::is_ascii_whitespace).enumerate() {
            if i > 0 {
                self.space = true;
            }
            if !word.is_empty() {
                self.word(word);
            }
        }
    }

    /// Asks for a line break (`lines` 1) or a blank line (2) before the
    /// next text.
    fn block(&mut self, lines: usize) {
        self.pending = self.pending.max(lines);
    }

    /// `<br>` (and a newline in `<pre>`): ends the line, even an empty one.
    fn line_break(&mut self) {
        if !self.visible() || self.out.is_empty() {
            return;
        }
        self.flush_breaks();
        self.out.push(b'\n');
        self.trailing += 1;
        self.space = false;
    }

    fn flush_breaks(&mut self) {
        if !self.out.is_empty() {
            while self.trailing < self.pending {
                self.out.push(b'\n');
                self.trailing += 1;
            }
        }
        self.pending = 0;
    }

    fn word(&mut self, word: &[u8]) {
        self.flush_breaks();
        if self.out.is_empty() || self.trailing > 0 {
            if self.quote > 0 && !self.cut_history {
                self.out.extend_from_slice(b"> ");
            }
        } else if self.space {
            self.out.push(b' ');
        }
        self.space = false;
        self.trailing = 0;
        self.out.extend_from_slice(word);
    }

    fn finish(self) -> String {
        let mut out = self.out;
        out.truncate(out.len().saturating_sub(self.trailing));
        match String::from_utf8(out) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::message::BodyFormat;
    use crate::text::{html_to_text, visible_text};

    #[test]
    fn gmail_quote_is_cut() {
        let html = r#"<div dir="ltr">I need a refund<div class="gmail_quote"><div class="gmail_attr">On Mon, Jan 1, 2024 at 9:00 AM Support &lt;s@x.com&gt; wrote:<br></div><blockquote class="gmail_quote">the service was down</blockquote></div></div><p>after</p>"#;
        let t = visible_text(html, BodyFormat::Html);
        assert_eq!(t, "I need a refund");
    }

    #[test]
    fn outlook_div_and_following_siblings_are_cut() {
        let html = r#"<div>New text</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> x</div><div>old body</div>"#;
        assert_eq!(visible_text(html, BodyFormat::Html), "New text");
    }

    #[test]
    fn blockquote_is_removed_but_text_after_it_kept() {
        let html = "<p>Top</p><blockquote>old stuff</blockquote><p>Inline answer</p>";
        let t = visible_text(html, BodyFormat::Html);
        assert!(t.contains("Top") && t.contains("Inline answer"), "{t}");
        assert!(!t.contains("old stuff"), "{t}");
    }

    #[test]
    fn html_to_text_keeps_link_text_not_urls_and_no_rule_lines() {
        let t = html_to_text(
            r#"<p>See <a href="https://x.com/download">the page</a></p><hr><p>end</p>"#,
        );
        assert!(t.contains("See the page"), "{t}");
        assert!(!t.contains("download") && !t.contains('─'), "{t}");
    }

    #[test]
    fn head_style_and_script_are_invisible() {
        let t = html_to_text(
            "<html><head><title>urgent</title><style>p{color:red}</style></head><body><script>bug()</script><p>hello</p></body></html>",
        );
        assert_eq!(t.trim(), "hello");
    }
}
