//! Body text extraction: HTML to text, quoted reply history removed.
//!
//! Two stages:
//!
//! 1. HTML only: one streaming pass over the tokens of `html5gum` (a WHATWG
//!    tokenizer: entities decoded, `<script>`/`<style>`/`<title>` read as raw
//!    text; no DOM). Text is written as it comes, whitespace collapsed, block
//!    elements and `<br>` starting new lines. The containers mail clients put
//!    the quoted history in (Gmail `div.gmail_quote`, Outlook
//!    `div#divRplyFwdMsg`, Hotmail `hr#stopSpelling`, Yahoo
//!    `div.yahoo_quoted`, ...) end the pass: they and everything after them
//!    are never read. A `<blockquote>` is dropped and leaves a `>` line in
//!    its place, so that stage 2 also drops the attribution line above it
//!    ([`html_to_text`] keeps its text as `> `-prefixed lines). Content
//!    nested deeper than 256 elements is dropped first.
//! 2. Every format: text-level stripping ([`strip_quoted`]): "On ... wrote:"
//!    attribution lines (several languages) and everything after them,
//!    Outlook header blocks ("From: ... Sent: ...") and `-----Original
//!    Message-----` separators and everything after them, `>`-prefixed lines
//!    (and an "... <a@b.c>:" attribution line right above them).
//!
//! Everything here is linear in the input (no backtracking regex, no tree),
//! never panics, and bounds its input to [`MAX_INPUT_BYTES`].

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Emitter, ForwardingEmitter, Span, Tokenizer};

use crate::message::BodyFormat;

/// Bodies longer than this (bytes) are cut (on a char boundary) before
/// conversion. Nylas truncates notification bodies at 1 MB anyway; the cap
/// keeps the worst case bounded.
pub const MAX_INPUT_BYTES: usize = 2 * 1024 * 1024;

/// Content nested deeper than this many elements is dropped before
/// tokenizing. Real mail nests far less, except deep inside old quoted
/// history, which we drop anyway; what is nested deeper is tag soup (or an
/// attack) rather than text someone wrote.
const MAX_NESTING: usize = 256;

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
    if s.len() <= MAX_INPUT_BYTES {
        return s;
    }
    let mut end = MAX_INPUT_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

// ------------------------------------------------------------------ HTML

/// Returned by the tokenizer callback where the quoted history starts: the
/// tokenizer yields it and nothing after it is read.
struct Stop;

