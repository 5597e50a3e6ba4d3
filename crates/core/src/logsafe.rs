//! Making a value from outside safe to print in a log line, a table or a
//! dead-letter reason: control characters (newlines, escape sequences) and
//! bidirectional overrides are escaped, and the length is capped.
//!
//! Ids and types from a delivery are logged; bodies and addresses never are.
//! An id is still input: without escaping, a message id holding a newline
//! writes a forged line into the human log format, and one holding an ANSI
//! sequence reaches the operator's terminal.

use std::fmt;

/// Most characters of one value printed; the rest is counted, not shown.
pub const MAX_CHARS: usize = 200;

/// Display wrapper: `tracing::info!(message_id = %Escaped(id))`.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, MAX_CHARS)
    }
}

/// `s` escaped and capped at [`MAX_CHARS`] characters.
pub fn escape(s: &str) -> String {
    escape_capped(s, MAX_CHARS)
}

/// `s` escaped and capped at `max` characters (escapes count as one).
pub fn escape_capped(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 2));
    // Writing into a String cannot fail.
    let _ = write_escaped(&mut out, s, max);
    out
}

/// Characters that change how a line reads rather than what it says.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn write_escaped(out: &mut impl fmt::Write, s: &str, max: usize) -> fmt::Result {
    for (shown, (i, c)) in s.char_indices().enumerate() {
        if shown == max {
            return write!(out, "...(+{} bytes)", s.len() - i);
        }
        if needs_escape(c) {
            write!(out, "{}", c.escape_unicode())?;
        } else {
            out.write_char(c)?;
        }
    }
    Ok(())
}

/// Does an id hold characters no provider id has (control characters,
/// bidirectional overrides)? Ingest refuses such ids.
pub fn has_control(s: &str) -> bool {
    s.chars().any(needs_escape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_and_escapes_cannot_forge_lines() {
        let e = escape("m1\n2026-01-01 INFO forged\x1b[31m\u{202e}");
        assert!(!e.contains('\n') && !e.contains('\x1b') && !e.contains('\u{202e}'));
        assert!(e.starts_with("m1\\u{a}2026"));
        assert!(e.contains("\\u{1b}[31m"));
    }

    #[test]
    fn plain_ids_pass_unchanged_and_long_ones_are_capped() {
        assert_eq!(escape("18d5f2a9c0b1e3f4"), "18d5f2a9c0b1e3f4");
        assert_eq!(escape("café"), "café");
        let long = "x".repeat(10_000);
        let e = escape(&long);
        assert!(e.len() < MAX_CHARS + 40, "{}", e.len());
        assert!(e.ends_with(&format!("...(+{} bytes)", 10_000 - MAX_CHARS)));
        assert_eq!(Escaped("a\rb").to_string(), "a\\u{d}b");
    }

    #[test]
    fn control_detection() {
        assert!(has_control("a\0b") && has_control("a\u{85}") && has_control("\u{2066}"));
        assert!(!has_control("<abc@mail.example.com>") && !has_control("ümlaut"));
    }
}
