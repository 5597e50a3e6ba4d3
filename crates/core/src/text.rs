//! Body text extraction: HTML to text, quoted reply history removed.
//!
//! Two stages:
//!
//! 1. HTML only: the body is parsed into a DOM (`html2text`'s html5ever
//!    parser), the containers mail clients put the quoted history in are cut
//!    off (Gmail `div.gmail_quote`, Outlook `div#divRplyFwdMsg`, Hotmail
//!    `hr#stopSpelling`, Yahoo `div.yahoo_quoted`, ... and everything after
//!    them), and the rest is rendered as plain text. `<blockquote>` renders
//!    as `>`-prefixed lines, which stage 2 removes.
//! 2. Every format: text-level stripping ([`strip_quoted`]): "On ... wrote:"
//!    attribution lines (several languages) and everything after them,
//!    Outlook header blocks ("From: ... Sent: ...") and `-----Original
//!    Message-----` separators and everything after them, `>`-prefixed lines
//!    (and an "... <a@b.c>:" attribution line right above them).
//!
//! Everything here is linear in the input (no backtracking regex), never
//! panics, and bounds its input to [`MAX_INPUT_BYTES`].

use std::rc::Rc;

use html2text::render::TextDecorator;
use html2text::{Element, Handle, RcDom};

use crate::message::BodyFormat;

/// Bodies longer than this (bytes) are cut (on a char boundary) before
/// conversion. Nylas truncates notification bodies at 1 MB anyway; the cap
/// keeps the worst case bounded.
pub const MAX_INPUT_BYTES: usize = 2 * 1024 * 1024;

/// Rendering width. Wide, so that paragraphs stay on one line and phrases
/// are not split by wrapping.
const RENDER_WIDTH: usize = 4096;

/// Content nested deeper than this many elements is dropped before parsing.
/// html5ever's tree builder scans the stack of open elements for many start
/// tags (`<div>` looks for a `<p>` in button scope), which makes parsing
/// quadratic in the nesting depth; the cap keeps it linear. Real mail nests
/// far less, except deep inside old quoted history, which we drop anyway.
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
/// nothing removed but invisible content (`<head>`, `<style>`, `<script>`,
/// `<hr>`). Blockquotes come out as `> `-prefixed lines.
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

fn render_html(html: &str, cut_history: bool) -> String {
    let config = html2text::config::with_decorator(PlainText);
    let html = limit_nesting(html, MAX_NESTING);
    let Ok(dom) = config.parse_html(html.as_bytes()) else {
        return strip_tags(&html);
    };
    prune(&dom, cut_history);
    let rendered = config
        .dom_to_render_tree(&dom)
        .and_then(|tree| config.render_to_string(tree, RENDER_WIDTH));
    match rendered {
        Ok(text) => text,
        Err(_) => strip_tags(&html),
    }
}

/// Last-resort conversion when `html2text` reports an error: drop
/// everything between `<` and `>`.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

// ------------------------------------------------------------ nesting cap

/// Elements that never hold content, or whose end tag is optional (the
/// parser closes them implicitly), or that cannot nest: not counted as
/// nesting.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen", "frame", "image", "p", "li", "dt", "dd", "tr", "td", "th", "option",
    "optgroup", "thead", "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rtc", "rp", "html",
    "head", "body", "a", "nobr",
];

