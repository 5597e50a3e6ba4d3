//! message_from_eml on every fixture, and on arbitrary bytes.

mod common;
use common::fixtures;

use proptest::prelude::*;
use triage_core::BodyFormat;
use triage_core::eml::{EmlError, message_from_eml};

fn read(rel: &str) -> Vec<u8> {
    let path = fixtures().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_fixture_parses_with_headers() {
    for dir in ["bounce", "normal", "automatic"] {
        let path = fixtures().join("email").join(dir);
        for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        {
            let file = entry.expect("dir entry").path();
            if file.extension().and_then(|e| e.to_str()) != Some("eml") {
                continue; // automatic/README.md
            }
            let raw = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let (msg, _) =
                message_from_eml(&raw).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let headers = msg.headers.as_ref().expect("headers are Some");
            assert!(headers.len() >= 2, "{}: {headers:?}", file.display());
        }
    }
}

#[test]
fn multipart_alternative_gives_html() {
    let (m, format) = message_from_eml(&read("email/normal/multipart.eml")).expect("parses");
    assert_eq!(format, BodyFormat::Html);
    assert_eq!(m.subject.as_deref(), Some("Welcome"));
    assert_eq!(m.from[0].email, "administrator@example.com");
    assert_eq!(m.to[0].name, "Bob Sample");
    assert_eq!(m.body.as_deref().map(str::trim), Some("Hi"));
    // The plain alternative is a body, not an attachment.
    assert!(m.attachments.is_empty(), "{:?}", m.attachments);
}

#[test]
fn text_only_gives_text() {
    let (m, format) = message_from_eml(&read("email/normal/text-only.eml")).expect("parses");
    assert_eq!(format, BodyFormat::Text);
    assert!(m.body.as_deref().is_some_and(|b| !b.is_empty()));
}

#[test]
fn encoded_words_are_decoded() {
    let (m, _) = message_from_eml(&read("email/normal/encoded-header.eml")).expect("parses");
    assert_eq!(m.from[0].name, "Foo, Bar");
    let (m, _) = message_from_eml(&read("email/normal/bilingual-simple.eml")).expect("parses");
    assert!(
        m.subject
            .as_deref()
            .is_some_and(|s| s.starts_with("Simple text. How are you?"))
    );
}

#[test]
fn attachments_are_listed() {
    let (m, _) = message_from_eml(&read("email/normal/attached-pdf.eml")).expect("parses");
    assert!(
        m.attachments
            .iter()
            .any(|a| a.content_type == "application/pdf"),
        "{:?}",
        m.attachments
    );
}

#[test]
fn dsn_parts_and_top_level_type() {
    let (m, _) = message_from_eml(&read("email/bounce/mailbox-full.eml")).expect("parses");
    assert!(
        m.header("Content-Type")
            .is_some_and(|ct| ct.starts_with("multipart/report")),
        "{:?}",
        m.header("Content-Type")
    );
    assert!(
        m.attachments
            .iter()
            .any(|a| a.content_type == "message/delivery-status")
    );
    assert_eq!(m.header("Auto-Submitted"), Some("auto-replied"));
    // Top-level single-part report.
    let (m, _) = message_from_eml(&read("email/bounce/delayed-broken.eml")).expect("parses");
    assert_eq!(m.header("content-type"), Some("message/delivery-status"));
}

#[test]
fn date_is_unix_seconds_and_id_has_no_brackets() {
    let (m, _) = message_from_eml(&read("email/bounce/broken-mime.eml")).expect("parses");
    // Date: Mon,  9 Jul 2012 22:37:56 -0700
    assert_eq!(m.date, Some(1_341_898_676));
    assert_eq!(m.id, "11207092237.AA1808414764@example.com");
}

#[test]
fn empty_input_is_an_error() {
    assert_eq!(message_from_eml(b""), Err(EmlError::NoHeaders));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = message_from_eml(&raw);
    }

    #[test]
    fn never_panics_on_mime_like_input(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("Content-Type: multipart/mixed; boundary=b".to_string()),
                Just("Content-Type: multipart/report; report-type=delivery-status; boundary=b".to_string()),
                Just("Content-Type: message/rfc822".to_string()),
                Just("Content-Type: text/html; charset=utf-8".to_string()),
                Just("Content-Transfer-Encoding: base64".to_string()),
                Just("Content-Transfer-Encoding: quoted-printable".to_string()),
                Just("--b".to_string()), Just("--b--".to_string()), Just(String::new()),
                Just("From: =?utf-8?B?w6k=?= <a@b.c>".to_string()),
                Just("Date: Mon, 9 Jul 2012 22:37:56 -0700".to_string()),
                "[ -~]{0,40}",
            ],
            0..40,
        )
    ) {
        let raw = lines.join("\r\n");
        if let Ok((msg, _)) = message_from_eml(raw.as_bytes()) {
            prop_assert!(msg.headers.is_some());
        }
    }
}
