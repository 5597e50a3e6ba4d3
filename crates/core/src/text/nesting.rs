//! The nesting cap, the first step of stage 1 (HTML only): content nested
//! deeper than [`MAX_NESTING`] elements is dropped before the HTML is
//! tokenized, in one linear pass of a light tokenizer that only tells tags
//! from text ([`scan_tag`]) and counts the elements that nest ([`nesting`]).

/// Content nested deeper than this many elements is dropped before
/// tokenizing. Real mail nests far less, except deep inside old quoted
/// history, which we drop anyway; what is nested deeper is tag soup (or an
/// attack) rather than text someone wrote.
pub(super) const MAX_NESTING: usize = 256;

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
pub(super) fn limit_nesting(html: &str, max: usize) -> std::borrow::Cow<'_, str> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