fn render_html(html: &str, cut_history: bool) -> String {
    let html = limit_nesting(html, MAX_NESTING);
    let mut text = TextWriter::new(cut_history, html.len());
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
    fn new(cut_history: bool, input_len: usize) -> Self {
        TextWriter {
            out: Vec::with_capacity(input_len / 2),
            cut_history,
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
            CallbackEvent::String { value } => self.text(value),
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

// ------------------------------------------------------------ nesting cap

/// What the nesting cap needs to know of an element.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nesting {
    /// Counts as one level.
    Counts,
    /// Never holds content, or its end tag is optional (the parser closes
    /// it implicitly), or it cannot nest: not counted.
    NotCounted,
    /// Its content is raw text (no tags inside): skipped to its end tag.
    RawText,
    /// `<svg>`, `<math>`: counts, and inside it `<x/>` closes itself.
    ForeignRoot,
}

/// The [`Nesting`] of an element, by its (ASCII case-insensitive) name.
fn nesting(name: &str) -> Nesting {
    // Every name matched below is at most 8 bytes long.
    let mut lower = [0u8; 8];
    let Some(buf) = lower.get_mut(..name.len()) else {
        return Nesting::Counts;
    };
    for (to, from) in buf.iter_mut().zip(name.bytes()) {
        *to = from.to_ascii_lowercase();
    }
    match &*buf {
        b"area" | b"base" | b"br" | b"col" | b"embed" | b"hr" | b"img" | b"input" | b"link"
        | b"meta" | b"param" | b"source" | b"track" | b"wbr" | b"keygen" | b"frame" | b"image"
        | b"p" | b"li" | b"dt" | b"dd" | b"tr" | b"td" | b"th" | b"option" | b"optgroup"
        | b"thead" | b"tbody" | b"tfoot" | b"colgroup" | b"caption" | b"rb" | b"rt" | b"rtc"
        | b"rp" | b"html" | b"head" | b"body" | b"a" | b"nobr" => Nesting::NotCounted,
        b"script" | b"style" | b"textarea" | b"title" | b"xmp" | b"iframe" | b"noembed"
        | b"noframes" => Nesting::RawText,
        b"svg" | b"math" => Nesting::ForeignRoot,
        _ => Nesting::Counts,
    }
}

enum Tag<'a> {
    /// `<name ...>`; `true` when self-closing (`<name/>`).
    Start(&'a str, bool),
    End(&'a str),
    /// Comment, doctype, processing instruction.
    Other,
}

/// `html` without the content nested deeper than `max` elements (as a
/// light tokenizer counts them; see [`MAX_NESTING`]). Borrowed when nothing
/// is that deep. One linear pass.
fn limit_nesting(html: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let bytes = html.as_bytes();
    // Each level opens with a `<`: with no more of them than `max`, nothing
    // is deeper. Counted in blocks of 255 bytes with a byte-sized sum, which
    // the compiler vectorizes: far cheaper than the scan.
    let lts: usize = bytes
        .chunks(255)
        .map(|block| usize::from(block.iter().map(|&b| u8::from(b == b'<')).sum::<u8>()))
        .sum();
    if lts <= max {
        return std::borrow::Cow::Borrowed(html);
    }
    let mut keep: Vec<std::ops::Range<usize>> = Vec::new();
    let mut kept_from = 0;
    let mut depth = 0usize;
    // Inside <svg>/<math>, where `<x/>` really is self-closing; in HTML the
    // slash is ignored (`<div/>` opens a div).
    let mut foreign = 0usize;
    let mut at = 0;
    while let Some(lt) = find_byte(html, at, b'<') {
        let Some((tag, end)) = scan_tag(bytes, lt) else {
            at = lt + 1;
            continue;
        };
        at = end;
        match tag {
            Tag::Other => {}
            Tag::Start(name, self_closing) => {
                let closed = self_closing && foreign > 0;
                match nesting(name) {
                    Nesting::RawText => at = find_end_tag(bytes, end, name),
                    Nesting::NotCounted => {}
                    _ if closed => {}
                    kind @ (Nesting::Counts | Nesting::ForeignRoot) => {
                        if kind == Nesting::ForeignRoot {
                            foreign += 1;
                        }
                        depth += 1;
                        if depth == max + 1 {
                            keep.push(kept_from..lt);
                        }
                    }
                }
            }
            Tag::End(name) => {
                let kind = nesting(name);
                if kind == Nesting::ForeignRoot {
                    foreign = foreign.saturating_sub(1);
                }
                // Raw-text elements are not counted at their start tag
                // either.
                if matches!(kind, Nesting::Counts | Nesting::ForeignRoot) && depth > 0 {
                    if depth == max + 1 {
                        kept_from = end;
                    }
                    depth -= 1;
                }
            }
        }
    }
    if keep.is_empty() {
        return std::borrow::Cow::Borrowed(html);
    }
    if depth <= max {
        keep.push(kept_from..html.len());
    }
    let mut out = String::with_capacity(html.len());
    for range in keep {
        out.push_str(html.get(range).unwrap_or_default());
    }
    std::borrow::Cow::Owned(out)
}

/// The tag starting at `bytes[lt] == b'<'` and the index after it, or
/// `None` when this `<` is text.
fn scan_tag(bytes: &[u8], lt: usize) -> Option<(Tag<'_>, usize)> {
    let rest = bytes.get(lt + 1..)?;
    match rest.first()? {
        b'!' => {
            if rest.starts_with(b"!--") {
                let body = lt + 4;
                let end = find(bytes, body, b"-->").map_or(bytes.len(), |p| p + 3);
                return Some((Tag::Other, end));
            }
            Some((
                Tag::Other,
                find(bytes, lt, b">").map_or(bytes.len(), |p| p + 1),
            ))
        }
        b'?' => Some((
            Tag::Other,
            find(bytes, lt, b">").map_or(bytes.len(), |p| p + 1),
        )),
        b'/' => {
            let name = tag_name(bytes, lt + 2);
            let end = find(bytes, lt, b">").map_or(bytes.len(), |p| p + 1);
            if name.is_empty() {
                Some((Tag::Other, end))
            } else {
                Some((Tag::End(name), end))
            }
        }
        c if c.is_ascii_alphabetic() => {
            let name = tag_name(bytes, lt + 1);
            let (end, self_closing) = start_tag_end(bytes, lt + 1 + name.len());
            Some((Tag::Start(name, self_closing), end))
        }
        _ => None,
    }
}

/// ASCII tag name starting at `from` (letters, digits, `-`, `:`, `_`).
fn tag_name(bytes: &[u8], from: usize) -> &str {
    let len = bytes
        .get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'_'))
        .count();
    // ASCII only, so always valid UTF-8.
    std::str::from_utf8(bytes.get(from..from + len).unwrap_or_default()).unwrap_or_default()
}

/// End of a start tag whose attributes begin at `from`: the index after
/// `>` (quoted attribute values may hold `>`), and whether it is `/>`.
fn start_tag_end(bytes: &[u8], from: usize) -> (usize, bool) {
    let mut i = from;
    let mut after_equals = false;
    let mut last = b' ';
    while let Some(&b) = bytes.get(i) {
        match b {
            b'>' => return (i + 1, last == b'/'),
            b'=' => after_equals = true,
            b'"' | b'\'' if after_equals => {
                i = find(bytes, i + 1, &[b]).unwrap_or(bytes.len());
                after_equals = false;
            }
            b if b.is_ascii_whitespace() => {}
            _ => after_equals = false,
        }
        if !b.is_ascii_whitespace() {
            last = b;
        }
        i += 1;
    }
    (bytes.len(), false)
}

/// Index of the `</name` that ends a raw-text element, or the end.
fn find_end_tag(bytes: &[u8], from: usize, name: &str) -> usize {
    let mut at = from;
    while let Some(p) = find(bytes, at, b"</") {
        let candidate = bytes.get(p + 2..p + 2 + name.len()).unwrap_or_default();
        if candidate.eq_ignore_ascii_case(name.as_bytes()) {
            return p;
        }
        at = p + 2;
    }
    bytes.len()
}

/// Index of the first `byte` (ASCII) in `html` at or after `from`.
fn find_byte(html: &str, from: usize, byte: u8) -> Option<usize> {
    match html.get(from..) {
        // `str::find` with an ASCII char runs the standard library's
        // word-at-a-time `memchr`.
        Some(rest) => rest.find(char::from(byte)).map(|p| from + p),
        // Not a char boundary (never after an ASCII byte, which is where
        // every caller starts): the bytes one by one.
        None => html
            .as_bytes()
            .get(from..)?
            .iter()
            .position(|&b| b == byte)
            .map(|p| from + p),
    }
}

/// First occurrence of `needle` in `bytes[from..]`.
fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let hay = bytes.get(from..)?;
    let first = *needle.first()?;
    let mut at = 0;
    while let Some(p) = hay.get(at..)?.iter().position(|&b| b == first) {
        let start = at + p;
        if hay.get(start..start + needle.len()) == Some(needle) {
            return Some(from + start);
        }
        at = start + 1;
    }
    None
}

