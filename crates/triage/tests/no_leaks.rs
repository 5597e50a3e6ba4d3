//! Secrets, bodies and addresses never reach logs or output: a full replay
//! of the sample events with debug logging, every line captured.

use std::process::Command;

use triage_testkit::repo_root;

#[test]
fn full_replay_logs_no_body_address_or_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "inbox-triage-test-secret";
    for json in [false, true] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_triage"));
        cmd.arg("--db")
            .arg(dir.path().join(format!("leak-{json}.db")))
            .args(if json { vec!["--json"] } else { vec![] })
            .arg("replay")
            .arg(repo_root().join("events"))
            .env("NYLAS_WEBHOOK_SECRET", secret)
            .env("RUST_LOG", "debug")
            .env_remove("NYLAS_API_KEY")
            .env_remove("NYLAS_API_KEY_ARN")
            .env_remove("NYLAS_WEBHOOK_SECRET_ARN")
            .env_remove("INBOUND_WEBHOOK_SECRETS_ARN");
        let out = cmd.output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The run did real work: tickets, a skip, refusals.
        assert!(all.contains("created"), "{all}");
        assert!(all.contains("signature"), "{all}");
        for forbidden in [
            secret,
            // Bodies and subjects of the sample messages.
            "nobody on our team can load the dashboard",
            "Production dashboard is down",
            "charged twice",
            "export reports straight to Sheets",
            "We are on it",
            // Addresses.
            "priya@bigcorp.com",
            "tom.becker@example.org",
            "support@example.com",
            "sam@example.net",
            "@",
        ] {
            assert!(
                !all.contains(forbidden),
                "output contains {forbidden:?}:\n{all}"
            );
        }
    }
}

/// A notification around `object`, as a webhook body.
fn notification(id: &str, object: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "specversion": "1.0", "type": "message.created", "source": "/google/emails/realtime",
        "id": id, "time": 1763870400, "webhook_delivery_attempt": 1,
        "data": {"application_id": "app", "object": object},
    })
}

/// An SQS event whose one record carries `notification` in a v1 envelope:
/// what reaches the worker without passing ingest's checks.
fn sqs_event(id: &str, message_id: &str, notification: &serde_json::Value) -> String {
    let envelope = serde_json::json!({
        "envelope_version": 1, "provider": "nylas", "received_at_ms": 1763870401000i64,
        "notification_id": id, "type": "message.created", "base_type": "message.created",
        "suffixes": [], "grant_id": "grant-leak", "message_id": message_id,
        "shape": "v3", "refetch": false, "notification": notification,
    });
    serde_json::json!({"Records": [{
        "messageId": format!("sqs-{id}"), "receiptHandle": "r", "body": envelope.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
    }]})
    .to_string()
}

/// Malformed and hostile deliveries: wrong-typed fields holding addresses,
/// a 1.9 MB `from`, ids with newlines, NUL and terminal escapes. Whether
/// ingest refuses them or the worker dead-letters them, no value reaches
/// the output, no line is forged, no escape sequence is printed, and no
/// line is huge.
#[test]
fn malformed_deliveries_leak_no_value_and_forge_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    let base = || {
        serde_json::json!({
            "id": "m-ok", "grant_id": "grant-leak", "subject": "Hello",
            "from": [{"name": "C", "email": "c@client.example"}], "date": 1763870395,
        })
    };
    let huge = format!("{}@huge.example", "h".repeat(1_900_000));
    let mut cases: Vec<(String, serde_json::Value)> = Vec::new();
    for (i, (field, value)) in [
        ("from", serde_json::json!("carol@example.org")),
        ("to", serde_json::json!(["dave@example.org"])),
        ("date", serde_json::json!("carol-date@example.org")),
        ("folders", serde_json::json!("carol-folder@example.org")),
        ("from", serde_json::json!(huge)),
        (
            "id",
            serde_json::json!("m1\n2026-01-01T00:00:00Z  INFO forged-line"),
        ),
        ("id", serde_json::json!("m2\u{1b}[2J\u{1b}]0;pwned\u{7}")),
        ("id", serde_json::json!("m3\u{0}tail")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut o = base();
        o[field] = value;
        cases.push((format!("case{i}"), o));
    }
    for (name, object) in &cases {
        let n = notification(&format!("n-{name}"), object.clone());
        std::fs::write(inputs.join(format!("{name}.json")), n.to_string()).unwrap();
        let mid = object["id"].as_str().unwrap_or("m-ok");
        std::fs::write(
            inputs.join(format!("{name}-sqs.json")),
            sqs_event(&format!("n-{name}-sqs"), mid, &n),
        )
        .unwrap();
    }
    // A duplicate key, which a JSON value cannot hold: written by hand.
    std::fs::write(
        inputs.join("dup.json"),
        r#"{"specversion":"1.0","type":"message.created","id":"n-dup","time":1,"data":{"object":{"id":"m-dup","grant_id":"grant-leak","from":[{"email":"erin@example.org"}],"from":"erin@example.org"}}}"#,
    )
    .unwrap();

    for json in [false, true] {
        let db = dir.path().join(format!("hostile-{json}.db"));
        let run = |args: &[&str]| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_triage"));
            cmd.arg("--db")
                .arg(&db)
                .args(if json { vec!["--json"] } else { vec![] })
                .args(args)
                .env("RUST_LOG", "debug")
                .env_remove("NYLAS_API_KEY")
                .env_remove("NYLAS_API_KEY_ARN")
                .env_remove("NYLAS_WEBHOOK_SECRET_ARN")
                .env_remove("INBOUND_WEBHOOK_SECRETS_ARN");
            let out = cmd.output().unwrap();
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        };
        let all = format!(
            "{}{}",
            run(&["replay", inputs.to_str().unwrap()]),
            run(&["dlq", "inspect"])
        );
        // The run did real work: ingest refused, the worker dead-lettered.
        assert!(
            all.contains("invalid_message") || all.contains("wrong type"),
            "{all}"
        );
        assert!(all.contains("dead"), "{all}");
        for forbidden in [
            "carol",
            "dave@",
            "erin@",
            "hhhhhhhhhh",
            "huge.example",
            "\u{1b}",
            "\u{7}",
            "\u{0}",
        ] {
            assert!(
                !all.contains(forbidden),
                "output contains {forbidden:?}:\n{all}"
            );
        }
        for line in all.lines() {
            assert!(
                !line.trim_start().starts_with("2026-01-01T00:00:00Z"),
                "forged line: {line}"
            );
            assert!(line.len() < 8_000, "a {}-byte line", line.len());
        }
    }
}
