//! Auto-acknowledgements through the real `triage serve` with the Nylas API
//! on wiremock: a new ticket gets one reply in its thread through the send
//! endpoint; redeliveries, replies on the ticket, a second ticket from the
//! same sender the same day and automatic mail get none.

mod common;

use std::time::Duration;

use common::{free_port, notification, post, start_with, wait_for};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RULES: &str = r#"
[acknowledgements]
enabled = true
per_sender_per_day = 1

[acknowledgements.response_times]
low = "3 business days"
medium = "1 business day"
high = "2 hours"
"#;

fn with(notification: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(notification).unwrap();
    edit(&mut v["data"]["object"]);
    v.to_string()
}

#[tokio::test]
async fn a_new_ticket_gets_one_acknowledgement_and_nothing_else_does() {
    let nylas = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v3/grants/grant-e2e/folders$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"request_id": "f", "data": [{"id": "INBOX", "attributes": ["\\Inbox"]}]}),
        ))
        .mount(&nylas)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/v3/grants/grant-e2e/messages/send$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"request_id": "s", "data": {"id": "sent-1"}})),
        )
        .mount(&nylas)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let server = start_with(
        &dir.path().join("t.db"),
        free_port(),
        Some(&nylas.uri()),
        &[("FETCH_POLICY", "when-needed")],
        &["--rules", rules.to_str().unwrap()],
    );
    let client = reqwest::Client::new();

    let first = notification(
        "message.created",
        "m1",
        "t1",
        "Refund please",
        Some("<p>I was charged twice.</p>"),
    );
    // Delivered three times: one ticket, one acknowledgement.
    for _ in 0..3 {
        assert_eq!(post(&client, &server.base, &first).await.unwrap(), 200);
    }
    let reply = notification(
        "message.created",
        "m2",
        "t1",
        "Re: Refund please",
        Some("<p>Any news?</p>"),
    );
    let second_ticket = notification(
        "message.created",
        "m3",
        "t3",
        "Another question",
        Some("<p>Also this.</p>"),
    );
    let automatic = with(
        &notification(
            "message.created",
            "m4",
            "t4",
            "Out of office",
            Some("<p>Away.</p>"),
        ),
        |o| {
            o["from"] = json!([{"name": "", "email": "someone@else.example"}]);
            o["headers"] = json!([{"name": "Auto-Submitted", "value": "auto-replied"}]);
        },
    );
    for body in [&reply, &second_ticket, &automatic] {
        assert_eq!(post(&client, &server.base, body).await.unwrap(), 200);
    }
    // m1 and m3 are tickets (m2 joined m1, m4 was skipped).
    let t = wait_for(&client, &server.base, |t| t.len() >= 2).await;
    assert_eq!(t.len(), 2, "{t:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sends: Vec<Value> = nylas
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(sends.len(), 1, "{sends:?}");
    let ack = &sends[0];
    assert_eq!(ack["reply_to_message_id"], "m1");
    assert_eq!(ack["to"][0]["email"], "customer@client.example");
    let text = ack["body"].as_str().unwrap();
    let ticket_id = t.iter().find(|x| x["message_id"] == "m1").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains(&ticket_id), "{text}");
    assert!(
        ["3 business days", "1 business day", "2 hours"]
            .iter()
            .any(|p| text.contains(p)),
        "{text}"
    );
    let names: Vec<&str> = ack["custom_headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Auto-Submitted", "X-Auto-Response-Suppress"]);
}
