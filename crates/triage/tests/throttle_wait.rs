//! Loss path 3 of issue #13, locally: the provider answers 429 with a
//! `Retry-After` longer than the worker can wait. The message waits in the
//! queue until then: the provider is not asked again early, no receive is
//! spent, nothing is dead-lettered. (The old rule retried every 2 s and
//! dead-lettered it after five receives, within about ten seconds.)

mod common;

use std::process::Command;
use std::time::Duration;

use common::{free_port, notification, post, start};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn a_long_retry_after_waits_in_the_queue_without_dead_lettering() {
    let nylas = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/grants/grant-e2e/messages/slow1"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "300"))
        .mount(&nylas)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v3/grants/grant-e2e/folders$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "f", "data": [{"id": "INBOX", "attributes": ["\\Inbox"]}]
        })))
        .mount(&nylas)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let server = start(&db, free_port(), Some(&nylas.uri()), &[]);
    let client = reqwest::Client::new();
    let body = notification(
        "message.created.truncated",
        "slow1",
        "ts",
        "Export broken",
        None,
    );
    assert_eq!(post(&client, &server.base, &body).await.unwrap(), 200);

    // Longer than five 2-second retries.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let fetches = nylas
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/messages/slow1"))
        .count();
    assert_eq!(
        fetches, 1,
        "the provider is not asked again before its wait"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("--db")
        .arg(&db)
        .args(["--json", "stats"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["dead_letters"], 0, "{stats}");
    let mailbox = &stats["mailboxes"][0];
    assert_eq!(mailbox["queued"], 1, "waiting in the queue: {stats}");
    assert_eq!(mailbox["triaged"], 0, "{stats}");
    drop(server);
}
