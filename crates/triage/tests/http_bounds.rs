//! The bounds of `triage serve`'s HTTP server, against the real binary:
//! slow request heads, short bodies and idle keep-alive connections are cut
//! off, connections over the cap are refused, the read API needs
//! `TRIAGE_API_TOKEN` when it is set (and the token is never printed), and
//! the webhook answers in time while another process holds the database's
//! write lock.
//!
//! Timing assertions are generous upper bounds only: the servers here run
//! with bounds of a few hundred milliseconds, the tests allow seconds.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{SECRET, free_port, notification};
use triage_core::signature::sign_nylas;

const TOKEN: &str = "bounds-test-token-0123456789";

/// A `triage serve` process whose stderr goes to a file.
struct Served {
    child: Child,
    port: u16,
    stderr: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn db(&self) -> std::path::PathBuf {
        self._dir.path().join("t.db")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// `triage [flags] serve --listen <listen>` with its database in `dir`,
/// stderr to `stderr`, no API key or token from the caller's environment,
/// then `defaults`, then `env`.
fn serve_command(
    dir: &std::path::Path,
    flags: &[&str],
    listen: &str,
    stderr: &std::path::Path,
    defaults: &[(&str, &str)],
    env: &[(&str, &str)],
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_triage"));
    cmd.arg("--db")
        .arg(dir.join("t.db"))
        .args(flags)
        .arg("serve")
        .arg("--listen")
        .arg(listen)
        .env_remove("NYLAS_API_KEY")
        .env_remove("NYLAS_API_KEY_ARN")
        .env_remove("NYLAS_WEBHOOK_SECRET_ARN")
        .env_remove("INBOUND_WEBHOOK_SECRETS_ARN")
        .env_remove("TRIAGE_API_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap());
    for (k, v) in defaults.iter().chain(env) {
        cmd.env(k, v);
    }
    cmd
}

/// Start `triage serve` on `host` with `env`, and wait until it listens.
fn serve_on(host: &str, env: &[(&str, &str)]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let stderr = dir.path().join("stderr.log");
    let defaults = [
        ("NYLAS_WEBHOOK_SECRET", SECRET),
        ("SUPPORT_ADDRESSES", "support@example.com"),
        ("RUST_LOG", "debug"),
    ];
    let listen = format!("{host}:{port}");
    let mut cmd = serve_command(dir.path(), &["--json"], &listen, &stderr, &defaults, env);
    let served = Served {
        child: cmd.spawn().expect("start triage"),
        port,
        stderr,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return served;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("triage serve did not start listening on {port}");
}

fn serve(env: &[(&str, &str)]) -> Served {
    serve_on("127.0.0.1", env)
}

/// Whether the server closed `stream` within `within` (EOF or reset);
/// whatever it sent before is returned too.
fn closed_within(stream: &mut TcpStream, within: Duration) -> (bool, Vec<u8>) {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (false, got);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (false, got);
            }
            Err(_) => return (true, got),
        }
    }
}

/// One response read from a keep-alive connection: (status, whole text).
fn read_response(stream: &mut TcpStream) -> (u16, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                let status = text
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                return (status, text);
            }
        }
        let n = stream.read(&mut buf).expect("read a response");
        assert!(n > 0, "connection closed before a whole response: {text:?}");
        got.extend_from_slice(&buf[..n]);
    }
}

fn get_healthz(stream: &mut TcpStream) -> (u16, String) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    read_response(stream)
}

