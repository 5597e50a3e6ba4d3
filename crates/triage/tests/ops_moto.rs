//! Operator commands as an operator runs them: the real `triage` binary,
//! Secrets Manager and SQS in moto (started by `infra/test.sh`; without it
//! these tests fail, they do not skip), the Nylas API in wiremock.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use serde_json::{Value, json};
use triage_testkit::{create_sqs_queue, moto_config, moto_endpoint, unique_name};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const API_KEY: &str = "nyk_ops_test_key";
const WEBHOOK_URL: &str = "https://ops.example.test/webhooks/nylas";
/// Secrets Nylas "issues" in these tests: they must never show up in output.
const ISSUED: &str = "5ec2e7a1f0b94c3d8e6a7b1c2d3e4f50";
const ROTATED: &str = "9a8b7c6d5e4f30211f2e3d4c5b6a7988";
const OLD: &str = "old-secret-0b1c2d3e";
const BODY_MARKER: &str = "BODY-MUST-NOT-BE-PRINTED";

/// Runs `triage` with the moto environment and the fake Nylas API; the
/// process inherits the rest of the environment (AWS_* from infra/test.sh).
fn triage(args: &[&str], nylas: Option<&str>, cwd: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_triage"));
    cmd.args(args)
        .current_dir(cwd)
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("NYLAS_API_KEY_ARN")
        .env_remove("NYLAS_WEBHOOK_SECRET_ARN")
        .env_remove("DLQ_URL")
        .env_remove("QUEUE_URL")
        .env_remove("TRIAGE_QUEUE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    match nylas {
        Some(uri) => {
            cmd.env("NYLAS_API_KEY", API_KEY).env("NYLAS_API_URI", uri);
        }
        None => {
            cmd.env_remove("NYLAS_API_KEY")
                .env_remove("NYLAS_API_KEY_ARN")
                .env_remove("NYLAS_WEBHOOK_SECRET_ARN")
                .env_remove("INBOUND_WEBHOOK_SECRETS_ARN");
        }
    }
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run triage: {e}"),
    }
}

/// Runs it off the async runtime (wiremock answers meanwhile).
async fn triage_async(args: &[&str], nylas: Option<&str>, cwd: &Path) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let nylas = nylas.map(str::to_owned);
    let cwd = cwd.to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        triage(&args, nylas.as_deref(), &cwd)
    })
    .await
    .expect("triage run")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_ok(o: &Output) -> String {
    let (out, err) = text(o);
    assert!(
        o.status.success(),
        "triage failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    out
}

fn assert_never_shows(o: &Output, secrets: &[&str]) {
    let (out, err) = text(o);
    for s in secrets {
        assert!(
            !out.contains(s) && !err.contains(s),
            "output shows a secret\nstdout:\n{out}\nstderr:\n{err}"
        );
    }
}

fn json_answer(value: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(value.to_string().into_bytes(), "application/json")
}

/// The fake Nylas API expects exactly one call of `verb path` with our API
/// key, and answers it with `answer` as JSON.
async fn expect_one_call(nylas: &MockServer, verb: &str, at: &str, answer: Value) {
    Mock::given(method(verb))
        .and(path(at))
        .and(header("authorization", &*format!("Bearer {API_KEY}")))
        .respond_with(json_answer(answer))
        .expect(1)
        .mount(nylas)
        .await;
}

fn destination(id: &str, secret: &str) -> Value {
    json!({"request_id": "req-ops", "data": {
        "id": id, "webhook_url": WEBHOOK_URL, "trigger_types": ["message.created"],
        "webhook_secret": secret, "status": "active"
    }})
}

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto_config().await)
}

async fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&moto_config().await)
}

async fn new_secret(sm: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let out = sm
        .create_secret()
        .name(unique_name("ops-webhook-secret"))
        .secret_string(value)
        .send()
        .await
        .expect("create secret in moto");
    out.arn().expect("secret ARN").to_string()
}

