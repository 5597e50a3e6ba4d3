//! `triage classify` and `triage replay` on hostile or oversized inputs:
//! special files are reported without blocking, limits are enforced before
//! anything big is built, reasons carry no input values, and replay's exit
//! code reflects dead letters and refusals.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

/// Run `triage` with `args`; kill it if it hangs (a generous bound, not a
/// timing assertion: a hung process would otherwise hang the test run).
fn triage(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_triage"));
    cmd.current_dir(dir)
        .arg("--db")
        .arg(dir.join("t.db"))
        .args(args)
        .env("SUPPORT_ADDRESSES", "support@example.com")
        .env_remove("NYLAS_API_KEY")
        .env_remove("NYLAS_API_KEY_ARN")
        .env_remove("NYLAS_WEBHOOK_SECRET_ARN")
        .env_remove("INBOUND_WEBHOOK_SECRETS_ARN")
        .env_remove("NYLAS_WEBHOOK_SECRET")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start triage");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "triage {args:?} hung; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn message(id: &str) -> serde_json::Value {
    json!({"id": id, "grant_id": "g", "object": "message", "thread_id": format!("t-{id}"),
           "subject": "The dashboard shows an error", "from": [{"name": "C", "email": "c@client.example"}],
           "to": [{"name": "Support", "email": "support@example.com"}],
           "date": 1763870395, "folders": ["INBOX"], "body": "<p>please help, error 502</p>"})
}

fn v3(id: &str) -> serde_json::Value {
    json!({"specversion": "1.0", "type": "message.created", "source": "/google/emails/realtime",
           "id": format!("n-{id}"), "time": 1763870400, "data": {"object": message(id)}})
}

#[test]
fn classify_reports_a_fifo_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out = triage(dir.path(), &["classify", fifo.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("pipe.json: skipped: a named pipe"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn classify_refuses_dev_zero_and_still_reads_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, v3("m1").to_string()).unwrap();
    let out = triage(
        dir.path(),
        &["classify", "/dev/zero", good.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("/dev/zero: skipped: a character device"),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("good.json: ticket"),
        "{err}"
    );
}

#[test]
fn replay_counts_a_fifo_as_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out = triage(
        dir.path(),
        &["replay", "--quiet", fifo.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("skipped: a named pipe"), "{err}");
    assert!(err.contains("unreadable 1"), "{err}");
}

#[test]
fn files_over_the_cap_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    // Sparse: 20 MiB of zeros, over the 16 MiB cap.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(20 << 20)
        .unwrap();
    let out = triage(dir.path(), &["classify", big.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("big.json: larger than 16777216 bytes"),
        "{err}"
    );
}

#[test]
fn too_many_deltas_or_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let deltas: Vec<_> = (0..101)
        .map(|i| json!({"type": "message.created", "date": 1, "object": "message", "data": message(&format!("d{i}"))}))
        .collect();
    let d = dir.path().join("deltas.json");
    std::fs::write(&d, json!({ "deltas": deltas }).to_string()).unwrap();
    let records: Vec<_> = (0..101)
        .map(|i| json!({"messageId": i.to_string(), "body": "{}"}))
        .collect();
    let s = dir.path().join("sqs.json");
    std::fs::write(&s, json!({ "Records": records }).to_string()).unwrap();
    let out = triage(
        dir.path(),
        &["classify", d.to_str().unwrap(), s.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("deltas.json: more than 100 `deltas` entries"),
        "{err}"
    );
    assert!(err.contains("sqs.json: more than 100 SQS records"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
}

#[test]
fn a_body_over_the_cap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = message("big");
    m["body"] = json!("x".repeat((4 << 20) + 1));
    let f = dir.path().join("big-body.json");
    std::fs::write(&f, m.to_string()).unwrap();
    let out = triage(dir.path(), &["classify", f.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("message body larger than 4194304 bytes"),
        "{err}"
    );
}

#[test]
fn reasons_and_paths_carry_no_input_values_or_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = message("m1");
    m["date"] = json!("carol@example.org");
    let f = dir.path().join("bad\u{1b}[31mname.json");
    std::fs::write(&f, m.to_string()).unwrap();
    let env = dir.path().join("sqs.json");
    std::fs::write(
        &env,
        json!({"Records": [{"body": json!({"envelope_version": 1, "received_at_ms": "dave@example.org"}).to_string()}]})
            .to_string(),
    )
    .unwrap();
    let out = triage(
        dir.path(),
        &["classify", f.to_str().unwrap(), env.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(!err.contains("carol") && !err.contains("dave"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err}");
    assert!(err.contains("bad\\u{1b}[31mname.json"), "{err}");
    assert!(
        err.contains("not a Nylas message: field date: wrong type (found string, expected i64)"),
        "{err}"
    );
}

#[test]
fn replay_fails_when_anything_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("n.json");
    std::fs::write(&f, v3("m1").to_string()).unwrap();
    // classify calls it a ticket...
    let out = triage(dir.path(), &["classify", f.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // ...but a queue too small for it makes replay queue a reference, which
    // cannot be fetched without an API key: a dead letter.
    let out = triage(
        dir.path(),
        &["replay", "--quiet", f.to_str().unwrap()],
        &[("MAX_QUEUE_MESSAGE_BYTES", "600")],
    );
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("dead-lettered 1 (see triage dlq inspect)"),
        "{err}"
    );
}

#[test]
fn replay_fails_when_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = v3("m1");
    n["data"]["object"]["grant_id"] = json!("");
    let f = dir.path().join("no-grant.json");
    std::fs::write(&f, n.to_string()).unwrap();
    let out = triage(dir.path(), &["replay", "--quiet", f.to_str().unwrap()], &[]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("refused 1"), "{err}");
}

#[test]
fn replay_of_good_input_still_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("n.json");
    std::fs::write(&f, v3("m1").to_string()).unwrap();
    let out = triage(dir.path(), &["replay", "--quiet", f.to_str().unwrap()], &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("queued 1") && err.contains("dead-lettered 0"),
        "{err}"
    );
}
