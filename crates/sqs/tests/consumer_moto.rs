//! `SqsConsumer` against SQS on moto (started by `infra/test.sh`): what
//! `triage --queue sqs` polls with. Receives carry attributes and counts,
//! a retry hides the message, a dead letter goes to the DLQ with its
//! reason and leaves the queue.

use std::time::Duration;

use triage_core::envelope::QueuedMessage;
use triage_core::ports::{NotificationQueue, QueueConsumer};
use triage_core::redelivery::{DeadLetter, attributes};
use triage_sqs::SqsQueue;
use triage_sqs::consumer::SqsConsumer;
use triage_testkit::{create_sqs_queue, moto_config};

fn message(body: &str) -> QueuedMessage {
    QueuedMessage {
        entry_id: "e0".into(),
        body: body.into(),
        attributes: vec![("notification_id", "n-1".into())],
        refetch: false,
    }
}

#[tokio::test]
async fn receive_retry_and_dead_letter() {
    let sdk = moto_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = create_sqs_queue(&sqs, "consumed").await;
    let dlq = create_sqs_queue(&sqs, "consumed-dlq").await;
    let queue = SqsQueue::new(&sdk, url.clone(), Duration::from_secs(3));
    let consumer = SqsConsumer::new(queue.clone(), Some(dlq.clone()));
    queue.send_all(&[message("{\"a\":1}")]).await.unwrap();

    let got = consumer.receive(10, 0).await.unwrap();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.body, "{\"a\":1}");
    assert_eq!(m.receive_count, 1);
    assert!(
        m.attributes
            .contains(&("notification_id".into(), "n-1".into()))
    );

    // Hidden for a minute: not received again now.
    consumer
        .retry_at(m, 60_000, true, "later", 0)
        .await
        .unwrap();
    assert!(consumer.receive(10, 0).await.unwrap().is_empty());

    // Dead-lettered: in the DLQ with the reason and the ids, gone from the queue.
    let letter = DeadLetter::new("permanent", "permanent: envelope has no grant id", 1, 5);
    assert!(consumer.dead_letter(m, &letter).await.unwrap());
    let dead = SqsConsumer::new(SqsQueue::new(&sdk, dlq, Duration::from_secs(3)), None);
    let parked = dead.receive(10, 0).await.unwrap();
    assert_eq!(parked.len(), 1);
    let attr = |name: &str| {
        parked[0]
            .attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(attr(attributes::FAILURE).as_deref(), Some("permanent"));
    assert_eq!(
        attr(attributes::REASON).as_deref(),
        Some("permanent: envelope has no grant id")
    );
    assert_eq!(attr("notification_id").as_deref(), Some("n-1"));
}

#[tokio::test]
async fn without_a_dlq_url_the_redrive_policy_is_left_to_do_it() {
    let sdk = moto_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = create_sqs_queue(&sqs, "no-dlq").await;
    let queue = SqsQueue::new(&sdk, url, Duration::from_secs(3));
    let consumer = SqsConsumer::new(queue.clone(), None);
    queue.send_all(&[message("{}")]).await.unwrap();
    let got = consumer.receive(10, 0).await.unwrap();
    let letter = DeadLetter::new("permanent", "x", 1, 5);
    assert!(!consumer.dead_letter(&got[0], &letter).await.unwrap());
}
