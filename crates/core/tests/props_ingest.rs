//! Properties of the ingest path: arbitrary input never panics, and what
//! we sign always verifies.

use proptest::prelude::*;
use triage_core::envelope::Envelope;
use triage_core::gzip::{gunzip_capped, gzip};
use triage_core::ingest::{IngestPolicy, check_challenge, prepare};
use triage_core::provider::inbound::InboundJson;
use triage_core::provider::nylas::notification::{EventType, parse_notification};
use triage_core::provider::nylas::prepare_delivery;
use triage_core::provider::{Delivery, ProviderKeys, open};
use triage_core::signature::{WebhookSecrets, sign_nylas, verify_nylas};
use triage_core::timestamped_signature::{sign_standard, sign_timestamped};

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
        let keys = ProviderKeys { secrets: WebhookSecrets::parse("k").unwrap(), tolerance_s: 300 };
        let sig = sign_nylas(b"k", &body);
        let header = if sign { Some(sig.as_bytes()) } else { None };
        match prepare_delivery(&keys, &IngestPolicy::default(), header, enc.map(str::as_bytes), &body, 1) {
            Ok(p) => for m in &p.messages { prop_assert!(Envelope::decode(&m.body).is_ok()); },
            Err(e) => prop_assert!([400u16, 401, 413, 415].contains(&e.status())),
        }
    }

    #[test]
    fn inbound_prepare_never_panics_and_opens(
        body in json_like(),
        scheme in 0u8..3,
        skew in -400i64..400,
    ) {
        let keys = ProviderKeys { secrets: WebhookSecrets::parse("k").unwrap(), tolerance_s: 300 };
        let now_s = 1_764_547_200;
        let ts = now_s + skew;
        let standard = sign_standard(b"k", "msg_1", ts, &body);
        let timestamped = sign_timestamped(b"k", ts, &body);
        let ts_text = ts.to_string();
        let header = |name: &str| -> Option<&[u8]> {
            match (scheme, name) {
                (0, "webhook-id") => Some(b"msg_1"),
                (0, "webhook-timestamp") | (1, "x-webhook-timestamp") => Some(ts_text.as_bytes()),
                (0, "webhook-signature") => Some(standard.as_bytes()),
                (1, "x-webhook-signature") => Some(timestamped.as_bytes()),
                _ => None,
            }
        };
        let delivery = Delivery::new(&header, &body, now_s * 1000);
        match prepare(&InboundJson, &keys, &IngestPolicy::default(), &delivery) {
            Ok(p) => {
                prop_assert!(scheme < 2 && skew.abs() <= 300);
                for m in &p.messages {
                    let env = Envelope::decode(&m.body).unwrap();
                    prop_assert!(open(&env).unwrap().message.is_some());
                }
            }
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
            let _ = open(&env);
        }
    }
}
