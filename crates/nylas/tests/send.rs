//! Acknowledgements through the Nylas send endpoint, against wiremock
//! answering like the API: the request's shape, the idempotency key kept
//! across a 429 retry, permanent refusals, and the provider check.

mod common;

use common::{GRANT, client, in_secs, test_config};
use triage_core::acknowledgement::{AckSender, Acknowledgement, ReplyVia, SendError};
use triage_core::message::Participant;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ack() -> Acknowledgement {
    Acknowledgement {
        to: Participant {
            name: "Ann".into(),
            email: "ann@example.com".into(),
        },
        subject: "Re: Refund [t_1]".into(),
        text: "Thank you for writing to us.".into(),
        headers: vec![
            ("Auto-Submitted", "auto-replied".into()),
            ("X-Auto-Response-Suppress", "All".into()),
            ("In-Reply-To", "<a1@example.com>".into()),
            ("References", "<a1@example.com>".into()),
        ],
        ticket_id: "t_1".into(),
    }
}

fn send_path() -> String {
    format!("/v3/grants/{GRANT}/messages/send")
}

const OK: &str = r#"{"request_id":"r1","data":{"id":"sent-1","grant_id":"g"}}"#;

#[tokio::test]
async fn a_reply_in_the_thread_with_loop_headers_and_one_key_across_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .and(header("idempotency-key", "ack#t_1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(OK))
        .mount(&server)
        .await;
    let c = client(test_config(&server));
    c.send_reply(GRANT, "msg-42", &ack(), in_secs(5))
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].headers.get("idempotency-key"),
        requests[1].headers.get("idempotency-key"),
        "a retry repeats the key, so Nylas sends once"
    );
    let body: serde_json::Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(body["reply_to_message_id"], "msg-42");
    assert_eq!(body["is_plaintext"], true);
    assert_eq!(body["to"][0]["email"], "ann@example.com");
    let custom: Vec<(String, String)> = body["custom_headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_string(),
                h["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        custom,
        [
            ("Auto-Submitted".to_string(), "auto-replied".to_string()),
            ("X-Auto-Response-Suppress".to_string(), "All".to_string()),
        ],
        "threading headers are Nylas's own (reply_to_message_id)"
    );
}

#[tokio::test]
async fn refusals_and_other_providers_are_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            r#"{"request_id":"r2","error":{"type":"invalid_request_error","message":"bad"}}"#,
        ))
        .mount(&server)
        .await;
    let c = client(test_config(&server));
    let via = ReplyVia {
        provider: "nylas",
        grant_id: GRANT,
        message_id: "msg-42",
    };
    let e = c.send(&via, &ack()).await.unwrap_err();
    assert!(matches!(e, SendError::Permanent(_)), "{e:?}");
    assert!(!e.to_string().contains("ann@example.com"), "{e}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "a 400 is not retried"
    );

    let inbound = ReplyVia {
        provider: "inbound",
        ..via
    };
    let e = c.send(&inbound, &ack()).await.unwrap_err();
    assert!(matches!(e, SendError::Permanent(_)), "{e:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_transient() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(send_path()))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let c = client(test_config(&server));
    let via = ReplyVia {
        provider: "nylas",
        grant_id: GRANT,
        message_id: "msg-42",
    };
    let e = c.send(&via, &ack()).await.unwrap_err();
    assert!(matches!(e, SendError::Transient(_)), "{e:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}