/// A connection on which one keep-alive request was served, retried while
/// an earlier (probe) connection still holds a slot.
fn served_connection(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (status, text) = get_healthz(&mut s);
        if status == 200 {
            return s;
        }
        assert!(Instant::now() < deadline, "never served: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_slow_request_head_is_cut_off() {
    let server = serve(&[
        ("TRIAGE_HEADER_TIMEOUT_MS", "300"),
        ("TRIAGE_IDLE_TIMEOUT_MS", "60000"),
    ]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.write_all(b"POST /webhooks/nylas HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    // Slowloris: one more header line every 100 ms, never the blank line.
    let started = Instant::now();
    let mut closed = false;
    for i in 0..100 {
        if s.write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
            .is_err()
        {
            closed = true;
            break;
        }
        if closed_within(&mut s, Duration::from_millis(100)).0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "a trickled request head held the connection");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed only after {:?}",
        started.elapsed()
    );
}

#[test]
fn a_body_shorter_than_its_content_length_gets_408() {
    let server = serve(&[("TRIAGE_BODY_TIMEOUT_MS", "300")]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.write_all(
        b"POST /webhooks/nylas HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"specversion\":",
    )
    .unwrap();
    let (closed, got) = closed_within(&mut s, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408 "), "got {text:?}");
    assert!(text.contains("body_timeout"), "got {text:?}");
    assert!(closed, "the connection stayed open after the 408");
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let server = serve(&[
        ("TRIAGE_IDLE_TIMEOUT_MS", "300"),
        ("TRIAGE_HEADER_TIMEOUT_MS", "60000"),
    ]);
    let mut s = served_connection(server.port);
    // Still usable right after a response...
    let (status, _) = get_healthz(&mut s);
    assert_eq!(status, 200);
    // ...and closed once idle.
    let (closed, got) = closed_within(&mut s, Duration::from_secs(5));
    assert!(closed, "an idle keep-alive connection stayed open");
    assert!(got.is_empty(), "unexpected bytes: {got:?}");
    // A connection that never sends anything is idle too.
    let mut quiet = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    assert!(closed_within(&mut quiet, Duration::from_secs(5)).0);
}

#[test]
fn connections_over_the_cap_are_refused_with_503() {
    let server = serve(&[
        ("TRIAGE_MAX_CONNECTIONS", "2"),
        ("TRIAGE_IDLE_TIMEOUT_MS", "60000"),
    ]);
    let first = served_connection(server.port);
    let mut second = served_connection(server.port);

    let mut third = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let (closed, got) = closed_within(&mut third, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 503 "),
        "over the cap, got {text:?}"
    );
    assert!(text.to_ascii_lowercase().contains("retry-after: 1"));
    assert!(closed, "a refused connection stayed open");

    // The connections being served still are.
    assert_eq!(get_healthz(&mut second).0, 200);
    // A slot frees up when a connection closes.
    drop(first);
    let mut again = served_connection(server.port);
    assert_eq!(get_healthz(&mut again).0, 200);
}

#[tokio::test]
async fn the_read_api_needs_the_token_when_it_is_set() {
    let server = serve(&[("TRIAGE_API_TOKEN", TOKEN)]);
    let client = reqwest::Client::new();
    let base = server.base();

    let missing = client.get(format!("{base}/tickets")).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 401);
    let challenge = missing.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert!(!body.to_string().contains(TOKEN));

    for wrong in [
        format!("Bearer {TOKEN}x"),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
        format!("Basic {TOKEN}"),
        TOKEN.to_string(),
    ] {
        let r = client
            .get(format!("{base}/tickets"))
            .header("Authorization", wrong.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{wrong} was accepted");
    }

    let ok = client
        .get(format!("{base}/tickets"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let page = ok.json::<serde_json::Value>().await.unwrap();
    assert!(page["tickets"].is_array(), "{page}");

    // /healthz and the signed webhook never need it.
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let body = notification("message.created", "tok1", "tt1", "Hello", Some("hi"));
    assert_eq!(common::post(&client, &base, &body).await.unwrap(), 200);

    // Never printed, not even with RUST_LOG=debug.
    let log = server.stderr();
    assert!(log.contains("listening on"), "{log}");
    assert!(!log.contains(TOKEN), "the token was printed");
    assert!(!log.contains("warning: listening beyond"), "{log}");
}

#[test]
fn tickets_stay_open_without_a_token() {
    let server = serve(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.write_all(b"GET /tickets HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s).0, 200);
}

/// Run `triage serve` with `env`, expecting it to refuse to start: its
/// exit success and stderr, or `None` if it was still running after 10 s.
fn start_refused(env: &[(&str, &str)]) -> Option<(bool, String)> {
    let dir = tempfile::tempdir().unwrap();
    let stderr = dir.path().join("stderr.log");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut cmd = serve_command(dir.path(), &[], &listen, &stderr, &[], env);
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::fs::read_to_string(&stderr).unwrap_or_default();
            return Some((status.success(), err));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn a_bad_token_stops_the_start_without_printing_it() {
    let (ok, err) =
        start_refused(&[("TRIAGE_API_TOKEN", "short-one")]).expect("started with a bad token");
    assert!(!ok);
    assert!(err.contains("TRIAGE_API_TOKEN"), "{err}");
    assert!(!err.contains("short-one"), "{err}");
}

#[test]
fn a_bad_limit_stops_the_start_naming_the_variable() {
    let (ok, err) =
        start_refused(&[("TRIAGE_BODY_TIMEOUT_MS", "soon")]).expect("started with a bad limit");
    assert!(!ok);
    assert!(err.contains("TRIAGE_BODY_TIMEOUT_MS"), "{err}");
}

#[test]
fn listening_beyond_loopback_without_a_token_warns() {
    let server = serve_on("0.0.0.0", &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = server.stderr();
    while !log.contains("listening on") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        log = server.stderr();
    }
    assert!(
        log.contains("warning: listening beyond this machine without TRIAGE_API_TOKEN"),
        "{log}"
    );
}

/// Hold SQLite's write lock from another connection (another process, as
/// far as SQLite is concerned) until dropped.
struct WriteLock(rusqlite::Connection);

impl WriteLock {
    fn take(db: &Path) -> WriteLock {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        WriteLock(conn)
    }

    fn release(self) {
        self.0.execute_batch("ROLLBACK").unwrap();
    }
}

#[tokio::test]
async fn the_webhook_answers_503_in_time_while_the_db_is_locked() {
    let server = serve(&[("TRIAGE_ENQUEUE_DEADLINE_MS", "1500")]);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = server.base();
    let body = notification("message.created", "lock1", "tl1", "Locked out", Some("hi"));
    let signature = sign_nylas(SECRET.as_bytes(), body.as_bytes());
    let send = || {
        client
            .post(format!("{base}/webhooks/nylas"))
            .header("X-Nylas-Signature", signature.as_str())
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
    };

    let lock = WriteLock::take(&server.db());
    let started = Instant::now();
    let refused = send().await.unwrap();
    let took = started.elapsed();
    // Well inside the provider's 10 s window (SQLite's own busy timeout
    // alone is 5 s).
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    assert_eq!(refused.status().as_u16(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");

    lock.release();
    let accepted = send().await.unwrap();
    assert_eq!(accepted.status().as_u16(), 200);
    let answer: serde_json::Value = accepted.json().await.unwrap();
    assert_eq!(answer["status"], "accepted");
}

#[test]
fn sigterm_closes_idle_connections_and_drains_the_worker() {
    let mut server = serve(&[("TRIAGE_IDLE_TIMEOUT_MS", "60000")]);
    // A kept-alive connection must not hold the shutdown up.
    let mut idle = served_connection(server.port);
    let pid = i32::try_from(server.child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(closed_within(&mut idle, Duration::from_secs(1)).0);
    let log = server.stderr();
    assert!(log.contains("draining the queue"), "{log}");
    assert!(log.contains("triage: stopped;"), "{log}");
}
