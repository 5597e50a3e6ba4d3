//! `triage` as a user runs it: a real process on a free loopback port, a
//! fake Nylas API (wiremock), the embedded SQLite store in a temp dir.

mod common;

use std::collections::HashSet;
use std::process::Command;

use common::{free_port, notification, post, start, tickets_where, wait_for};
use serde_json::{Value, json};
use triage_testkit::fixture;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn serve_dedupes_fetches_truncated_and_lists_tickets() {
    let nylas = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v3/grants/grant-e2e/messages/big1$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"request_id": "r", "data": {
            "id": "big1", "grant_id": "grant-e2e", "object": "message", "thread_id": "tb",
            "subject": "Invoice charged twice", "from": [{"name": "T", "email": "t@x.example"}],
            "to": [{"name": "", "email": "support@example.com"}], "date": 1763870450,
            "folders": ["INBOX"], "body": "<p>We were charged twice, please refund.</p>", "headers": []
        }})))
        .expect(1)
        .mount(&nylas)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v3/grants/grant-e2e/messages/[^/]+$"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&nylas)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v3/grants/grant-e2e/folders$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"request_id": "f", "data": [
            {"id": "INBOX", "attributes": ["\\Inbox"]}]})),
        )
        .mount(&nylas)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // FETCH_POLICY=when-needed: only the truncated one is fetched.
    let server = start(
        &dir.path().join("t.db"),
        port,
        Some(&nylas.uri()),
        &[("FETCH_POLICY", "when-needed")],
    );
    let client = reqwest::Client::new();

    let health: Value = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");

    let outage = notification(
        "message.created",
        "m1",
        "t1",
        "Site is down",
        Some("<p>Outage since 9am</p>"),
    );
    for _ in 0..3 {
        assert_eq!(post(&client, &server.base, &outage).await.unwrap(), 200);
    }
    let truncated = notification(
        "message.created.truncated",
        "big1",
        "tb",
        "Invoice charged twice",
        None,
    );
    assert_eq!(post(&client, &server.base, &truncated).await.unwrap(), 200);
    let reply = notification(
        "message.created",
        "m2",
        "t1",
        "Re: Site is down",
        Some("<p>still down</p>"),
    );
    assert_eq!(post(&client, &server.base, &reply).await.unwrap(), 200);
    // Wrong signature: refused, never queued.
    let sig_bad = client
        .post(format!("{}/webhooks/nylas", server.base))
        .header("X-Nylas-Signature", "00".repeat(32))
        .body(notification(
            "message.created",
            "evil",
            "te",
            "x",
            Some("x"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(sig_bad.status(), 401);

    let list = wait_for(&client, &server.base, |t| {
        t.len() == 2 && t.iter().any(|x| x["message_count"] == 2)
    })
    .await;
    assert_eq!(list.len(), 2, "{list:#?}");
    let incident = list.iter().find(|t| t["thread_id"] == "t1").unwrap();
    assert_eq!(incident["category"], "incidents");
    assert_eq!(incident["priority"], "high");
    assert_eq!(incident["message_count"], 2);
    for field in [
        "id",
        "grant_id",
        "message_id",
        "subject",
        "requester",
        "queue",
        "status",
        "applied_rules",
    ] {
        assert!(incident.get(field).is_some(), "ticket lacks {field}");
    }
    let billing = list.iter().find(|t| t["thread_id"] == "tb").unwrap();
    assert_eq!(billing["category"], "billing");
    assert!(!list.iter().any(|t| t["message_id"] == "evil"));

    let high = tickets_where(&client, &server.base, "priority=high").await;
    assert_eq!(high.len(), 1);
    // `limit` keeps the newest.
    let newest = tickets_where(&client, &server.base, "limit=1").await;
    assert!(list.len() > 1);
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0]["id"], list[0]["id"]);
    // Challenge through the same handler as the Lambda.
    let ch = client
        .get(format!("{}/webhooks/nylas?challenge=abc", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ch.text().await.unwrap(), "abc");
}

#[tokio::test]
async fn notifications_over_the_sqs_limit_stay_whole_in_the_local_queue() {
    // 400 KiB of body: over SQS's 256 KiB, so in AWS it would travel as a
    // reference and be fetched. The embedded queue has no such limit: with
    // no API key it must still become a ticket, not a dead letter.
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("t.db"), free_port(), None, &[]);
    let client = reqwest::Client::new();
    let big = format!(
        "<p>Refund please.</p>{}",
        "<p>lorem ipsum dolor</p>".repeat(18_000)
    );
    assert!(big.len() > 400 * 1024);
    let body = notification("message.created", "big1", "bigt1", "Refund", Some(&big));
    assert_eq!(post(&client, &server.base, &body).await.unwrap(), 200);
    let list = wait_for(&client, &server.base, |t| !t.is_empty()).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["message_id"], "big1");
    assert_eq!(list[0]["queue"], "billing");
}

#[tokio::test]
async fn killed_mid_stream_then_restarted_processes_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let port = free_port();
    let client = reqwest::Client::new();
    let mut accepted: HashSet<String> = HashSet::new();

    let mut server = start(&db, port, None, &[]);
    let base = server.base.clone();
    for i in 0..200 {
        let id = format!("k{i}");
        let body = notification(
            "message.created",
            &id,
            &format!("kt{i}"),
            "help",
            Some("<p>hello</p>"),
        );
        if i == 120 {
            // SIGKILL: no graceful shutdown, no drain.
            unsafe { libc::kill(server.child.id() as i32, libc::SIGKILL) };
            let _ = server.child.wait();
        }
        if let Ok(200) = post(&client, &base, &body).await {
            accepted.insert(id.clone());
            // Duplicate delivery of every tenth message.
            if i % 10 == 0 {
                let _ = post(&client, &base, &body).await;
            }
        }
    }
    assert!(accepted.len() >= 100, "accepted only {}", accepted.len());
    drop(server);

    let server = start(&db, port, None, &[]);
    let list = wait_for(&client, &server.base, |t| t.len() >= accepted.len()).await;
    let ids: HashSet<String> = list
        .iter()
        .map(|t| t["message_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(list.len(), ids.len(), "a message made two tickets");
    assert!(
        accepted.is_subset(&ids),
        "accepted but lost: {:?}",
        accepted.difference(&ids).collect::<Vec<_>>()
    );
    assert!(list.iter().all(|t| t["message_count"] == 1));
}

#[test]
fn classify_fixtures_skips_bounces_and_tickets_normal_mail() {
    let email = fixture("email");
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("classify")
        .arg("--json")
        .arg(email.join("bounce"))
        .arg(email.join("normal"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bounces = std::fs::read_dir(email.join("bounce")).unwrap().count();
    let normal = std::fs::read_dir(email.join("normal")).unwrap().count();
    assert_eq!(lines.len(), bounces + normal);
    for l in &lines {
        let input = l["input"].as_str().unwrap();
        let want = if input.contains("/bounce/") {
            "skip"
        } else {
            "ticket"
        };
        assert_eq!(l["decision"], want, "{l}");
        for key in ["reason", "category", "queue", "priority", "applied_rules"] {
            assert!(l.get(key).is_some(), "{input} lacks {key}");
        }
    }
}

#[test]
fn classify_unreadable_input_fails_with_the_file_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["classify", "/nonexistent/file.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/file.json"), "{err}");
    assert!(!err.contains("panicked"));
}
