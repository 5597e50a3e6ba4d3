//! Body text extraction: HTML to text, quoted reply history removed.
//! STUB: to be implemented (helper). API is fixed.

use crate::message::BodyFormat;

/// The new text a sender wrote: the body converted to plain text with the
/// quoted history of earlier messages removed.
pub fn visible_text(body: &str, format: BodyFormat) -> String {
    let _ = format;
    body.to_string()
}