// ------------------------------------------------------------------ text

/// Verbs that end an "On <date>, <name> wrote:" attribution line, lower-case.
const WROTE: &[&str] = &[
    "wrote",
    "writes",
    "schrieb",
    "a écrit",
    "escribió",
    "ha scritto",
    "scrisse",
    "geschreven",
    "schreef",
    "escreveu",
    "skrev",
    "napisał",
    "napisała",
    "kirjoitti",
    "írta",
    "написал",
    "написала",
    "написал(а)",
    "пишет",
    "写道",
];

/// Words that start an attribution ("On ...", "Am ...", "Le ...").
const ATTRIBUTION_START: &[&str] = &[
    "on ", "am ", "le ", "el ", "il ", "op ", "em ", "den ", "dnia ", "w dniu ", "в ", "pe ",
];

/// Header labels of a quoted header block ("From:", "Von:", "От:").
const FROM_LABELS: &[&str] = &[
    "from",
    "von",
    "de",
    "da",
    "van",
    "från",
    "fra",
    "od",
    "от",
    "lähettäjä",
    "feladó",
    "发件人",
    "寄件者",
    "差出人",
];

/// Date labels of a quoted header block ("Sent:", "Date:", "Gesendet:").
const DATE_LABELS: &[&str] = &[
    "sent",
    "date",
    "gesendet",
    "datum",
    "envoyé",
    "enviado",
    "fecha",
    "inviato",
    "data",
    "verzonden",
    "skickat",
    "sendt",
    "wysłano",
    "отправлено",
    "дата",
    "lähetetty",
    "发送时间",
    "日期",
    "送信日時",
];

