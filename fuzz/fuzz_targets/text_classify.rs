//! HTML to text, quote stripping, filters and classification of a message
//! whose body, subject and headers are arbitrary.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use triage_core::classify::Rules;
use triage_core::filters::{FilterContext, skip_reason};
use triage_core::message::{BodyFormat, Header, Message, Participant};
use triage_core::text::visible_text;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{1}');
    let subject = parts.next().unwrap_or_default().to_string();
    let header = parts.next().unwrap_or_default().to_string();
    let body = parts.next().unwrap_or_default().to_string();
    let msg = Message {
        id: "m".into(),
        grant_id: "g".into(),
        subject: Some(subject),
        from: vec![Participant { name: String::new(), email: header.clone() }],
        to: vec![Participant { name: String::new(), email: header.clone() }],
        headers: Some(vec![Header { name: header.clone(), value: header }]),
        body: Some(body.clone()),
        ..Default::default()
    };
    let support = ["support@example.com".to_string()];
    let _ = skip_reason(&msg, &FilterContext { support_addresses: &support, ..Default::default() });
    // Built once, as the worker does at init.
    static RULES: OnceLock<Rules> = OnceLock::new();
    let rules = RULES.get_or_init(Rules::default_rules);
    for format in [BodyFormat::Html, BodyFormat::Markdown, BodyFormat::Text] {
        let visible = visible_text(&body, format);
        let c = rules.classify(&msg, &visible);
        assert!(!c.category.is_empty() && !c.queue.is_empty());
    }
});
