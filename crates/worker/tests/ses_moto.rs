//! Amazon SES receiving through the worker (#16): S3's notification on the
//! queue, the raw message read from moto's S3 (`triage-s3`), parsed,
//! judged by SES's verdicts, filtered, classified and written, on the
//! in-memory store. Real MIME from public corpora (`fixtures/email`, with
//! their licences) behind the headers SES prepends. Needs moto
//! (AWS_ENDPOINT_URL) and fails without it.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use serde_json::json;
use triage_core::classify::Rules;
use triage_core::filters::SkipReason;
use triage_core::inbound_email::{mailbox_key, message_key};
use triage_core::ports::{TicketFilter, TicketStore};
use triage_core::ticket::Ticket;
use triage_memory::{MemorySource, MemoryStore};
use triage_s3::S3RawMail;
use triage_testkit::{moto_config, unique_name};
use triage_worker::{Outcome, Worker, WorkerSettings};

const NOW: i64 = 1_764_547_200_000;
const SUPPORT: &str = "support@acme.example";

type SesWorker = Worker<
    MemoryStore,
    MemoryStore,
    MemorySource,
    triage_core::acknowledgement::NoAcknowledgements,
    S3RawMail,
>;

struct Env {
    worker: SesWorker,
    store: MemoryStore,
    s3: S3RawMail,
    bucket: String,
}

async fn env_with(rules: Rules, raw_mail_max_bytes: usize) -> Env {
    let sdk = moto_config().await;
    let s3 = S3RawMail::new(&sdk);
    let bucket = unique_name("ses-inbound");
    s3.client()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket: {e:?}"));
    let store = MemoryStore::new();
    let worker = Worker {
        idempotency: store.clone(),
        tickets: store.clone(),
        source: None::<MemorySource>,
        rules,
        settings: WorkerSettings {
            support_addresses: vec![SUPPORT.into()],
            raw_mail_max_bytes,
            ..WorkerSettings::default()
        },
        acks: triage_core::acknowledgement::NoAcknowledgements,
        raw_mail: S3RawMail::new(&sdk),
    };
    Env {
        worker,
        store,
        s3,
        bucket,
    }
}

async fn env() -> Env {
    env_with(Rules::default_rules(), 10 * 1024 * 1024).await
}

/// The headers SES prepends (its own `Received` naming the recipient, the
/// verdicts), then the message as the sender wrote it.
fn as_ses_wrote(original: &[u8], spam: &str, virus: &str) -> Vec<u8> {
    let mut raw = format!(
        "Return-Path: <sender@example.com>\r\n\
Received: from mail.example.com (mail.example.com [192.0.2.1]) by inbound-smtp.us-east-1.amazonaws.com with SMTP id 0a1b2c3d4e5f for {SUPPORT}; Thu, 03 Dec 2026 10:00:00 +0000 (UTC)\r\n\
X-SES-Spam-Verdict: {spam}\r\n\
X-SES-Virus-Verdict: {virus}\r\n\
Received-SPF: pass (spfCheck: domain of example.com designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;\r\n\
Authentication-Results: amazonses.com; spf=pass (spfCheck: domain of example.com designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com;\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(original);
    raw
}

fn fixture(path: &str) -> Vec<u8> {
    let at = format!("{}/../../fixtures/email/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&at).unwrap_or_else(|e| panic!("{at}: {e}"))
}

/// S3's notification of `key` in `bucket`, as the queue receives it.
fn notification(bucket: &str, key: &str, size: usize) -> String {
    let encoded: String = key
        .bytes()
        .map(|b| match b {
            b' ' => "+".to_string(),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-12-03T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "inbound",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encoded, "size": size, "sequencer": "0061A2B3C4D5E6F7A8"}}
    }]})
    .to_string()
}

impl Env {
    async fn put(&self, key: &str, raw: Vec<u8>) -> String {
        let size = raw.len();
        self.s3
            .client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(raw))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put object: {e:?}"));
        notification(&self.bucket, key, size)
    }

    async fn deliver(&self, body: &str) -> Outcome {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (_, result) = self.worker.process(body, NOW, deadline).await;
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn ticket(&self, id: &str) -> Ticket {
        self.store
            .list(&TicketFilter::default())
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("no ticket {id}"))
    }
}

fn created(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Created { ticket_id, .. } => ticket_id.clone(),
        other => panic!("not created: {other:?}"),
    }
}

fn rule(t: &Ticket, name: &str) -> Vec<String> {
    t.applied_rules
        .iter()
        .filter(|r| r.rule == name)
        .map(|r| r.decision.clone())
        .collect()
}