/// Elements whose content is raw text (no tags inside).
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
];

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
    let mut keep: Vec<std::ops::Range<usize>> = Vec::new();
    let mut kept_from = 0;
    let mut depth = 0usize;
    // Inside <svg>/<math>, where `<x/>` really is self-closing; in HTML the
    // slash is ignored (`<div/>` opens a div).
    let mut foreign = 0usize;
    let mut at = 0;
    while let Some(offset) = bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == b'<'))
    {
        let lt = at + offset;
        let Some((tag, end)) = scan_tag(bytes, lt) else {
            at = lt + 1;
            continue;
        };
        at = end;
        match tag {
            Tag::Other => {}
            Tag::Start(name, self_closing) => {
                let closed = self_closing && foreign > 0;
                if RAW_TEXT.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                    at = find_end_tag(bytes, end, name);
                } else if !closed && counts(name) {
                    if is_foreign_root(name) {
                        foreign += 1;
                    }
                    depth += 1;
                    if depth == max + 1 {
                        keep.push(kept_from..lt);
                    }
                }
            }
            Tag::End(name) => {
                if is_foreign_root(name) {
                    foreign = foreign.saturating_sub(1);
                }
                if counts(name) && depth > 0 {
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

fn is_foreign_root(name: &str) -> bool {
    name.eq_ignore_ascii_case("svg") || name.eq_ignore_ascii_case("math")
}

fn counts(name: &str) -> bool {
    !NOT_NESTING.iter().any(|n| n.eq_ignore_ascii_case(name))
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

/// What to do with an element met while walking the DOM.
enum Action {
    Keep,
    /// Remove it (no text of its own that matters).
    Drop,
    /// Quoted history starts here: remove it and everything after it.
    CutToEnd,
}

fn element_action(node: &Handle, cut_history: bool) -> Action {
    let Element { name, attrs, .. } = &node.data else {
        return Action::Keep;
    };
    let tag: &str = &name.local;
    let attrs = attrs.borrow();
    let attr = |wanted: &str| {
        attrs
            .iter()
            .find(|a| str::eq_ignore_ascii_case(&a.name.local, wanted))
            .map(|a| &*a.value)
    };
    if cut_history {
        let id = attr("id").unwrap_or("");
        let quote_id = ["divRplyFwdMsg", "x_divRplyFwdMsg", "appendonsend"]
            .iter()
            .any(|q| id.eq_ignore_ascii_case(q))
            || (tag == "hr" && id.eq_ignore_ascii_case("stopSpelling"));
        let quote_class = attr("class").is_some_and(|class| {
            class.split_ascii_whitespace().any(|c| {
                [
                    "gmail_quote",
                    "gmail_quote_container",
                    "yahoo_quoted",
                    "OutlookMessageHeader",
                ]
                .iter()
                .any(|q| c.eq_ignore_ascii_case(q))
            })
        });
        if quote_id || quote_class {
            return Action::CutToEnd;
        }
    }
    match tag {
        // A horizontal rule renders as a line as wide as the page.
        "hr" | "head" | "script" | "style" | "template" => Action::Drop,
        _ => Action::Keep,
    }
}

/// Walks the DOM once (iteratively): drops invisible elements and cuts the
/// quoted history when asked.
fn prune(dom: &RcDom, cut_history: bool) {
    // (node, index of the next child to visit)
    let mut stack: Vec<(Handle, usize)> = vec![(dom.document.clone(), 0)];
    loop {
        let Some((node, next)) = stack.last_mut() else {
            return;
        };
        let node = Rc::clone(node);
        let index = *next;
        let child = node.children.borrow().get(index).cloned();
        let Some(child) = child else {
            stack.pop();
            continue;
        };
        match element_action(&child, cut_history) {
            Action::Drop => {
                node.children.borrow_mut().remove(index);
            }
            Action::CutToEnd => {
                node.children.borrow_mut().truncate(index);
                // Every ancestor loses what follows the branch we are in.
                // Their `next` already points past that branch.
                for (ancestor, after) in &stack {
                    ancestor.children.borrow_mut().truncate(*after);
                }
                return;
            }
            Action::Keep => {
                if let Some(top) = stack.last_mut() {
                    top.1 = index + 1;
                }
                stack.push((child, 0));
            }
        }
    }
}

/// Plain text rendering: no markup for links, emphasis, images or headings;
/// blockquotes prefixed with `> ` so the text stage can remove them.
#[derive(Clone, Debug)]
struct PlainText;

impl TextDecorator for PlainText {
    type Annotation = ();

    fn decorate_link_start(&mut self, _url: &str) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_link_end(&mut self) -> String {
        String::new()
    }
    fn decorate_em_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_em_end(&self) -> String {
        String::new()
    }
    fn decorate_strong_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strong_end(&self) -> String {
        String::new()
    }
    fn decorate_strikeout_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }
    fn decorate_code_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_code_end(&self) -> String {
        String::new()
    }
    fn decorate_preformat_first(&self) {}
    fn decorate_preformat_cont(&self) {}
    fn decorate_image(&mut self, _src: &str, _title: &str) -> (String, ()) {
        (String::new(), ())
    }
    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }
    fn quote_prefix(&self) -> String {
        "> ".to_string()
    }
    fn unordered_item_prefix(&self) -> String {
        "- ".to_string()
    }
    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }
    fn make_subblock_decorator(&self) -> Self {
        PlainText
    }
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
