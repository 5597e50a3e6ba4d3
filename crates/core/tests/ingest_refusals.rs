//! Ingest refuses (400) what the worker could only dead-letter: message
//! objects with wrong-typed fields or duplicate keys, and ids with control
//! characters. Reasons name the field, never its value.

use serde_json::json;
use triage_core::envelope::{Envelope, EnvelopeError};
use triage_core::ingest::{IngestError, IngestPolicy, MAX_ID_BYTES};
use triage_core::provider::ProviderKeys;
use triage_core::provider::nylas::prepare_delivery;
use triage_core::signature::{WebhookSecrets, sign_nylas};

const SECRET: &str = "test-secret";

fn deliver(body: &str) -> Result<usize, IngestError> {
    let keys = ProviderKeys {
        secrets: WebhookSecrets::parse(SECRET).expect("secret"),
        tolerance_s: 300,
    };
    let sig = sign_nylas(SECRET.as_bytes(), body.as_bytes());
    prepare_delivery(
        &keys,
        &IngestPolicy::default(),
        Some(sig.as_bytes()),
        None,
        body.as_bytes(),
        1_000,
    )
    .map(|p| p.messages.len())
}

fn v3(object: serde_json::Value) -> String {
    json!({
        "specversion": "1.0", "type": "message.created", "id": "n1", "time": 5,
        "source": "/google/emails/realtime",
        "data": {"application_id": "a", "object": object},
    })
    .to_string()
}

fn good_object() -> serde_json::Value {
    json!({
        "id": "m1", "grant_id": "g1", "thread_id": "th1", "subject": "Refund",
        "from": [{"name": "Carol", "email": "carol@example.org"}],
        "to": [{"email": "support@example.com"}], "date": 1_700_000_000,
        "folders": ["INBOX"], "body": "<p>hi</p>",
    })
}

fn refused(object: serde_json::Value) -> IngestError {
    deliver(&v3(object)).expect_err("must be refused")
}

#[test]
fn a_well_formed_message_is_accepted() {
    assert_eq!(deliver(&v3(good_object())), Ok(1));
    // nulls where lists and strings are expected read as empty: accepted.
    let mut o = good_object();
    o["from"] = serde_json::Value::Null;
    o["folders"] = serde_json::Value::Null;
    assert_eq!(deliver(&v3(o)), Ok(1));
}

#[test]
fn wrong_typed_fields_are_refused_with_the_field_not_the_value() {
    let cases = [
        ("from", json!("carol@example.org")),
        ("to", json!(["carol@example.org"])),
        ("date", json!("Tue, 1 Jul 2025 10:00:00 +0000")),
        ("folders", json!("INBOX")),
        ("subject", json!({"text": "carol@example.org"})),
        ("attachments", json!([{"size": "carol@example.org"}])),
    ];
    for (field, value) in cases {
        let mut o = good_object();
        o[field] = value;
        let e = refused(o);
        assert_eq!(e.status(), 400, "{field}");
        assert_eq!(e.code(), "invalid_message", "{field}");
        let text = e.to_string();
        assert!(text.contains(field), "{field}: {text}");
        assert!(!text.contains("carol"), "{field}: {text}");
        assert!(!text.contains("Tue, 1 Jul"), "{field}: {text}");
    }
}

#[test]
fn duplicate_keys_in_the_message_are_refused() {
    let body = v3(good_object()).replacen(
        "\"subject\":\"Refund\"",
        "\"subject\":\"Refund\",\"subject\":\"Other\"",
        1,
    );
    assert!(body.contains("\"subject\":\"Other\""), "{body}");
    let e = deliver(&body).expect_err("duplicate key");
    assert_eq!((e.status(), e.code()), (400, "invalid_message"));
    assert!(e.to_string().contains("duplicate field `subject`"), "{e}");
}

#[test]
fn control_characters_in_ids_are_refused() {
    for (field, bad) in [
        ("id", "m1\u{0}x"),
        ("id", "m1\nINFO forged line"),
        ("id", "m\u{1b}[31m"),
        ("grant_id", "g1\u{0}"),
        ("thread_id", "t\r\n"),
    ] {
        let mut o = good_object();
        o[field] = json!(bad);
        let e = refused(o);
        assert_eq!((e.status(), e.code()), (400, "bad_id"), "{field} {bad:?}");
        assert!(!e.to_string().contains('\n'));
    }
    // The notification id, too.
    let body = v3(good_object()).replacen("\"id\":\"n1\"", "\"id\":\"n1\\u0000\"", 1);
    assert_eq!(deliver(&body).map_err(|e| e.code()), Err("bad_id"));
}

#[test]
fn ids_that_differ_only_after_a_nul_no_longer_share_a_ticket() {
    // ticket id = SHA-256(grant NUL message): ("g", "a\0b") and ("g\0a", "b")
    // would collide. Both are refused at the door.
    let mut a = good_object();
    a["grant_id"] = json!("g");
    a["id"] = json!("a\u{0}b");
    let mut b = good_object();
    b["grant_id"] = json!("g\u{0}a");
    b["id"] = json!("b");
    assert_eq!(refused(a).code(), "bad_id");
    assert_eq!(refused(b).code(), "bad_id");
}

#[test]
fn overlong_ids_are_refused() {
    let mut o = good_object();
    o["id"] = json!("m".repeat(MAX_ID_BYTES + 1));
    assert_eq!(refused(o).code(), "bad_id");
    let mut o = good_object();
    o["id"] = json!("m".repeat(MAX_ID_BYTES));
    assert_eq!(deliver(&v3(o)), Ok(1));
}

#[test]
fn deltas_entries_are_checked_too() {
    let body = json!({"deltas": [
        {"type": "message.created", "date": 5, "object": "message",
         "data": {"id": "m1", "grant_id": "g1", "from": [{"email": "a@x.io"}]}},
        {"type": "message.created", "date": 5, "object": "message",
         "data": {"id": "m2", "grant_id": "g1", "from": "dave@example.org"}},
    ]})
    .to_string();
    let e = deliver(&body).expect_err("second entry is unusable");
    assert_eq!((e.status(), e.code()), (400, "invalid_message"));
    assert!(!e.to_string().contains("dave"), "{e}");
}

#[test]
fn types_we_do_not_queue_are_not_inspected() {
    let body = json!({
        "specversion": "1.0", "type": "grant.expired", "id": "n2", "time": 5,
        "data": {"object": {"grant_id": "g1", "from": "x"}},
    })
    .to_string();
    assert_eq!(deliver(&body), Ok(0));
}

#[test]
fn the_worker_refuses_envelopes_with_control_characters_in_ids() {
    // An envelope that did not come through ingest (a replayed SQS file).
    let env = json!({
        "envelope_version": 1, "provider": "nylas", "received_at_ms": 1,
        "notification_id": "n1", "type": "message.created",
        "base_type": "message.created", "suffixes": [], "grant_id": "g1",
        "message_id": "m1\nforged", "shape": "v3", "refetch": true,
    })
    .to_string();
    match Envelope::decode(&env) {
        Err(EnvelopeError::Malformed(reason)) => {
            assert!(reason.contains("message_id"), "{reason}");
            assert!(!reason.contains('\n'));
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}
