//! JSON errors described without the input's values.
//!
//! `serde_json`'s messages quote what they found (`invalid type: string
//! "carol@example.org", expected a sequence`): a whole address, or a
//! megabyte-long field, would go into a log line or a dead-letter reason.
//! [`describe`] keeps the kind of error, what was expected (which comes
//! from our types, not the input), the position and the field path.

use std::fmt::Write as _;

use serde::de::DeserializeOwned;

use crate::logsafe;

/// Longest field path kept in a description.
const MAX_PATH_CHARS: usize = 120;

/// Deserialize `T`, describing a failure by field path and kind only
/// (e.g. `field data.object.from: wrong type (found string, expected a
/// sequence) at line 1 column 87`). The path is tracked only to describe a
/// failure: the success path is one plain parse.
pub fn from_str<'de, T: serde::Deserialize<'de>>(text: &'de str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|_| {
        let mut de = serde_json::Deserializer::from_str(text);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(e) => describe_at(e.path(), e.inner()),
            Ok(_) => match de.end() {
                Err(e) => describe(&e),
                Ok(()) => "invalid JSON".to_string(),
            },
        }
    })
}

/// [`from_str`] for bytes.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to()))?;
    from_str(text)
}

fn describe_at(path: &serde_path_to_error::Path, e: &serde_json::Error) -> String {
    let path = path.to_string();
    if path.is_empty() || path == "." {
        return describe(e);
    }
    format!(
        "field {}: {}",
        logsafe::escape_capped(&path, MAX_PATH_CHARS),
        describe(e)
    )
}

/// The kind of error and its position, never a value from the input.
pub fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let msg = e.to_string();
    // serde_json appends " at line L column C"; drop it and add our own.
    let msg = msg
        .rsplit_once(" at line ")
        .map_or(msg.as_str(), |(m, _)| m);
    let mut out = match e.classify() {
        Category::Data => data_kind(msg),
        Category::Eof => "unexpected end of input".to_string(),
        Category::Io => "read error".to_string(),
        // Syntax messages are fixed texts ("expected value", "trailing
        // characters", "control character found while parsing a string").
        Category::Syntax => logsafe::escape_capped(msg, 80),
    };
    if e.line() > 0 {
        let _ = write!(out, " at line {} column {}", e.line(), e.column());
    }
    out
}

/// A `Data` error's message without the value it quotes.
fn data_kind(msg: &str) -> String {
    // `expected ...` comes from our types' `Deserialize` impls.
    let expected = |rest: &str| {
        rest.rsplit_once(", expected ")
            .map(|(_, exp)| logsafe::escape_capped(exp, 80))
            .unwrap_or_default()
    };
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let found = rest.split([' ', ',']).next().unwrap_or("value");
        return format!(
            "wrong type (found {}, expected {})",
            logsafe::escape_capped(found, 20),
            expected(rest)
        );
    }
    if let Some(rest) = msg.strip_prefix("invalid value: ") {
        return format!("invalid value (expected {})", expected(rest));
    }
    if let Some(rest) = msg.strip_prefix("invalid length ") {
        return format!("invalid length (expected {})", expected(rest));
    }
    // Field names in these come from our structs.
    for known in ["duplicate field `", "missing field `"] {
        if let Some(rest) = msg.strip_prefix(known)
            && let Some((field, _)) = rest.split_once('`')
        {
            return format!("{known}{}`", logsafe::escape_capped(field, 40));
        }
    }
    if msg.starts_with("unknown field") {
        return "unknown field".to_string();
    }
    if msg.starts_with("unknown variant") {
        return "unknown variant".to_string();
    }
    "invalid data".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Who {
        email: String,
        to: Vec<String>,
        date: Option<i64>,
    }

    #[test]
    fn wrong_type_names_the_field_not_the_value() {
        let e = from_str::<Who>(r#"{"email":"a","to":"carol@example.org","date":1}"#).unwrap_err();
        assert!(!e.contains("carol"), "{e}");
        assert!(e.starts_with("field to: wrong type (found string"), "{e}");
        assert!(e.contains("expected a sequence"), "{e}");
        assert!(e.contains("line 1 column"), "{e}");
    }

    #[test]
    fn a_huge_value_does_not_make_a_huge_reason() {
        let big = "x".repeat(2_000_000);
        let body = format!(r#"{{"email":"a","to":[],"date":"{big}"}}"#);
        let e = from_str::<Who>(&body).unwrap_err();
        assert!(e.len() < 300, "{}", e.len());
        assert!(e.starts_with("field date: wrong type"), "{e}");
    }

    #[test]
    fn duplicate_and_missing_fields_are_named() {
        let e = from_str::<Who>(r#"{"email":"a","email":"b","to":[]}"#).unwrap_err();
        assert!(e.contains("duplicate field `email`"), "{e}");
        let e = from_str::<Who>(r#"{"to":[]}"#).unwrap_err();
        assert!(e.contains("missing field `email`"), "{e}");
    }

    #[test]
    fn syntax_errors_keep_their_fixed_text() {
        let e = from_str::<Who>("{\"email\": \"secret\u{1}value\"}").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(e.contains("control character"), "{e}");
        let e = from_slice::<Who>(br#"{"email":"a","to":[]} trailing"#).unwrap_err();
        assert!(e.contains("trailing characters"), "{e}");
    }

    #[test]
    fn map_keys_in_paths_are_escaped() {
        let e = from_str::<std::collections::HashMap<String, i64>>("{\"a\\nforged\": \"x\"}")
            .unwrap_err();
        assert!(!e.contains('\n'), "{e}");
    }
}
