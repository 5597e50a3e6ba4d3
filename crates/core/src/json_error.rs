//! serde_json errors described without the input's values.
//!
//! serde_json's messages quote what they found (`invalid type: string
//! "carol@example.org", expected u64`), so printing them copies input
//! content into logs, dead-letter reasons and terminals. [`describe`] keeps
//! the kind of error and where it happened, nothing else.

use serde_json::error::Category;

/// The kind of a JSON error and its position, e.g. `invalid data at line 3
/// column 14`. Never contains text from the document.
pub fn describe(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        Category::Io => return "read error".to_string(),
        Category::Syntax => "syntax error",
        Category::Data => "invalid type or value",
        Category::Eof => "unexpected end of input",
    };
    if e.line() == 0 {
        kind.to_string()
    } else {
        format!("{kind} at line {} column {}", e.line(), e.column())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_not_repeated() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            n: u64,
        }
        let e = serde_json::from_str::<S>(r#"{"n": "carol@example.org"}"#).unwrap_err();
        assert!(e.to_string().contains("carol"), "serde_json quotes it: {e}");
        let d = describe(&e);
        assert_eq!(d, "invalid type or value at line 1 column 25");
        let e = serde_json::from_str::<S>("{\"n\": 1").unwrap_err();
        assert_eq!(describe(&e), "unexpected end of input at line 1 column 7");
        let e = serde_json::from_str::<S>("{\"n\": x-secret}").unwrap_err();
        assert!(describe(&e).starts_with("syntax error at line 1"));
        assert!(!describe(&e).contains("secret"));
    }
}