async fn secret_value(sm: &aws_sdk_secretsmanager::Client, arn: &str) -> String {
    sm.get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .expect("read secret")
        .secret_string()
        .expect("string secret")
        .to_string()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[tokio::test(flavor = "multi_thread")]
async fn register_stores_the_secret_and_prints_only_the_id() {
    let sm = secrets_client().await;
    let arn = new_secret(&sm, "placeholder-1").await;
    let nylas = MockServer::start().await;
    expect_one_call(
        &nylas,
        "POST",
        "/v3/webhooks",
        destination("wh-reg-1", ISSUED),
    )
    .await;
    let dir = tempdir();

    let o = triage_async(
        &[
            "webhooks",
            "register",
            "--url",
            WEBHOOK_URL,
            "--secret-arn",
            &arn,
            "--notify",
            "ops@example.com",
        ],
        Some(&nylas.uri()),
        dir.path(),
    )
    .await;

    let out = assert_ok(&o);
    assert!(out.contains("wh-reg-1"), "id not printed:\n{out}");
    assert_never_shows(&o, &[ISSUED]);
    assert_eq!(secret_value(&sm, &arn).await, ISSUED);
    let sent = nylas.received_requests().await.expect("requests");
    let body: Value = serde_json::from_slice(&sent[0].body).expect("JSON body");
    assert_eq!(body["trigger_types"], json!(["message.created"]));
    assert_eq!(body["webhook_url"], json!(WEBHOOK_URL));
    assert_eq!(
        body["notification_email_addresses"],
        json!(["ops@example.com"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn register_creates_nothing_when_the_secret_cannot_be_read() {
    let nylas = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/webhooks"))
        .respond_with(json_answer(destination("wh-never", ISSUED)))
        .mount(&nylas)
        .await;
    let missing = format!(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}",
        unique_name("absent")
    );
    let dir = tempdir();

    let o = triage_async(
        &[
            "webhooks",
            "register",
            "--url",
            WEBHOOK_URL,
            "--secret-arn",
            &missing,
        ],
        Some(&nylas.uri()),
        dir.path(),
    )
    .await;

    let (out, err) = text(&o);
    assert!(!o.status.success(), "should fail\n{out}\n{err}");
    assert!(err.contains("nothing was created"), "{err}");
    assert_eq!(
        nylas.received_requests().await.map_or(0, |r| r.len()),
        0,
        "a webhook was created although its secret had nowhere to go"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_leaves_new_and_old_then_finish_leaves_new() {
    let sm = secrets_client().await;
    let arn = new_secret(&sm, OLD).await;
    let nylas = MockServer::start().await;
    expect_one_call(
        &nylas,
        "POST",
        "/v3/webhooks/rotate-secret/wh-rot-1",
        destination("wh-rot-1", ROTATED),
    )
    .await;
    let dir = tempdir();

    let o = triage_async(
        &[
            "webhooks",
            "rotate",
            "--id",
            "wh-rot-1",
            "--secret-arn",
            &arn,
        ],
        Some(&nylas.uri()),
        dir.path(),
    )
    .await;
    let out = assert_ok(&o);
    assert_never_shows(&o, &[ROTATED, OLD]);
    assert!(out.contains("rotate --finish"), "no next step:\n{out}");
    assert_eq!(secret_value(&sm, &arn).await, format!("{ROTATED},{OLD}"));

    // --finish needs no Nylas call: no API key given.
    let o = triage_async(
        &["webhooks", "rotate", "--finish", "--secret-arn", &arn],
        None,
        dir.path(),
    )
    .await;
    assert_ok(&o);
    assert_never_shows(&o, &[ROTATED, OLD]);
    assert_eq!(secret_value(&sm, &arn).await, ROTATED);

    // Finishing again changes nothing.
    let o = triage_async(
        &["webhooks", "rotate", "--finish", "--secret-arn", &arn],
        None,
        dir.path(),
    )
    .await;
    let out = assert_ok(&o);
    assert!(out.contains("nothing to finish"), "{out}");
    assert_eq!(secret_value(&sm, &arn).await, ROTATED);
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_does_not_call_nylas_when_the_secret_cannot_be_read() {
    let nylas = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_answer(destination("wh-x", ROTATED)))
        .mount(&nylas)
        .await;
    let missing = format!(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}",
        unique_name("absent")
    );
    let dir = tempdir();
    let o = triage_async(
        &[
            "webhooks",
            "rotate",
            "--id",
            "wh-x",
            "--secret-arn",
            &missing,
        ],
        Some(&nylas.uri()),
        dir.path(),
    )
    .await;
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("nothing was rotated"), "{err}");
    assert_eq!(nylas.received_requests().await.map_or(0, |r| r.len()), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_test_event_reach_the_api() {
    let nylas = MockServer::start().await;
    expect_one_call(
        &nylas,
        "GET",
        "/v3/webhooks",
        json!({"data": [{
            "id": "wh-list-1", "webhook_url": WEBHOOK_URL, "status": "failing",
            "trigger_types": ["message.created"], "webhook_secret": ISSUED
        }]}),
    )
    .await;
    expect_one_call(
        &nylas,
        "POST",
        "/v3/webhooks/send-test-event",
        json!({"request_id": "rt-1", "data": "success"}),
    )
    .await;
    let dir = tempdir();

    let o = triage_async(
        &["--json", "webhooks", "list"],
        Some(&nylas.uri()),
        dir.path(),
    )
    .await;
    let out = assert_ok(&o);
    assert_never_shows(&o, &[ISSUED]);
    let listed: Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!(listed["id"], json!("wh-list-1"));
    assert_eq!(listed["status"], json!("failing"));

    let o = triage_async(
        &["webhooks", "test", "--url", WEBHOOK_URL],
        Some(&nylas.uri()),
        dir.path(),
    )
    .await;
    let out = assert_ok(&o);
    assert!(out.contains("rt-1"), "{out}");
    let sent = nylas.received_requests().await.expect("requests");
    let body: Value = serde_json::from_slice(&sent[1].body).expect("JSON body");
    assert_eq!(
        body,
        json!({"trigger_type": "message.created", "webhook_url": WEBHOOK_URL})
    );
}

// ------------------------------------------------------------------ DLQ

struct Queues {
    main: String,
    dlq: String,
}

async fn new_queues(sqs: &aws_sdk_sqs::Client) -> Queues {
    Queues {
        main: create_sqs_queue(sqs, "ops-notifications").await,
        dlq: create_sqs_queue(sqs, "ops-dlq").await,
    }
}

fn attr(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("attribute")
}

/// Three dead letters with envelope-like bodies and routing attributes.
async fn fill_dlq(sqs: &aws_sdk_sqs::Client, dlq: &str) -> Vec<(String, HashMap<String, String>)> {
    let mut sent = Vec::new();
    for i in 0..3 {
        let body = format!(r#"{{"envelope_version":1,"note":"{BODY_MARKER}-{i}"}}"#);
        let mut attrs: Vec<(&str, String)> = vec![
            ("envelope_version", "1".to_string()),
            ("notification_id", format!("notif-{i}")),
            ("grant_id", "grant-ops".to_string()),
            ("message_id", format!("msg-{i}")),
            ("type", "message.created".to_string()),
        ];
        if i == 0 {
            // What the worker sets when it dead-letters a message itself.
            attrs.push((
                "triage-reason",
                "permanent: envelope has no grant id or message id".to_string(),
            ));
        }
        let attrs: HashMap<String, String> =
            attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let mut req = sqs.send_message().queue_url(dlq).message_body(&body);
        for (k, v) in &attrs {
            req = req.message_attributes(k, attr(v));
        }
        req.send().await.expect("send to DLQ");
        sent.push((body, attrs));
    }
    sent
}

async fn visible(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue attributes");
    let get = |n: QueueAttributeName| {
        out.attributes()
            .and_then(|a| a.get(&n))
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX)
    };
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_inspect_counts_and_shows_ids_but_no_body() {
    let sqs = sqs_client().await;
    let q = new_queues(&sqs).await;
    fill_dlq(&sqs, &q.dlq).await;
    let dir = tempdir();

    let o = triage_async(
        &["--queue", "sqs", "dlq", "inspect", "--dlq-url", &q.dlq],
        None,
        dir.path(),
    )
    .await;
    let out = assert_ok(&o);
    assert!(out.contains("count: 3"), "{out}");
    assert!(
        out.contains("envelope has no grant id or message id"),
        "the worker's reason is shown:\n{out}"
    );
    for i in 0..3 {
        assert!(
            out.contains(&format!("notif-{i}")),
            "sample ids missing:\n{out}"
        );
    }
    assert_never_shows(&o, &[BODY_MARKER, "envelope_version\":1"]);

    let o = triage_async(
        &[
            "--queue",
            "sqs",
            "--json",
            "dlq",
            "inspect",
            "--dlq-url",
            &q.dlq,
        ],
        None,
        dir.path(),
    )
    .await;
    let out = assert_ok(&o);
    assert_never_shows(&o, &[BODY_MARKER]);
    let report: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(report["count"], json!(3));
    let sample = report["sample"].as_array().expect("sample");
    assert_eq!(sample.len(), 3);
    assert!(sample.iter().all(|s| {
        s["sqs_message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    }));
    assert!(sample.iter().all(|s| s["grant_id"] == json!("grant-ops")));

    // Inspecting took nothing out and hid nothing.
    assert_eq!(visible(&sqs, &q.dlq).await, (3, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_redrive_dry_run_moves_nothing_then_redrive_moves_all_intact() {
    let sqs = sqs_client().await;
    let q = new_queues(&sqs).await;
    let sent = fill_dlq(&sqs, &q.dlq).await;
    let dir = tempdir();

    let o = triage_async(
        &[
            "--queue",
            "sqs",
            "dlq",
            "redrive",
            "--dlq-url",
            &q.dlq,
            "--queue-url",
            &q.main,
            "--dry-run",
        ],
        None,
        dir.path(),
    )
    .await;
    let out = assert_ok(&o);
    assert!(out.contains("would move 3"), "{out}");
    assert_eq!(visible(&sqs, &q.dlq).await, (3, 0));
    assert_eq!(visible(&sqs, &q.main).await, (0, 0));

    let o = triage_async(
        &[
            "--queue",
            "sqs",
            "dlq",
            "redrive",
            "--dlq-url",
            &q.dlq,
            "--queue-url",
            &q.main,
        ],
        None,
        dir.path(),
    )
    .await;
    let out = assert_ok(&o);
    assert_never_shows(&o, &[BODY_MARKER]);
    assert!(out.contains("moved 3"), "{out}");
    assert_eq!(visible(&sqs, &q.dlq).await, (0, 0), "the DLQ is not empty");

    let got = sqs
        .receive_message()
        .queue_url(&q.main)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .expect("receive from main queue");
    let mut moved: Vec<(String, HashMap<String, String>)> = got
        .messages()
        .iter()
        .map(|m| {
            let attrs = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| {
                            assert_eq!(v.data_type(), "String");
                            (k.clone(), v.string_value().unwrap_or_default().to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            (m.body().unwrap_or_default().to_string(), attrs)
        })
        .collect();
    moved.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = sent;
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(moved, expected, "bodies or attributes changed on the way");
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_redrive_refuses_the_same_queue_twice() {
    let sqs = sqs_client().await;
    let q = new_queues(&sqs).await;
    let dir = tempdir();
    let o = triage_async(
        &[
            "--queue",
            "sqs",
            "dlq",
            "redrive",
            "--dlq-url",
            &q.dlq,
            "--queue-url",
            &q.dlq,
        ],
        None,
        dir.path(),
    )
    .await;
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(err.contains("same queue"), "{err}");
}

// ------------------------------------------------------- local dead letters

#[tokio::test(flavor = "multi_thread")]
async fn local_dlq_inspect_and_redrive() {
    use triage_core::envelope::QueuedMessage;
    use triage_core::ports::NotificationQueue;
    use triage_sqlite::{SqliteDb, SqliteQueue};

    let dir = tempdir();
    let db_path = dir.path().join("triage.db");
    let queue = SqliteQueue::new(SqliteDb::open(&db_path).expect("open db"));
    queue
        .send_all(&[QueuedMessage {
            entry_id: "e1".into(),
            body: format!(r#"{{"note":"{BODY_MARKER}"}}"#),
            attributes: vec![("notification_id", "notif-local".into())],
            refetch: false,
        }])
        .await
        .expect("send");
    let got = queue
        .receive(1, std::time::Duration::from_secs(30), 0)
        .await
        .expect("receive");
    assert_eq!(got.len(), 1);
    assert!(
        queue
            .dead_letter(got[0].id, "permanent: test reason")
            .await
            .expect("dead letter")
    );
    let db = db_path.to_str().expect("utf-8 path");

    let o = triage_async(&["--db", db, "dlq", "inspect"], None, dir.path()).await;
    let out = assert_ok(&o);
    assert!(out.contains("local dead letters: 1"), "{out}");
    assert!(out.contains("permanent: test reason"), "{out}");
    assert!(out.contains("notif-local"), "{out}");
    assert_never_shows(&o, &[BODY_MARKER]);

    let o = triage_async(
        &["--db", db, "dlq", "redrive", "--dry-run"],
        None,
        dir.path(),
    )
    .await;
    let out = assert_ok(&o);
    assert!(out.contains("would move 1"), "{out}");
    assert_eq!(queue.dlq_depth().await.expect("depth"), 1);

    let o = triage_async(&["--db", db, "--json", "dlq", "redrive"], None, dir.path()).await;
    let out = assert_ok(&o);
    let report: Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(report["moved"], json!(1));
    assert_eq!(queue.dlq_depth().await.expect("depth"), 0);
    assert_eq!(queue.depth(i64::MAX).await.expect("depth"), 1);
}
