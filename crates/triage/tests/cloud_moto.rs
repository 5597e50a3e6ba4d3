//! `triage serve --store dynamodb --queue sqs`: the same binary exercising
//! the cloud adapters, against moto on loopback (started by infra/test.sh).

mod common;

use common::{free_port, notification, post, start_with, wait_for};
use triage_testkit::{create_sqs_queue, moto_config, moto_endpoint};

async fn table(client: &aws_sdk_dynamodb::Client, prefix: &str) -> String {
    triage_testkit::create_dynamo_table(client, prefix).await
}

#[tokio::test]
async fn serve_on_dynamodb_and_sqs_makes_one_ticket_per_message() {
    let endpoint = moto_endpoint();
    let sdk = moto_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let idem = table(&ddb, "cli-idem").await;
    let tickets = table(&ddb, "cli-tickets").await;
    let queue_url = create_sqs_queue(&aws_sdk_sqs::Client::new(&sdk), "cli-q").await;

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_with(
        &dir.path().join("unused.db"),
        port,
        None,
        &[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("QUEUE_URL", queue_url.as_str()),
            ("IDEMPOTENCY_TABLE", idem.as_str()),
            ("TICKETS_TABLE", tickets.as_str()),
        ],
        &["--store", "dynamodb", "--queue", "sqs"],
    );
    let client = reqwest::Client::new();
    let body = notification(
        "message.created",
        "c1",
        "ct1",
        "Refund please",
        Some("<p>refund the invoice</p>"),
    );
    for _ in 0..2 {
        assert_eq!(post(&client, &server.base, &body).await.unwrap(), 200);
    }
    let list = wait_for(&client, &server.base, |t| !t.is_empty()).await;
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["category"], "billing");
    // Give the duplicate time to be processed, then check it made nothing new.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let again = wait_for(&client, &server.base, |_| true).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["message_count"], 1);
    // Nothing was written to the embedded database.
    assert!(!dir.path().join("unused.db").exists());
}