#[tokio::test]
async fn a_multipart_quoted_printable_message_becomes_a_ticket_keyed_like_the_json_family() {
    let e = env().await;
    let raw = as_ses_wrote(&fixture("normal/quoted-printable.eml"), "PASS", "PASS");
    let body = e.put("inbound/qp 1", raw).await;
    let id = created(&e.deliver(&body).await);
    let t = e.ticket(&id).await;
    assert_eq!(t.subject, "This message contains very long links in html");
    assert_eq!(t.grant_id, mailbox_key(SUPPORT));
    assert_eq!(
        Some(t.message_id.clone()),
        message_key("<CAKsfaBUx-V4rGeteUi3mDc_OLv2-2tSp_RGdJ5NtQOpb59dVAg@mail.gmail.com>")
    );
    assert_eq!(t.requester.email, "bob@example.com");
    assert!(rule(&t, "ses_verdict").is_empty());

    // The same notification again: a duplicate. The same mail in another
    // object (stored twice): the same ticket, by its Message-ID.
    assert!(matches!(e.deliver(&body).await, Outcome::Duplicate { .. }));
    let again = e
        .put(
            "inbound/qp-2",
            as_ses_wrote(&fixture("normal/quoted-printable.eml"), "PASS", "PASS"),
        )
        .await;
    assert_eq!(
        e.deliver(&again).await,
        Outcome::AlreadyRecorded { ticket_id: id }
    );
}

#[tokio::test]
async fn attachments_and_base64_are_listed_with_their_metadata() {
    let e = env().await;
    let body = e
        .put(
            "inbound/pdf",
            as_ses_wrote(&fixture("normal/attached-pdf.eml"), "PASS", "PASS"),
        )
        .await;
    let t = e.ticket(&created(&e.deliver(&body).await)).await;
    let pdf = t
        .attachments
        .iter()
        .find(|a| a.content_type.starts_with("application/pdf") && a.filename == "test.pdf")
        .unwrap_or_else(|| panic!("{:?}", t.attachments));
    assert_eq!(pdf.size, 6940);
    let hash = pdf.sha256.as_deref().unwrap_or_default();
    assert!(hash.len() == 64 && hash.starts_with("9bceec6f"), "{hash}");
    let body = e
        .put(
            "inbound/oe",
            as_ses_wrote(&fixture("normal/outlook-express.eml"), "PASS", "PASS"),
        )
        .await;
    let t = e.ticket(&created(&e.deliver(&body).await)).await;
    assert!(!t.attachments.is_empty());
}

#[tokio::test]
async fn an_inline_image_is_listed_as_inline() {
    let e = env().await;
    let body = e
        .put(
            "inbound/iphone",
            as_ses_wrote(&fixture("normal/iphone.eml"), "PASS", "PASS"),
        )
        .await;
    let t = e.ticket(&created(&e.deliver(&body).await)).await;
    let image = t
        .attachments
        .iter()
        .find(|a| a.content_type.starts_with("image/jpeg"))
        .unwrap_or_else(|| panic!("{:?}", t.attachments));
    assert!(image.inline, "{image:?}");
    assert!(image.size > 0);
}

#[tokio::test]
async fn a_latin1_body_is_decoded() {
    let e = env().await;
    let mut original = b"From: Gr\xfc\xdfe <kunde@example.de>\r\nTo: support@acme.example\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=\r\nMessage-ID: <latin1@example.de>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
    original.extend_from_slice(b"Die Rechnung f\xfcr M\xe4rz ist falsch.\r\n");
    let body = e
        .put("inbound/latin1", as_ses_wrote(&original, "PASS", "PASS"))
        .await;
    let t = e.ticket(&created(&e.deliver(&body).await)).await;
    assert_eq!(t.subject, "Grüße aus Köln");
    assert!(t.snippet.contains("für März"), "{}", t.snippet);
    let body = e
        .put(
            "inbound/iso",
            as_ses_wrote(&fixture("normal/text-only.eml"), "PASS", "PASS"),
        )
        .await;
    let t = e.ticket(&created(&e.deliver(&body).await)).await;
    assert_eq!(t.subject, "Testing message parsing");
}

#[tokio::test]
async fn a_bounce_is_skipped() {
    let e = env().await;
    let body = e
        .put(
            "inbound/dsn",
            as_ses_wrote(&fixture("bounce/gmail-invalid-address.eml"), "PASS", "PASS"),
        )
        .await;
    assert!(matches!(
        e.deliver(&body).await,
        Outcome::Skipped {
            reason: SkipReason::Bounce(_)
        }
    ));
}