/// Other labels that may sit inside a quoted header block.
const OTHER_LABELS: &[&str] = &[
    "to",
    "cc",
    "bcc",
    "subject",
    "reply-to",
    "an",
    "betreff",
    "kopie",
    "à",
    "a",
    "objet",
    "para",
    "asunto",
    "oggetto",
    "aan",
    "onderwerp",
    "till",
    "ämne",
    "til",
    "emne",
    "do",
    "temat",
    "кому",
    "тема",
    "копия",
    "vastaanottaja",
    "aihe",
    "收件人",
    "主题",
    "宛先",
    "件名",
    "on behalf of",
];

/// "-----Original Message-----" and its translations, lower-case.
const ORIGINAL_MESSAGE: &[&str] = &[
    "original message",
    "ursprüngliche nachricht",
    "message d'origine",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "originalmeddelande",
    "oprindelig meddelelse",
    "opprinnelig melding",
    "wiadomość oryginalna",
    "исходное сообщение",
    "alkuperäinen viesti",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    From,
    Date,
    Other,
}

/// Text-level quote stripping (stage 2 of [`visible_text`]): cuts at the
/// first attribution line ("On ... wrote:"), quoted header block ("From:"
/// with "Sent:"/"Date:") or "-----Original Message-----" separator, removes
/// `>`-prefixed lines (with an "...<a@b.c>:" line right above them), and
/// tidies blank lines. Linear in the input.
pub fn strip_quoted(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = history_start(&lines).unwrap_or(lines.len());

    let mut kept: Vec<&str> = Vec::with_capacity(end);
    let mut in_quote = false;
    for line in &lines[..end] {
        let trimmed = line.trim_start();
        if trimmed.starts_with('>') {
            if !in_quote {
                drop_attribution_above(&mut kept);
            }
            in_quote = true;
            continue;
        }
        if !trimmed.is_empty() {
            in_quote = false;
        }
        kept.push(line.trim_end());
    }

    // Trailing blank lines and separators (the "____" Outlook puts above
    // the header block, a dashed rule) are leftovers of the cut.
    while let Some(last) = kept.last() {
        if last.trim().is_empty() || is_separator(last) {
            kept.pop();
        } else {
            break;
        }
    }

    // One blank line at most between paragraphs, none at the start.
    let mut out: Vec<&str> = Vec::with_capacity(kept.len());
    for line in kept {
        let blank = line.trim().is_empty();
        if blank && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(if blank { "" } else { line });
    }
    out.join("\n")
}

/// Index of the first line of the quoted history, if any.
fn history_start(lines: &[&str]) -> Option<usize> {
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(start) = attribution_start(lines, i) {
            return Some(start);
        }
        if is_original_message(trimmed) || is_header_block(lines, i) {
            return Some(i);
        }
    }
    None
}

