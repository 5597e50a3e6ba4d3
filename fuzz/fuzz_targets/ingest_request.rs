//! The whole ingest step with arbitrary headers: signature header, content
//! encoding and body all attacker-controlled; sometimes correctly signed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use triage_core::ingest::{IngestPolicy, prepare};
use triage_core::signature::{WebhookSecrets, sign_nylas};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (control, rest) = data.split_at(3);
    let split = usize::from(control[0]).min(rest.len());
    let (header, body) = rest.split_at(split);
    let encoding: Option<&[u8]> = match control[1] % 4 {
        0 => None,
        1 => Some(b"gzip"),
        2 => Some(b"identity"),
        _ => Some(header),
    };
    let secrets = WebhookSecrets::parse("fuzz-secret,other").expect("valid secrets");
    let good = sign_nylas(b"fuzz-secret", body);
    let signature: Option<&[u8]> = match control[2] % 3 {
        0 => None,
        1 => Some(header),
        _ => Some(good.as_bytes()),
    };
    let policy = IngestPolicy {
        max_body_bytes: 64 * 1024,
        max_decompressed_bytes: 256 * 1024,
        ..Default::default()
    };
    match prepare(&policy, &secrets, signature, encoding, body, 1) {
        Ok(p) => assert!(p.items.len() >= p.messages.len()),
        Err(e) => assert!([400, 401, 413, 415].contains(&e.status())),
    }
});
