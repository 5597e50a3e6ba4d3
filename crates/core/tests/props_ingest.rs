//! Properties of the ingest path: arbitrary input never panics, and what
//! we sign always verifies.

use proptest::prelude::*;
use triage_core::envelope::Envelope;
use triage_core::gzip::{gunzip_capped, gzip};
use triage_core::ingest::{IngestPolicy, check_challenge, prepare};
use triage_core::notification::{EventType, parse_notification};
use triage_core::signature::{WebhookSecrets, sign_nylas, verify_nylas};

fn json_like() -> impl Strategy<Value = Vec<u8>> {
    // Bytes biased towards JSON punctuation and the keys we look for.
    let atoms = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "null",
        "1",
        "-2.5e3",
        "true",
        "\"type\"",
        "\"message.created\"",
        "\"message.created.truncated.cleaned\"",
        "\"id\"",
        "\"data\"",
        "\"object\"",
        "\"grant_id\"",
        "\"deltas\"",
        "\"\\u0000\"",
        "\u{e9}",
        " ",
    ]);
    prop::collection::vec(atoms, 0..64).prop_map(|v| v.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_notification(&body);
    }

    #[test]
    fn parser_never_panics_on_json_like(body in json_like()) {
        if let Ok(items) = parse_notification(&body) {
            prop_assert!(!items.is_empty());
            for i in items {
                prop_assert!(!i.notification_id.is_empty());
                prop_assert!(!i.event_type.base.is_empty());
            }
        }
    }

    #[test]
    fn event_type_never_panics(s in ".{0,80}") {
        if let Ok(t) = EventType::parse(&s) {
            prop_assert!(s.starts_with(&t.base));
        }
    }

    #[test]
    fn signature_check_never_panics(
        header in prop::option::of(prop::collection::vec(any::<u8>(), 0..100)),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let secrets = WebhookSecrets::parse("a,b").unwrap();
        let _ = verify_nylas(&secrets, header.as_deref(), &body);
    }

    #[test]
    fn what_we_sign_verifies_and_one_flip_does_not(
        secret in "[A-Za-z0-9_.~!@#$%^&*=+-]{1,40}",
        body in prop::collection::vec(any::<u8>(), 0..512),
        flip in any::<prop::sample::Index>(),
    ) {
        let secrets = WebhookSecrets::parse(&secret).unwrap();
        let sig = sign_nylas(secret.as_bytes(), &body);
        prop_assert!(verify_nylas(&secrets, Some(sig.as_bytes()), &body).is_ok());
        if !body.is_empty() {
            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 0x01;
            prop_assert!(verify_nylas(&secrets, Some(sig.as_bytes()), &tampered).is_err());
        }
    }

    #[test]
    fn gzip_never_panics_and_round_trips(data in prop::collection::vec(any::<u8>(), 0..2048), junk in prop::collection::vec(any::<u8>(), 0..256)) {
        prop_assert_eq!(gunzip_capped(&gzip(&data), 4096).unwrap(), data);
        let _ = gunzip_capped(&junk, 4096);
    }

    #[test]
    fn prepare_never_panics(
        body in json_like(),
        enc in prop::option::of(prop::sample::select(vec!["gzip", "identity", "br", "", "GZIP"])),
        sign in any::<bool>(),
    ) {
        let secrets = WebhookSecrets::parse("k").unwrap();
        let sig = sign_nylas(b"k", &body);
        let header = if sign { Some(sig.as_bytes()) } else { None };
        match prepare(&IngestPolicy::default(), &secrets, header, enc.map(str::as_bytes), &body, 1) {
            Ok(p) => for m in &p.messages { prop_assert!(Envelope::decode(&m.body).is_ok()); },
            Err(e) => prop_assert!([400u16, 401, 413, 415].contains(&e.status())),
        }
    }

    #[test]
    fn challenge_never_panics(s in ".{0,1100}") {
        if let Ok(v) = check_challenge(Some(&s)) {
            prop_assert_eq!(v, s.as_str());
        }
    }

    #[test]
    fn envelope_decode_never_panics(body in json_like()) {
        let s = String::from_utf8_lossy(&body);
        if let Ok(env) = Envelope::decode(&s) {
            let _ = env.message();
        }
    }
}