/// When line `i` ends an "On ... wrote:" attribution, the line it starts on
/// (it may be wrapped over up to three lines). The line must end with a
/// colon and name a "wrote" verb; it must also start with an attribution
/// word ("On", "Am", "Le", ...) or, for "Bob <bob@x.com> wrote:", name an
/// address and end with the verb.
fn attribution_start(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines.get(i)?.trim();
    let body = line
        .strip_suffix(':')
        .or_else(|| line.strip_suffix('：'))?
        .trim_end();
    if body.len() > 1000 {
        return None;
    }
    let lower = body.to_lowercase();
    if !WROTE.iter().any(|w| lower.contains(w)) {
        return None;
    }
    // Look back (over wrapped lines, not across blank lines) for the start.
    let first = i.saturating_sub(2);
    for j in (first..=i).rev() {
        let candidate = lines.get(j)?.trim();
        if candidate.is_empty() {
            break;
        }
        let prefix = candidate.chars().take(8).collect::<String>().to_lowercase();
        if ATTRIBUTION_START.iter().any(|p| prefix.starts_with(p)) {
            return Some(j);
        }
    }
    if lower.contains('@') && WROTE.iter().any(|w| lower.ends_with(w)) {
        return Some(i);
    }
    None
}

fn is_original_message(trimmed: &str) -> bool {
    if !(trimmed.starts_with('-') || trimmed.starts_with('_')) || trimmed.len() > 80 {
        return false;
    }
    let inner = trimmed
        .trim_matches(|c: char| c == '-' || c == '_' || c.is_whitespace())
        .to_lowercase();
    ORIGINAL_MESSAGE.contains(&inner.as_str())
}

/// The label of a "Label: value" line, when it is a known header label.
fn header_label(line: &str) -> Option<Label> {
    let trimmed = line.trim_start();
    // Labels are short: look for the colon among the first 40 bytes.
    let head = trimmed.get(..trimmed.len().min(40)).unwrap_or(trimmed);
    let colon = head.find([':', '：'])?;
    let label = trimmed.get(..colon)?.trim().to_lowercase();
    if label.is_empty() {
        return None;
    }
    let label = label.as_str();
    if FROM_LABELS.contains(&label) {
        Some(Label::From)
    } else if DATE_LABELS.contains(&label) {
        Some(Label::Date)
    } else if OTHER_LABELS.contains(&label) {
        Some(Label::Other)
    } else {
        None
    }
}

/// Whether a quoted header block ("From: ... / Sent: ... / To: ...") starts
/// at line `i`: a run of header lines, without blank lines, holding a sender
/// label and a date label. Wrapped values (lines without a label) may sit
/// inside the run.
fn is_header_block(lines: &[&str], i: usize) -> bool {
    let Some(first) = lines.get(i).and_then(|l| header_label(l)) else {
        return false;
    };
    let (mut from, mut date) = (first == Label::From, first == Label::Date);
    let mut labels = 1;
    for line in lines.iter().skip(i + 1).take(8) {
        if line.trim().is_empty() {
            break;
        }
        match header_label(line) {
            Some(Label::From) => from = true,
            Some(Label::Date) => date = true,
            Some(Label::Other) | None => {}
        }
        if header_label(line).is_some() {
            labels += 1;
        }
        if from && date && labels >= 2 {
            return true;
        }
    }
    false
}

