//! The notification parser and the envelope it feeds, on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_core::envelope::{Envelope, build};
use triage_core::notification::parse_notification;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = parse_notification(data) {
        for item in &items {
            let q = build(item, "nylas", 0, "n0".into(), 256 * 1024);
            // What we build, we must be able to read back.
            let env = Envelope::decode(&q.body).expect("built envelope decodes");
            let _ = env.message();
        }
    }
});
