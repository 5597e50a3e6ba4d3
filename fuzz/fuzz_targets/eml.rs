//! Raw RFC 5322 / MIME messages (the `.eml` path of `triage`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_core::eml::message_from_eml;
use triage_core::filters::{FilterContext, skip_reason};
use triage_core::text::visible_text;

fuzz_target!(|data: &[u8]| {
    if let Ok((msg, format)) = message_from_eml(data) {
        let _ = skip_reason(&msg, &FilterContext::default());
        let _ = visible_text(msg.body.as_deref().unwrap_or(""), format);
    }
});
