//! `triage reconcile` as a user runs it (issue #13): a message whose
//! notification never arrived is found through the Nylas API (wiremock on
//! loopback) and becomes a ticket through the normal worker path; a message
//! already seen is not queued again; a failing webhook is reported.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{free_port, notification, post, start, wait_for};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn message(id: &str, subject: &str) -> Value {
    json!({"request_id": "r", "data": {
        "id": id, "grant_id": "grant-e2e", "object": "message", "thread_id": format!("t-{id}"),
        "subject": subject, "from": [{"name": "C", "email": "customer@client.example"}],
        "to": [{"name": "", "email": "support@example.com"}], "date": 1763870450,
        "folders": ["INBOX"], "body": "<p>The export broke again.</p>", "headers": []
    }})
}

async fn nylas() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/grants"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "g", "data": [{"id": "grant-e2e", "grant_status": "valid"}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/grants/grant-e2e/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "l",
            "data": [
                {"id": "lost-2", "date": 1763870460},
                {"id": "lost-1", "date": 1763870450},
                {"id": "seen-1", "date": 1763870440}
            ]
        })))
        .mount(&server)
        .await;
    for id in ["lost-1", "lost-2"] {
        Mock::given(method("GET"))
            .and(path(format!("/v3/grants/grant-e2e/messages/{id}")))
            // Subjects of their own: the same subject from the same customer
            // within 14 days would thread the two into one ticket.
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(message(id, &format!("Export {id} broken"))),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path_regex(r"^/v3/grants/grant-e2e/folders$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "f", "data": [{"id": "INBOX", "attributes": ["\\Inbox"]}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/webhooks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "w", "data": [
                {"id": "wh-1", "status": "failing", "trigger_types": ["message.created"]}
            ]
        })))
        .mount(&server)
        .await;
    server
}

fn reconcile(db: &Path, nylas: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("--db")
        .arg(db)
        .args(["--json", "reconcile"])
        .args(extra)
        .env("NYLAS_API_KEY", "e2e-key")
        .env("NYLAS_API_URI", nylas)
        .env_remove("NYLAS_API_KEY_ARN")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn report(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "reconcile failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("one JSON report")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_whose_notification_never_came_becomes_a_ticket() {
    let nylas = nylas().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let port = free_port();
    let client = reqwest::Client::new();

    // One message arrived the normal way.
    let server = start(&db, port, Some(&nylas.uri()), &[]);
    let body = notification(
        "message.created",
        "seen-1",
        "t-seen",
        "Login fails",
        Some("<p>x</p>"),
    );
    assert_eq!(post(&client, &server.base, &body).await.unwrap(), 200);
    assert_eq!(
        wait_for(&client, &server.base, |t| t.len() == 1)
            .await
            .len(),
        1
    );
    drop(server);

    // Two never did: a dry run finds them and queues nothing.
    let dry = report(&reconcile(&db, &nylas.uri(), &["--dry-run"]));
    assert_eq!(dry["grants"][0]["listed"], 3);
    assert_eq!(dry["grants"][0]["known"], 1);
    assert_eq!(dry["grants"][0]["queued"], 2);
    assert_eq!(dry["webhooks"][0]["status"], "failing");
    assert_eq!(dry["webhooks"][0]["unhealthy"], true);

    let run = report(&reconcile(&db, &nylas.uri(), &[]));
    assert_eq!(run["queued"], 2);

    // The worker takes them like any notification.
    let server = start(&db, port, Some(&nylas.uri()), &[]);
    let list = wait_for(&client, &server.base, |t| t.len() == 3).await;
    let mut ids: Vec<&str> = list
        .iter()
        .map(|t| t["message_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["lost-1", "lost-2", "seen-1"]);
    drop(server);

    // Once seen, nothing is queued again.
    let again = report(&reconcile(&db, &nylas.uri(), &[]));
    assert_eq!(again["grants"][0]["known"], 3);
    assert_eq!(again["queued"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_api_key_reconcile_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("--db")
        .arg(dir.path().join("t.db"))
        .arg("reconcile")
        .env_remove("NYLAS_API_KEY")
        .env_remove("NYLAS_API_KEY_ARN")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("NYLAS_API_KEY"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_api_fails_the_run_and_moves_no_cursor() {
    let nylas = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "request_id": "x", "error": {"type": "unauthorized", "message": "bad key"}
        })))
        .mount(&nylas)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let o = reconcile(
        &dir.path().join("t.db"),
        &nylas.uri(),
        &["--grant", "grant-e2e"],
    );
    assert!(!o.status.success());
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        out["grants"][0]["error"].as_str().unwrap().contains("401"),
        "{out}"
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("e2e-key"));
}
