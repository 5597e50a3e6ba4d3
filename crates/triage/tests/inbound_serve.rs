//! The signed inbound-email JSON family through the real `triage serve`:
//! both signature schemes, rotation, the clock window both ways, tampered
//! and garbled deliveries, a redelivery under a new `webhook-id`, a reply
//! that threads and an auto-reply that is skipped.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{free_port, start, tickets, wait_for};
use triage_core::timestamped_signature::{sign_standard, sign_timestamped};

const NEW_KEY: &[u8] = b"inbound-new-key-bytes";
const OLD_KEY: &str = "inbound-old-plain-secret";

fn payload(name: &str) -> Vec<u8> {
    let path = triage_testkit::repo_root()
        .join("fixtures/inbound")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

enum Signed<'a> {
    /// Standard Webhooks: key, webhook-id, timestamp.
    Standard(&'a [u8], &'a str, i64),
    /// Timestamped HMAC with the `sha256=` prefix.
    Timestamped(&'a [u8], i64),
    /// Raw headers, as given.
    Headers(Vec<(&'a str, String)>),
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    body: &[u8],
    signed: Signed<'_>,
) -> (u16, String) {
    let headers: Vec<(&str, String)> = match signed {
        Signed::Standard(key, id, ts) => vec![
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sign_standard(key, id, ts, body)),
        ],
        Signed::Timestamped(key, ts) => vec![
            ("x-webhook-timestamp", ts.to_string()),
            (
                "x-webhook-signature",
                format!("sha256={}", sign_timestamped(key, ts, body)),
            ),
        ],
        Signed::Headers(h) => h,
    };
    let mut req = client
        .post(format!("{base}/webhooks/inbound"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn signed_inbound_deliveries_become_deduplicated_threaded_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let whsec = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(NEW_KEY)
    );
    // Rotation: the new whsec_ key and the old plain secret both pass.
    let secrets = format!("{whsec}, {OLD_KEY}");
    let server = start(
        &dir.path().join("t.db"),
        free_port(),
        None,
        &[("INBOUND_WEBHOOK_SECRETS", secrets.as_str())],
    );
    let base = server.base.as_str();
    let c = reqwest::Client::new();
    let now = now_s();
    let ticket = payload("new-ticket.json");

    // Accepted: both schemes, both keys, a redelivery under a new id.
    let accepted = [
        (ticket.clone(), Signed::Standard(NEW_KEY, "msg_1", now)),
        (
            ticket.clone(),
            Signed::Standard(OLD_KEY.as_bytes(), "msg_2", now - 250),
        ),
        (
            payload("reply.json"),
            Signed::Timestamped(OLD_KEY.as_bytes(), now + 250),
        ),
        (
            payload("auto-reply.json"),
            Signed::Timestamped(NEW_KEY, now),
        ),
    ];
    for (i, (body, signed)) in accepted.into_iter().enumerate() {
        let (status, answer) = post(&c, base, &body, signed).await;
        assert_eq!(status, 200, "delivery {i}: {answer}");
    }

    // Refused, each with its reason and without echoing the payload.
    let mut tampered = ticket.clone();
    let at = tampered.iter().position(|b| *b == b'5').unwrap();
    tampered[at] = b'6';
    let good = sign_standard(NEW_KEY, "msg_9", now, &ticket);
    let refused = [
        (
            ticket.clone(),
            Signed::Standard(NEW_KEY, "msg_3", now - 400),
            401,
            "timestamp_outside_tolerance",
        ),
        (
            ticket.clone(),
            Signed::Timestamped(NEW_KEY, now + 400),
            401,
            "timestamp_outside_tolerance",
        ),
        (
            ticket.clone(),
            Signed::Standard(b"some-other-key", "msg_4", now),
            401,
            "signature_mismatch",
        ),
        (
            tampered,
            Signed::Headers(vec![
                ("webhook-id", "msg_9".into()),
                ("webhook-timestamp", now.to_string()),
                ("webhook-signature", good.clone()),
            ]),
            401,
            "signature_mismatch",
        ),
        (
            ticket.clone(),
            Signed::Headers(vec![]),
            401,
            "signature_missing",
        ),
        (
            ticket.clone(),
            Signed::Headers(vec![
                ("webhook-id", "msg_9".into()),
                ("webhook-timestamp", "soon".into()),
                ("webhook-signature", good.clone()),
            ]),
            401,
            "signature_malformed",
        ),
        (
            ticket.clone(),
            Signed::Headers(vec![
                ("webhook-timestamp", now.to_string()),
                ("webhook-signature", good),
            ]),
            401,
            "signature_header_missing",
        ),
        (
            br#"{"subject":"no sender"}"#.to_vec(),
            Signed::Standard(NEW_KEY, "msg_5", now),
            400,
            "invalid_payload",
        ),
    ];
    for (i, (body, signed, want, code)) in refused.into_iter().enumerate() {
        let (status, answer) = post(&c, base, &body, signed).await;
        assert_eq!(
            (status, answer.contains(code)),
            (want, true),
            "case {i}: {answer}"
        );
        assert!(!answer.contains("Checkout"), "case {i} echoed the payload");
    }
    let get = c
        .get(format!("{base}/webhooks/inbound"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);

    // One ticket: created, the redelivery deduplicated, the reply appended,
    // the auto-reply skipped.
    let all = wait_for(&c, base, |t| {
        t.iter().any(|t| t["message_count"].as_u64() == Some(2))
    })
    .await;
    assert_eq!(all.len(), 1, "{all:?}");
    let t = &all[0];
    let mailbox = triage_core::inbound_email::mailbox_key("support@acme.example");
    assert_eq!(t["grant_id"].as_str(), Some(mailbox.as_str()));
    let key = triage_core::inbound_email::message_key("20251201.ann.1@mail.example.com");
    assert_eq!(t["message_id"].as_str(), key.as_deref());
    assert_eq!(t["message_count"], 2);
    assert_eq!(t["category"], "incidents", "{t}");
    // Give the worker time for anything late, then check nothing else came.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(tickets(&c, base).await.len(), 1);
}

/// `python3 events/post.py ARGS...` from the repository root; its exit code.
fn post_py(args: &[&str]) -> i32 {
    let out = std::process::Command::new("python3")
        .arg("events/post.py")
        .args(args)
        .current_dir(triage_testkit::repo_root())
        .env_remove("INBOUND_WEBHOOK_SECRETS")
        .output()
        .expect("python3 runs (infra/test.sh needs it too)");
    out.status.code().unwrap_or(-1)
}

/// The README's sample commands: `events/post.py` against `triage serve`
/// on its defaults (the documented test secret for both providers).
#[tokio::test]
async fn the_documented_post_py_commands_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        &dir.path().join("t.db"),
        free_port(),
        None,
        &[("NYLAS_WEBHOOK_SECRET", "inbox-triage-test-secret")],
    );
    let base = server.base.as_str();
    assert_eq!(post_py(&["events/apigw-message-created.json", base]), 0);
    assert_eq!(
        post_py(&["--inbound", "events/inbound/new-ticket.json", base]),
        0
    );
    assert_eq!(
        post_py(&[
            "--inbound",
            "events/inbound/no-message-id.json",
            base,
            "--scheme",
            "timestamped"
        ]),
        0
    );
    // Sample events are re-signed at the current time...
    assert_eq!(post_py(&["events/apigw-inbound-timestamped.json", base]), 0);
    assert_eq!(
        post_py(&["events/apigw-inbound-standard-rotated.json", base]),
        0
    );
    // ...except what was never validly signed, and `--as-is` keeps the stale time.
    assert_eq!(post_py(&["events/apigw-inbound-tampered.json", base]), 1);
    assert_eq!(post_py(&["events/apigw-inbound-unsigned.json", base]), 1);
    assert_eq!(
        post_py(&["--as-is", "events/apigw-inbound-standard.json", base]),
        1
    );
    let c = reqwest::Client::new();
    // Nylas ticket, inbound ticket (+ its reply), the message without an id.
    let all = wait_for(&c, base, |t| t.len() >= 3).await;
    assert_eq!(all.len(), 3, "{all:?}");
}
