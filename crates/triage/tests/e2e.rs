//! `triage` as a user runs it: a real process on a free loopback port, a
//! fake Nylas API (wiremock), the embedded SQLite store in a temp dir.

mod common;

use std::collections::HashSet;
use std::process::Command;

use common::{free_port, notification, post, start, tickets_page, tickets_where, wait_for};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
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
    assert_eq!(high[0]["id"], incident["id"]);
    assert_eq!(
        tickets_where(&client, &server.base, "priority=HIGH").await,
        high,
        "names are case-insensitive"
    );
    let new = tickets_where(&client, &server.base, "status=new").await;
    assert_eq!(new.len(), list.len(), "every ticket is new");
    // An unknown priority or status is a 400 naming the accepted values,
    // not an empty list.
    for (query, message) in [
        (
            "priority=urgent",
            "priority must be one of: low, medium, high",
        ),
        (
            "priority=normal&status=new",
            "priority must be one of: low, medium, high",
        ),
        ("priority=", "priority must be one of: low, medium, high"),
        ("status=open", "status must be one of: new"),
        ("priority=high&status=closed", "status must be one of: new"),
    ] {
        let r = client
            .get(format!("{}/tickets?{query}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": "bad_request", "message": message}),
            "{query}"
        );
    }
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

/// Every ticket, following `next_cursor` (pages of 1,000).
async fn all_tickets(client: &reqwest::Client, base: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut query = "limit=1000".to_string();
    loop {
        let page = tickets_page(client, base, &query).await;
        out.extend(page["tickets"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => query = format!("limit=1000&cursor={c}"),
            None => return out,
        }
    }
}

/// Loss path 2 of issue #13: `triage serve` killed with SIGKILL twice while
/// 1,200 deliveries arrive 32 at a time (every tenth delivered twice, as
/// providers do). Claims held by the killed process are live when their
/// messages come back; they must wait for the lease, not be dead-lettered.
/// Like a provider, a sender retries a delivery that got no answer.
/// Afterwards: every acknowledged message has exactly one ticket, nothing
/// is in the dead-letter queue, and no manual step was needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kills_under_1200_concurrent_deliveries_lose_nothing_and_dead_letter_nothing() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const DELIVERIES: usize = 1_200;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let port = free_port();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // A lease (20 s) longer than five quick retries (2 s apart) last: the
    // old rule dead-lettered messages under a live lease of a dead process.
    const ENV: &[(&str, &str)] = &[("LEASE_SECONDS", "20")];
    let server = Arc::new(std::sync::Mutex::new(Some(start(&db, port, None, ENV))));
    let base = format!("http://127.0.0.1:{port}");
    let accepted_count = Arc::new(AtomicUsize::new(0));

    // The killer: SIGKILL at 400 and 800 acknowledged deliveries, restart
    // at once on the same file.
    let killer = {
        let (server, accepted_count, db) = (server.clone(), accepted_count.clone(), db.clone());
        tokio::spawn(async move {
            for at in [400, 800] {
                while accepted_count.load(Ordering::SeqCst) < at {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let (server, db) = (server.clone(), db.clone());
                tokio::task::spawn_blocking(move || {
                    let mut guard = server.lock().unwrap();
                    if let Some(s) = guard.as_mut() {
                        // SIGKILL: no graceful shutdown, no drain.
                        unsafe { libc::kill(s.child.id() as i32, libc::SIGKILL) };
                        let _ = s.child.wait();
                    }
                    *guard = None;
                    *guard = Some(start(&db, port, None, ENV));
                })
                .await
                .unwrap();
            }
        })
    };

    let accepted: Vec<String> = futures_util::stream::iter(0..DELIVERIES)
        .map(|i| {
            let (client, base, accepted_count) =
                (client.clone(), base.clone(), accepted_count.clone());
            async move {
                let id = format!("k{i}");
                let body = notification(
                    "message.created",
                    &id,
                    &format!("kt{i}"),
                    "help",
                    Some("<p>hello</p>"),
                );
                let copies = if i % 10 == 0 { 2 } else { 1 };
                let mut ok = false;
                for _ in 0..copies {
                    // Retried until answered 200, like a provider (which
                    // retries timeouts and 5xx for hours).
                    for _ in 0..600 {
                        if let Ok(200) = post(&client, &base, &body).await {
                            ok = true;
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                if ok {
                    accepted_count.fetch_add(1, Ordering::SeqCst);
                }
                ok.then_some(id)
            }
        })
        .buffer_unordered(32)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    killer.await.unwrap();
    assert_eq!(
        accepted.len(),
        DELIVERIES,
        "every delivery was answered 200 in the end"
    );

    // Claims of the killed processes run out and their messages are taken
    // over, with no redrive.
    let deadline = Instant::now() + Duration::from_secs(120);
    let list = loop {
        let list = all_tickets(&client, &base).await;
        if list.len() >= DELIVERIES || Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let ids: HashSet<String> = list
        .iter()
        .map(|t| t["message_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(list.len(), ids.len(), "a message made two tickets");
    let accepted: HashSet<String> = accepted.into_iter().collect();
    let missing: Vec<_> = accepted.difference(&ids).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged but missing: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(list.iter().all(|t| t["message_count"] == 1));
    drop(server.lock().unwrap().take());

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("--db")
        .arg(&db)
        .args(["--json", "dlq", "inspect"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["count"], 0, "dead letters: {report}");
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
