//! `fetch_message` against a loopback mock of the Nylas API.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use triage_core::ports::{FetchError, MessageSource};
use triage_nylas::{NylasConfig, NylasError};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MSG: &str = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AmJ3";

fn message_path(message_id: &str) -> String {
    format!("/v3/grants/{GRANT}/messages/{message_id}")
}

fn json(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

fn error_body(status: u16, kind: &str) -> ResponseTemplate {
    let body = format!(
        r#"{{"request_id":"req-{status}","error":{{"type":"{kind}","message":"details"}}}}"#
    );
    ResponseTemplate::new(status).set_body_raw(body.into_bytes(), "application/json")
}

#[tokio::test]
async fn ok_parses_message_and_headers_and_sends_auth() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(message_path(MSG)))
        .and(query_param("fields", "include_headers"))
        .and(header("authorization", "Bearer nyk_test_key"))
        .respond_with(json(MESSAGE_FIXTURE))
        .expect(1)
        .mount(&server)
        .await;
    let nylas = client(test_config(&server));

    let message = nylas
        .fetch_message(GRANT, MSG, in_secs(5))
        .await
        .expect("fetch")
        .expect("message present");

    assert_eq!(message.id, MSG);
    assert_eq!(message.grant_id, GRANT);
    assert_eq!(message.thread_id.as_deref(), Some("AAQkAGI2TG93AAA"));
    assert_eq!(
        message.subject.as_deref(),
        Some("Invoice INV-20311 charged twice (logs attached)")
    );
    assert_eq!(
        message.sender_email().as_deref(),
        Some("tom.becker@example.org")
    );
    assert_eq!(message.folders, vec!["AAMkAGI2TG93AAA=".to_string()]);
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(message.attachments[0].size, 4_812_934);
    let headers = message.headers.as_ref().expect("headers fetched");
    assert_eq!(headers.len(), 4);
    assert_eq!(
        message.header("message-id"),
        Some("<CAF=k2Q7x@mail.example.org>")
    );
    assert_eq!(
        message.header("In-Reply-To"),
        Some("<inv-20311@billing.example.com>")
    );

    let requests = server.received_requests().await.expect("recording on");
    let ua = requests[0]
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ua.contains("inbox-triage"), "user-agent {ua:?}");
    assert_eq!(
        requests[0]
            .headers
            .get("accept")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
}

#[tokio::test]
async fn headers_absent_means_fetched_and_none_present() {
    let server = MockServer::start().await;
    Mock::given(path(message_path("m1")))
        .respond_with(json(
            r#"{"request_id":"r","data":{"id":"m1","subject":"hi"}}"#,
        ))
        .mount(&server)
        .await;
    let message = client(test_config(&server))
        .fetch_message(GRANT, "m1", in_secs(5))
        .await
        .expect("fetch")
        .expect("present");
    assert_eq!(message.headers, Some(vec![]));
    // grant_id missing from the body is filled from the request.
    assert_eq!(message.grant_id, GRANT);
}

#[tokio::test]
async fn not_found_is_none_without_retry() {
    let server = MockServer::start().await;
    Mock::given(path(message_path("gone")))
        .respond_with(error_body(404, "not_found_error"))
        .mount(&server)
        .await;
    let result = client(test_config(&server))
        .fetch_message(GRANT, "gone", in_secs(5))
        .await;
    assert!(matches!(result, Ok(None)), "{result:?}");
    assert_eq!(request_count(&server).await, 1);
}

#[tokio::test]
async fn path_segments_are_percent_encoded() {
    // Microsoft ids carry '=', '/', '+'; each id must stay one path segment.
    let server = MockServer::start().await;
    let id = "AAMkAGI2/TG93+AAA==";
    Mock::given(path(
        "/v3/grants/grant%20with%2Fslash/messages/AAMkAGI2%2FTG93%2BAAA%3D%3D",
    ))
    .and(query_param("fields", "include_headers"))
    .respond_with(json(
        r#"{"request_id":"r","data":{"id":"AAMkAGI2/TG93+AAA=="}}"#,
    ))
    .expect(1)
    .mount(&server)
    .await;
    let message = client(test_config(&server))
        .fetch_message("grant with/slash", id, in_secs(5))
        .await
        .expect("fetch")
        .expect("present");
    assert_eq!(message.id, id);
}

#[tokio::test]
async fn rate_limited_then_ok_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path(message_path(MSG)))
        .respond_with(error_body(429, "rate_limit_error").insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(message_path(MSG)))
        .respond_with(json(MESSAGE_FIXTURE))
        .with_priority(2)
        .mount(&server)
        .await;
    let nylas = client(test_config(&server));

    let started = Instant::now();
    let message = nylas.fetch_message(GRANT, MSG, in_secs(10)).await;
    let elapsed = started.elapsed();

    assert!(matches!(message, Ok(Some(_))), "{message:?}");
    assert_eq!(request_count(&server).await, 2);
    // Backoff alone would be <= 40 ms here: waiting ~1 s means Retry-After was honoured.
    assert!(
        elapsed >= Duration::from_millis(950),
        "waited only {elapsed:?}"
    );
}

