//! Shared helpers for the `triage` process tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use triage_core::signature::sign_nylas;

pub const SECRET: &str = "e2e-secret";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(db: &Path, port: u16, nylas: Option<&str>, env: &[(&str, &str)]) -> Server {
    start_with(db, port, nylas, env, &[])
}

/// Start `triage serve` with extra global flags (e.g. `--store dynamodb`).
pub fn start_with(
    db: &Path,
    port: u16,
    nylas: Option<&str>,
    env: &[(&str, &str)],
    flags: &[&str],
) -> Server {
    start_full(db, port, nylas, env, flags, Stdio::null())
}

/// Start `triage serve` with its outcome lines (stdout) written to `out`.
pub fn start_printing(
    db: &Path,
    port: u16,
    env: &[(&str, &str)],
    flags: &[&str],
    out: &Path,
) -> Server {
    let file = std::fs::File::create(out).expect("create stdout file");
    start_full(db, port, None, env, flags, Stdio::from(file))
}

fn start_full(
    db: &Path,
    port: u16,
    nylas: Option<&str>,
    env: &[(&str, &str)],
    flags: &[&str],
    stdout: Stdio,
) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_triage"));
    cmd.args(flags)
        .arg("--db")
        .arg(db)
        .arg("--json")
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("NYLAS_WEBHOOK_SECRET", SECRET)
        .env("SUPPORT_ADDRESSES", "support@example.com")
        .env("LEASE_SECONDS", "5")
        .env_remove("NYLAS_API_KEY")
        .env_remove("NYLAS_API_KEY_ARN")
        .env_remove("NYLAS_WEBHOOK_SECRET_ARN")
        .env_remove("INBOUND_WEBHOOK_SECRETS_ARN")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null());
    if let Some(uri) = nylas {
        cmd.env("NYLAS_API_KEY", "e2e-key")
            .env("NYLAS_API_URI", uri);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Wrapped at once so the child is killed and reaped on every path.
    let server = Server {
        child: cmd.spawn().expect("start triage"),
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("triage serve did not start listening on {port}");
}

pub fn notification(ty: &str, id: &str, thread: &str, subject: &str, body: Option<&str>) -> String {
    let mut object = json!({
        "id": id, "grant_id": "grant-e2e", "object": "message", "thread_id": thread,
        "subject": subject, "from": [{"name": "C", "email": "customer@client.example"}],
        "to": [{"name": "Support", "email": "support@example.com"}],
        "date": 1763870395, "folders": ["INBOX"], "snippet": "snippet text",
    });
    if let Some(b) = body {
        object["body"] = json!(b);
    }
    json!({"specversion": "1.0", "type": ty, "source": "/google/emails/realtime",
           "id": format!("n-{id}"), "time": 1763870400, "webhook_delivery_attempt": 1,
           "data": {"application_id": "app", "object": object}})
    .to_string()
}

pub async fn post(client: &reqwest::Client, base: &str, body: &str) -> Result<u16, reqwest::Error> {
    let sig = sign_nylas(SECRET.as_bytes(), body.as_bytes());
    client
        .post(format!("{base}/webhooks/nylas"))
        .header("X-Nylas-Signature", sig)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map(|r| r.status().as_u16())
}

pub async fn tickets(client: &reqwest::Client, base: &str) -> Vec<Value> {
    tickets_where(client, base, "limit=1000").await
}

/// The tickets of the first page of `GET /tickets?{query}`.
pub async fn tickets_where(client: &reqwest::Client, base: &str, query: &str) -> Vec<Value> {
    let page = tickets_page(client, base, query).await;
    match page.get("tickets") {
        Some(Value::Array(list)) => list.clone(),
        _ => panic!("GET /tickets?{query}: no `tickets` array in {page}"),
    }
}

/// One page of `GET /tickets?{query}`: `{"tickets": [...], "next_cursor": ...}`.
pub async fn tickets_page(client: &reqwest::Client, base: &str, query: &str) -> Value {
    client
        .get(format!("{base}/tickets?{query}"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

/// Poll until `want(tickets)` holds or time runs out.
pub async fn wait_for(
    client: &reqwest::Client,
    base: &str,
    want: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = tickets(client, base).await;
        if want(&t) || Instant::now() > deadline {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