#[tokio::test]
async fn verdicts_follow_the_policy() {
    let e = env().await;
    let virus = e
        .put(
            "inbound/virus",
            as_ses_wrote(&fixture("normal/multipart.eml"), "PASS", "FAIL"),
        )
        .await;
    assert_eq!(
        e.deliver(&virus).await,
        Outcome::Skipped {
            reason: SkipReason::Verdict("virus")
        }
    );
    // Spam is flagged by default ...
    let spam = e
        .put(
            "inbound/spam",
            as_ses_wrote(&fixture("normal/8bitmime.eml"), "FAIL", "PASS"),
        )
        .await;
    let t = e.ticket(&created(&e.deliver(&spam).await)).await;
    assert_eq!(rule(&t, "ses_verdict"), ["spam=fail flagged"]);

    // ... and skipped when the rules file says so.
    let strict = Rules::from_toml("[ses]\nspam = \"skip\"\n").unwrap();
    let e = env_with(strict, 10 * 1024 * 1024).await;
    let spam = e
        .put(
            "inbound/spam",
            as_ses_wrote(&fixture("normal/8bitmime.eml"), "FAIL", "PASS"),
        )
        .await;
    assert_eq!(
        e.deliver(&spam).await,
        Outcome::Skipped {
            reason: SkipReason::Verdict("spam")
        }
    );
}

#[tokio::test]
async fn a_message_over_the_cap_is_read_up_to_it_and_says_so() {
    let e = env_with(Rules::default_rules(), 200_000).await;
    let raw = as_ses_wrote(&fixture("normal/torture.eml"), "PASS", "PASS");
    let size = raw.len();
    assert!(size > 1_000_000);
    let body = e.put("inbound/torture", raw).await;
    let t = e.ticket(&created(&e.deliver(&body).await)).await;
    assert_eq!(t.subject, "Multi-media mail demonstration");
    let notes = rule(&t, "raw_mail");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains(&format!("read 200000 of {size} bytes")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn what_is_not_mail_is_acknowledged_and_a_missing_object_is_gone() {
    let e = env().await;
    let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent",
                      "Time": "2026-12-03T10:00:00.000Z", "Bucket": e.bucket})
    .to_string();
    assert_eq!(
        e.deliver(&test).await,
        Outcome::Skipped {
            reason: SkipReason::NotMail
        }
    );
    let setup = e
        .put("inbound/AMAZON_SES_SETUP_NOTIFICATION", b"setup".to_vec())
        .await;
    assert_eq!(
        e.deliver(&setup).await,
        Outcome::Skipped {
            reason: SkipReason::NotMail
        }
    );
    let missing = notification(&e.bucket, "inbound/never-written", 10);
    assert_eq!(e.deliver(&missing).await, Outcome::Gone);
    // Not a notification we can use: a permanent failure (dead-lettered
    // with its reason), never a panic.
    let deadline = Instant::now() + Duration::from_secs(5);
    let bad = r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#;
    let (_, result) = e.worker.process(bad, NOW, deadline).await;
    assert!(
        matches!(result, Err(triage_worker::Failure::Permanent(_))),
        "{result:?}"
    );
}

/// The real path on moto: the bucket notifies an SQS queue (S3 sends its
/// test message when the configuration is saved), an object is written,
/// and the worker gets the queue's messages as they are.
#[tokio::test]
async fn notifications_from_moto_s3_through_sqs_make_the_ticket() {
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};

    let e = env().await;
    let sdk = moto_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = triage_testkit::create_sqs_queue(&sqs, "ses-notify").await;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("queue ARN");
    e.s3.client()
        .put_bucket_notification_configuration()
        .bucket(&e.bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn(arn)
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("notification configuration: {err:?}"));
    e.put(
        "inbound/from moto+1",
        as_ses_wrote(&fixture("normal/quoted-printable.eml"), "PASS", "PASS"),
    )
    .await;

    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let got = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        for m in got {
            outcomes.push(e.deliver(m.body().unwrap_or_default()).await);
        }
        if outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Created { .. }))
        {
            break;
        }
    }
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Created { .. })),
        "{outcomes:?}"
    );
    assert!(outcomes.iter().all(|o| matches!(
        o,
        Outcome::Created { .. }
            | Outcome::Skipped {
                reason: SkipReason::NotMail
            }
    )));
}
