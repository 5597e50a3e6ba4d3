//! Ticket events through the real `triage serve`: a delivery becomes a
//! ticket, its event leaves the outbox for the destinations of the rules
//! file (a signed webhook and a Slack webhook on wiremock), one printed
//! line per delivery; a destination that fails is retried; a rules file
//! naming an unset variable refuses to start.

mod common;

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{free_port, start_printing};
use serde_json::Value;
use triage_core::events::TicketEvent;
use triage_core::signature::WebhookSecrets;
use triage_core::timestamped_signature::{sign_standard, verify};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const INBOUND_KEY: &str = "inbound-events-test-key";
const HOOK_KEY: &str = "helpdesk-signing-key";

const RULES: &str = r#"
[destinations.helpdesk]
type = "webhook"
url_var = "HELPDESK_URL"
signing_secret_var = "HELPDESK_SECRET"

[destinations.chat]
type = "slack"
url_var = "CHAT_URL"

[routes]
default = ["helpdesk", "chat"]
"#;

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn post_inbound(base: &str, body: &[u8], id: &str) -> u16 {
    let now = now_s();
    reqwest::Client::new()
        .post(format!("{base}/webhooks/inbound"))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", now.to_string())
        .header(
            "webhook-signature",
            sign_standard(INBOUND_KEY.as_bytes(), id, now, body),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn requests_to(server: &MockServer, at: &str, n: usize) -> Vec<wiremock::Request> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: Vec<_> = server
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == at)
            .collect();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lines(out: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test]
async fn a_new_ticket_reaches_its_destinations_signed_with_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let receiver = MockServer::start().await;
    // The helpdesk is down once, then takes it: the event is retried.
    Mock::given(method("POST"))
        .and(path("/helpdesk"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/helpdesk"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&receiver)
        .await;
    let helpdesk = format!("{}/helpdesk", receiver.uri());
    let chat = format!("{}/chat", receiver.uri());
    let out = dir.path().join("stdout.jsonl");
    let server = start_printing(
        &dir.path().join("t.db"),
        free_port(),
        &[
            ("INBOUND_WEBHOOK_SECRETS", INBOUND_KEY),
            ("HELPDESK_URL", helpdesk.as_str()),
            ("HELPDESK_SECRET", HOOK_KEY),
            ("CHAT_URL", chat.as_str()),
        ],
        &["--rules", rules.to_str().unwrap()],
        &out,
    );

    let body = std::fs::read(triage_testkit::repo_root().join("fixtures/inbound/new-ticket.json"))
        .unwrap();
    assert_eq!(post_inbound(&server.base, &body, "msg_evt_1").await, 200);

    let hooks = requests_to(&receiver, "/helpdesk", 2).await;
    assert_eq!(hooks.len(), 2, "one refused, one retried delivery");
    let keys = WebhookSecrets::parse(HOOK_KEY).unwrap();
    let last = &hooks[1];
    let header = |name: &str| last.headers.get(name).map(|v| v.as_bytes());
    verify(&keys, header, &last.body, now_s(), 300).expect("signed with the destination's key");
    let event: TicketEvent = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(event.kind.as_str(), "ticket.created");
    assert_eq!(
        hooks[0].headers.get("webhook-id"),
        hooks[1].headers.get("webhook-id"),
        "a retry keeps the event id"
    );
    let chats = requests_to(&receiver, "/chat", 1).await;
    assert_eq!(chats.len(), 1, "chat had it the first time: not sent again");

    // One line per delivery: chat delivered, helpdesk retried then delivered.
    let deadline = Instant::now() + Duration::from_secs(30);
    let deliveries = loop {
        let d: Vec<Value> = lines(&out)
            .into_iter()
            .filter(|l| l.get("delivery").is_some())
            .collect();
        if d.len() >= 3 || Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut seen: Vec<(String, String)> = deliveries
        .iter()
        .map(|l| {
            (
                l["destination"].as_str().unwrap().to_string(),
                l["delivery"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("chat".to_string(), "delivered".to_string()),
            ("helpdesk".to_string(), "delivered".to_string()),
            ("helpdesk".to_string(), "retry".to_string()),
        ],
        "{deliveries:?}"
    );
    for l in &deliveries {
        assert_eq!(l["event_id"], event.id.as_str());
        assert_eq!(l["ticket_id"], event.ticket_id.as_str());
    }
    // The printed lines never carry the requester's address or the body.
    let printed = std::fs::read_to_string(&out).unwrap();
    assert!(!printed.contains('@'), "{printed}");
}

#[test]
fn a_destination_without_its_variable_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("--db")
        .arg(dir.path().join("t.db"))
        .arg("--rules")
        .arg(&rules)
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .env("INBOUND_WEBHOOK_SECRETS", INBOUND_KEY)
        .env("HELPDESK_URL", "https://helpdesk.example/hook")
        .env(
            "CHAT_URL",
            "https://hooks.slack.example/services/T/B/SECRETPART",
        )
        .env_remove("HELPDESK_SECRET")
        .env_remove("HELPDESK_SECRET_ARN")
        .env_remove("NYLAS_WEBHOOK_SECRET_ARN")
        .env_remove("INBOUND_WEBHOOK_SECRETS_ARN")
        .env_remove("NYLAS_API_KEY_ARN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HELPDESK_SECRET"), "{stderr}");
    assert!(!stderr.contains("SECRETPART"), "{stderr}");
}

#[tokio::test]
async fn dead_events_are_inspected_without_content_and_redriven() {
    use triage_core::dispatch::{EventOutbox, Settled};
    use triage_core::ports::TicketStore;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let store = triage_sqlite::SqliteDb::open(&db).unwrap().store();
    store
        .write(&triage_testkit::contract::sample_ticket(
            "g1",
            "m1",
            None,
            1_764_547_200,
        ))
        .await
        .unwrap();
    let event = store.due(i64::MAX, 10).await.unwrap().remove(0).event;
    store
        .settle(
            &event.id,
            &Settled::Dead {
                delivered: vec!["chat".into()],
                attempts: 10,
                reason: "helpdesk: permanent: HTTP 410".into(),
            },
        )
        .await
        .unwrap();
    drop(store);

    let triage = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_triage"))
            .arg("--db")
            .arg(&db)
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let shown = triage(&["dlq", "inspect", "--events"]);
    assert_eq!(shown["dead"], 1);
    assert_eq!(shown["samples"][0]["event_id"], event.id.as_str());
    assert_eq!(shown["samples"][0]["delivered"][0], "chat");
    assert_eq!(shown["reasons"]["helpdesk: permanent: HTTP 410"], 1);
    let text = shown.to_string();
    assert!(
        !text.contains("ann@example.com") && !text.contains("order did not arrive"),
        "{text}"
    );

    let dry = triage(&["dlq", "redrive", "--events", "--dry-run"]);
    assert_eq!(
        (dry["would_redrive"].as_u64(), dry["redriven"].as_u64()),
        (Some(1), Some(0))
    );
    let moved = triage(&["dlq", "redrive", "--events"]);
    assert_eq!(moved["redriven"], 1);
    let after = triage(&["dlq", "inspect", "--events"]);
    assert_eq!(
        (after["dead"].as_u64(), after["pending"].as_u64()),
        (Some(0), Some(1))
    );
}

/// The README's local receiver example, as written: `events/receiver.py`
/// verifies the signed deliveries of `triage serve` and prints each event.
#[tokio::test]
async fn the_readme_receiver_example_receives_verified_events() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let port = free_port();
    let mut receiver = Command::new("python3")
        .arg(triage_testkit::repo_root().join("events/receiver.py"))
        .arg(port.to_string())
        .env("HELPDESK_SECRET", "local-signing-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs events/receiver.py");
    let stdout = receiver.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("receiver starts");
    assert!(first.contains("receiving ticket events"), "{first}");

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("routes.toml");
    std::fs::write(
        &rules,
        "[destinations.helpdesk]\ntype = \"webhook\"\nurl_var = \"HELPDESK_URL\"\nsigning_secret_var = \"HELPDESK_SECRET\"\n\n[routes]\ndefault = [\"helpdesk\"]\n",
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{port}/events");
    let server = start_printing(
        &dir.path().join("t.db"),
        free_port(),
        &[
            ("INBOUND_WEBHOOK_SECRETS", INBOUND_KEY),
            ("HELPDESK_URL", url.as_str()),
            ("HELPDESK_SECRET", "local-signing-secret"),
        ],
        &["--rules", rules.to_str().unwrap()],
        &dir.path().join("out.jsonl"),
    );
    let body = std::fs::read(triage_testkit::repo_root().join("fixtures/inbound/new-ticket.json"))
        .unwrap();
    assert_eq!(post_inbound(&server.base, &body, "msg_readme").await, 200);
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the receiver printed the event");
    let _ = receiver.kill();
    let _ = receiver.wait();
    assert!(line.starts_with("evt_"), "{line}");
    assert!(line.contains("ticket.created ticket t_"), "{line}");
}