/// Before a `>` block: drop the line right above it (blank lines between
/// allowed) when it reads like an attribution: ends with `:` and names an
/// address ("26.06.2014, Alexander L <abc@example.com>:").
fn drop_attribution_above(kept: &mut Vec<&str>) {
    let Some(pos) = kept.iter().rposition(|l| !l.trim().is_empty()) else {
        return;
    };
    let line = kept[pos].trim();
    if (line.ends_with(':') || line.ends_with('：')) && line.contains('@') && line.len() < 300 {
        kept.truncate(pos);
    }
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty()
        && t.chars().count() >= 3
        && t.chars().all(|c| {
            matches!(c, '-' | '_' | '=' | '*' | '~' | '─' | '━' | '—') || c.is_whitespace()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn on_wrote_cuts_everything_after() {
        let text = "Thanks!\n\nOn Tue, Mar 5, 2024 at 10:00 AM Bob <bob@example.com>\nwrote:\nold line\n> quoted";
        assert_eq!(visible_text(text, BodyFormat::Text), "Thanks!");
        let de = "Danke\nAm 05.03.2024 um 10:00 schrieb Bob <bob@example.com>:\nalt";
        assert_eq!(visible_text(de, BodyFormat::Text), "Danke");
        let fr = "Merci\nLe 5 mars 2024 à 10:00, Bob <bob@example.com> a écrit :\nancien";
        assert_eq!(visible_text(fr, BodyFormat::Text), "Merci");
    }

    #[test]
    fn a_line_ending_in_wrote_without_attribution_shape_is_kept() {
        let text = "Here is what the customer wrote:\nplease help";
        assert_eq!(visible_text(text, BodyFormat::Text), text);
    }

    #[test]
    fn quoted_lines_and_their_attribution_are_removed() {
        let text =
            "Answer one\n\n26.06.2014, Bob <bob@example.com>:\n> question\n> more\n\nAnswer two";
        assert_eq!(
            visible_text(text, BodyFormat::Markdown),
            "Answer one\n\nAnswer two"
        );
    }

    #[test]
    fn outlook_header_block_is_cut() {
        let text = "New\n\n________________________________\nFrom: Bob <bob@example.com>\nSent: Monday, 1 Jan 2024 10:00\nTo: support@example.com\nSubject: help\n\nold";
        assert_eq!(visible_text(text, BodyFormat::Text), "New");
        let german = "Neu\nVon: Bob\nGesendet: Montag\nAn: x\n\nalt";
        assert_eq!(visible_text(german, BodyFormat::Text), "Neu");
    }

    #[test]
    fn a_lone_from_line_is_not_a_header_block() {
        let text = "From: the billing page\nI cannot pay";
        assert_eq!(visible_text(text, BodyFormat::Text), text);
    }

    #[test]
    fn original_message_separator_cuts() {
        let text = "Reply\n-----Original Message-----\nold";
        assert_eq!(visible_text(text, BodyFormat::Text), "Reply");
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

    #[test]
    fn deep_nesting_is_cut_and_stays_fast() {
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
            let start = std::time::Instant::now();
            let t = visible_text(&html, BodyFormat::Html);
            assert!(t.contains("top"), "{open}: {t}");
            // Never-closed `<div/>`s keep "bottom" deep too.
            assert_eq!(t.contains("bottom"), !close.is_empty(), "{open}: {t}");
            assert!(!t.contains("deep text"), "{open}: {t}");
            assert!(
                start.elapsed().as_secs() < 5,
                "{open}: {:?}",
                start.elapsed()
            );
        }
    }

    #[test]
    fn nesting_limit_keeps_shallow_html_untouched() {
        let html = "<div a='>'><!-- <div> --><script>'<div>'</script><p>x<br/></div>";
        assert!(matches!(
            limit_nesting(html, 1),
            std::borrow::Cow::Borrowed(_)
        ));
        let deep = "<div><div><div>x</div></div>y</div>z";
        assert_eq!(limit_nesting(deep, 2), "<div><div></div>y</div>z");
        let unclosed = "<div><div><div>x";
        assert_eq!(limit_nesting(unclosed, 2), "<div><div>");
        // `<div/>` opens a div in HTML; `<path/>` in SVG closes itself.
        assert_eq!(limit_nesting("<div/><div/><div/>x", 2), "<div/><div/>");
        let svg = "<svg><path/><path/><path/></svg>x";
        assert!(matches!(
            limit_nesting(svg, 2),
            std::borrow::Cow::Borrowed(_)
        ));
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