#[tokio::test]
async fn server_error_then_ok_retries() {
    let server = MockServer::start().await;
    Mock::given(path(message_path(MSG)))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(message_path(MSG)))
        .respond_with(json(MESSAGE_FIXTURE))
        .with_priority(2)
        .mount(&server)
        .await;
    let result = client(test_config(&server))
        .fetch_message(GRANT, MSG, in_secs(5))
        .await;
    assert!(matches!(result, Ok(Some(_))), "{result:?}");
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn repeated_server_errors_are_transient_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(path(message_path(MSG)))
        .respond_with(error_body(500, "internal_error"))
        .mount(&server)
        .await;
    let nylas = client(NylasConfig {
        max_attempts: 4,
        ..test_config(&server)
    });
    let result = nylas.fetch_message(GRANT, MSG, in_secs(10)).await;
    match result {
        Err(FetchError::Transient(m)) => {
            assert!(m.contains("HTTP 500"), "{m}");
            assert!(m.contains("4 attempt"), "{m}");
        }
        other => panic!("expected Transient, got {other:?}"),
    }
    assert_eq!(request_count(&server).await, 4);

    // The typed error tells why it stopped and the last status.
    match nylas.get_message(GRANT, MSG, in_secs(10)).await {
        Err(NylasError::GaveUp {
            attempts: 4,
            last_status: Some(500),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn retry_after_beyond_deadline_stops_at_once() {
    let server = MockServer::start().await;
    Mock::given(path(message_path(MSG)))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .mount(&server)
        .await;
    let nylas = client(NylasConfig {
        max_attempts: 10,
        ..test_config(&server)
    });
    let started = Instant::now();
    let result = nylas.fetch_message(GRANT, MSG, in_secs(2)).await;
    assert!(
        matches!(&result, Err(FetchError::Throttled { retry_after_ms: 30_000, detail: m }) if m.contains("HTTP 429") && m.contains("deadline")),
        "{result:?}"
    );
    assert_eq!(request_count(&server).await, 1);
    assert!(started.elapsed() < Duration::from_millis(1000));
}

#[tokio::test]
async fn short_deadline_stops_backoff_early() {
    let server = MockServer::start().await;
    Mock::given(path(message_path(MSG)))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let nylas = client(NylasConfig {
        max_attempts: 50,
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(100),
        ..test_config(&server)
    });
    let started = Instant::now();
    let deadline = started + Duration::from_millis(350);
    let result = nylas.fetch_message(GRANT, MSG, deadline).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(&result, Err(FetchError::Transient(m)) if m.contains("deadline")),
        "{result:?}"
    );
    // Waits of 50-100 ms fit 3 to 8 attempts before the deadline, far fewer than 50.
    let requests = request_count(&server).await;
    assert!((2..=8).contains(&requests), "{requests} requests");
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
}

#[tokio::test]
async fn past_deadline_sends_nothing() {
    let server = MockServer::start().await;
    let result = client(test_config(&server))
        .fetch_message(GRANT, MSG, Instant::now())
        .await;
    assert!(
        matches!(result, Err(FetchError::Transient(_))),
        "{result:?}"
    );
    assert_eq!(request_count(&server).await, 0);
}

#[tokio::test]
async fn client_errors_are_permanent_without_retry() {
    for (status, kind) in [
        (401, "unauthorized"),
        (403, "forbidden"),
        (400, "invalid_request_error"),
        (422, "invalid_request_error"),
    ] {
        let server = MockServer::start().await;
        Mock::given(path(message_path(MSG)))
            .respond_with(error_body(status, kind))
            .mount(&server)
            .await;
        let result = client(test_config(&server))
            .fetch_message(GRANT, MSG, in_secs(5))
            .await;
        match result {
            Err(FetchError::Permanent(m)) => {
                assert!(m.contains(&format!("HTTP {status}")), "{m}");
                assert!(m.contains(kind), "{m}");
                assert!(m.contains(&format!("req-{status}")), "{m}");
            }
            other => panic!("{status}: expected Permanent, got {other:?}"),
        }
        assert_eq!(request_count(&server).await, 1, "status {status}");
    }
}

#[tokio::test]
async fn malformed_json_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(path(message_path(MSG)))
        .respond_with(json(r#"{"request_id":"r","data":{"id":"#))
        .mount(&server)
        .await;
    let result = client(test_config(&server))
        .fetch_message(GRANT, MSG, in_secs(5))
        .await;
    assert!(
        matches!(result, Err(FetchError::Permanent(_))),
        "{result:?}"
    );
    assert_eq!(request_count(&server).await, 1);

    // Valid JSON of the wrong shape (no `data`) is malformed too.
    let server = MockServer::start().await;
    Mock::given(path(message_path(MSG)))
        .respond_with(json(r#"{"request_id":"r"}"#))
        .mount(&server)
        .await;
    let result = client(test_config(&server))
        .fetch_message(GRANT, MSG, in_secs(5))
        .await;
    assert!(
        matches!(result, Err(FetchError::Permanent(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn oversized_body_with_content_length_is_permanent() {
    let server = MockServer::start().await;
    let big = format!(
        r#"{{"request_id":"r","data":{{"id":"m","body":"{}"}}}}"#,
        "x".repeat(64 * 1024)
    );
    Mock::given(path(message_path(MSG)))
        .respond_with(json(&big))
        .mount(&server)
        .await;
    let nylas = client(NylasConfig {
        max_body_bytes: 16 * 1024,
        ..test_config(&server)
    });
    let result = nylas.get_message(GRANT, MSG, in_secs(5)).await;
    assert!(
        matches!(result, Err(NylasError::BodyTooLarge { limit: 16384 })),
        "{result:?}"
    );
    assert!(matches!(
        nylas.fetch_message(GRANT, MSG, in_secs(5)).await,
        Err(FetchError::Permanent(_))
    ));
    // Permanent: no retry (one request per call).
    assert_eq!(request_count(&server).await, 2);
}

/// A chunked body with no Content-Length, far larger than the cap, from a
/// raw loopback server: the client must stop reading at the cap, not buffer it all.
#[tokio::test]
async fn oversized_streamed_body_is_cut_off_while_reading() {
    const CHUNK: usize = 64 * 1024;
    const MAX_CHUNKS: usize = 1024; // 64 MiB at most, then the server stops by itself.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return 0usize;
        };
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return 0,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head).await.is_err() {
            return 0;
        }
        let payload = vec![b' '; CHUNK];
        let mut sent = 0usize;
        for _ in 0..MAX_CHUNKS {
            let framed = [
                format!("{CHUNK:x}\r\n").into_bytes(),
                payload.clone(),
                b"\r\n".to_vec(),
            ]
            .concat();
            if socket.write_all(&framed).await.is_err() {
                break;
            }
            sent += CHUNK;
        }
        sent
    });

    let nylas = client(NylasConfig {
        base_url: format!("http://{addr}"),
        max_body_bytes: 256 * 1024,
        max_attempts: 1,
        request_timeout: Duration::from_secs(10),
        ..NylasConfig::new(API_KEY)
    });
    let started = Instant::now();
    let result = nylas.get_message(GRANT, MSG, in_secs(10)).await;
    assert!(
        matches!(result, Err(NylasError::BodyTooLarge { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(nylas);
    let sent = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops once the client hangs up")
        .expect("server task");
    assert!(
        sent < CHUNK * MAX_CHUNKS,
        "server wrote the whole {sent}-byte stream: the client kept reading"
    );
}

#[tokio::test]
async fn timeouts_are_retried_then_transient() {
    let server = MockServer::start().await;
    Mock::given(path(message_path(MSG)))
        .respond_with(json(MESSAGE_FIXTURE).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let nylas = client(NylasConfig {
        request_timeout: Duration::from_millis(100),
        max_attempts: 2,
        ..test_config(&server)
    });
    let result = nylas.fetch_message(GRANT, MSG, in_secs(5)).await;
    assert!(
        matches!(&result, Err(FetchError::Transient(m)) if m.contains("timeout")),
        "{result:?}"
    );
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn connection_refused_is_transient() {
    // Bind then free a loopback port so nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let nylas = client(NylasConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        max_attempts: 2,
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(10),
        ..NylasConfig::new(API_KEY)
    });
    let result = nylas.fetch_message(GRANT, MSG, in_secs(5)).await;
    assert!(
        matches!(&result, Err(FetchError::Transient(m)) if m.contains("2 attempt")),
        "{result:?}"
    );
}

#[tokio::test]
async fn empty_ids_are_rejected_before_any_request() {
    let server = MockServer::start().await;
    let nylas = client(test_config(&server));
    for (grant, id) in [("", "m"), (GRANT, ""), (GRANT, "..")] {
        let result = nylas.fetch_message(grant, id, in_secs(5)).await;
        assert!(
            matches!(result, Err(FetchError::Permanent(_))),
            "{result:?}"
        );
    }
    assert_eq!(request_count(&server).await, 0);
}
