//! The human log format's fields, escaped: a value with a newline cannot
//! forge a log line, an escape sequence cannot reach the terminal, and one
//! event's fields are capped. (The JSON format escapes by construction.)

use std::fmt;

use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};

/// Most characters of one event's fields.
const MAX_FIELDS_CHARS: usize = 4000;

/// [`DefaultFields`] with control characters escaped and the length capped.
#[derive(Debug, Default)]
pub struct EscapedFields(DefaultFields);

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut line = String::new();
        self.0.format_fields(Writer::new(&mut line), fields)?;
        writer.write_str(&triage_core::logsafe::escape_capped(
            &line,
            MAX_FIELDS_CHARS,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_newline_in_a_field_cannot_forge_a_line() {
        let out = Capture::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields::default())
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let id = "m1\n2026-11-29T00:00:00Z  INFO forged: all good\x1b[2J";
            tracing::info!(message_id = %id, "record handled");
        });
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\x1b'), "{text}");
        assert!(text.contains("m1\\u{a}2026"), "{text}");
    }
}
