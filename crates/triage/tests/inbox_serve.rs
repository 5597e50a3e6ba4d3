//! `triage serve --inbox DIR` (TRIAGE_INBOX_DIR): raw messages dropped into
//! a folder become tickets through the Amazon SES receiving path, without
//! AWS: moved to `accepted/`, deduplicated by `Message-ID`, automatic mail
//! and SES's virus verdict skipped.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, start, wait_for};

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(triage_testkit::fixture(rel)).unwrap()
}

/// `original` behind SES's verdict headers.
fn with_verdicts(original: &[u8], virus: &str) -> Vec<u8> {
    let mut raw = format!(
        "Received: from mail.example.com by inbound-smtp.us-east-1.amazonaws.com with SMTP id x1 for support@acme.example; Thu, 03 Dec 2026 10:00:00 +0000\r\nX-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: {virus}\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(original);
    raw
}

/// Write `bytes` beside the folder, then move it in (as the README asks:
/// a file is never taken half-written).
fn drop_in(inbox: &std::path::Path, name: &str, bytes: &[u8]) {
    let staging = inbox.parent().unwrap().join(format!("staging-{name}"));
    std::fs::write(&staging, bytes).unwrap();
    std::fs::rename(&staging, inbox.join(name)).unwrap();
}

#[tokio::test]
async fn dropped_raw_messages_become_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let port = free_port();
    let server = start(
        &dir.path().join("t.db"),
        port,
        None,
        &[("TRIAGE_INBOX_DIR", inbox.to_str().unwrap())],
    );
    let client = reqwest::Client::new();

    let qp = with_verdicts(&fixture("email/normal/quoted-printable.eml"), "PASS");
    drop_in(&inbox, "first.eml", &qp);
    drop_in(
        &inbox,
        "bounce.eml",
        &fixture("email/bounce/gmail-invalid-address.eml"),
    );
    drop_in(
        &inbox,
        "virus.eml",
        &with_verdicts(&fixture("email/normal/multipart.eml"), "FAIL"),
    );
    drop_in(&inbox, "notes.txt", b"not a message");
    let tickets = wait_for(&client, &server.base, |t| !t.is_empty()).await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(
        tickets[0]["subject"],
        "This message contains very long links in html"
    );

    // The same mail dropped again is the same ticket; the folder is emptied
    // of what was taken, into accepted/.
    drop_in(&inbox, "again.eml", &qp);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let left: Vec<_> = std::fs::read_dir(&inbox)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .collect();
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tickets = common::tickets(&client, &server.base).await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let accepted = std::fs::read_dir(inbox.join("accepted")).unwrap().count();
    assert_eq!(accepted, 4, "four messages taken");
    assert!(
        inbox.join("notes.txt").exists(),
        "other files are left alone"
    );
    drop(server);
}
