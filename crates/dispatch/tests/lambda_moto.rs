//! The `dispatch` function's batches against real components: the tickets
//! table's stream as moto records it after real ticket writes (including a
//! worker that "crashed" right after writing: nothing was dispatched, the
//! stream still holds the event), the events dead-letter and retry queues
//! on moto SQS, destinations on wiremock.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};
use serde_json::{Value, json};
use triage_core::events::TicketEvent;
use triage_core::ports::TicketStore;
use triage_core::routing::DestinationKind;
use triage_destinations::{Endpoint, HttpDestinations};
use triage_dispatch::Dispatcher;
use triage_dispatch::batch::{Batch, BatchResponse};
use triage_dynamodb::DynamoTickets;
use triage_sqs::SqsQueue;
use triage_testkit::contract::sample_ticket;
use triage_testkit::{create_dynamo_table, create_sqs_queue, moto_config};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RULES: &str = r#"
[destinations.chat]
type = "slack"
url_var = "CHAT_URL"

[destinations.hook]
type = "webhook"
url_var = "HOOK_URL"
signing_secret_var = "HOOK_SECRET"

[routes]
default = ["chat", "hook"]
"#;

fn now_ms() -> i64 {
    triage_testkit::contract::now_ms()
}

fn dispatcher(server: &MockServer) -> Dispatcher<HttpDestinations> {
    let rules = triage_core::classify::Rules::from_toml(RULES).unwrap();
    let mut endpoints = HashMap::new();
    endpoints.insert(
        "chat".to_string(),
        Endpoint::new(
            DestinationKind::Slack,
            &format!("{}/chat", server.uri()),
            None,
        )
        .unwrap(),
    );
    endpoints.insert(
        "hook".to_string(),
        Endpoint::new(
            DestinationKind::Webhook,
            &format!("{}/hook", server.uri()),
            Some(b"k".to_vec()),
        )
        .unwrap(),
    );
    Dispatcher::new(
        rules.routing().clone(),
        HttpDestinations::new(endpoints).unwrap(),
    )
}

async fn mount(server: &MockServer, at: &str, status: u16) {
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status))
        .mount(server)
        .await;
}

async fn count(server: &MockServer, at: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == at)
        .count()
}

/// The events the signed webhook destination received.
async fn bodies(server: &MockServer, at: &str) -> Vec<TicketEvent> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == at)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// A stream attribute as Lambda's DynamoDB JSON.
fn lambda_json(v: &StreamValue) -> Value {
    match v {
        StreamValue::S(s) => json!({"S": s}),
        StreamValue::N(n) => json!({"N": n}),
        StreamValue::Bool(b) => json!({"BOOL": b}),
        StreamValue::Null(_) => json!({"NULL": true}),
        StreamValue::L(l) => json!({"L": l.iter().map(lambda_json).collect::<Vec<_>>()}),
        StreamValue::M(m) => json!({"M": m
            .iter()
            .map(|(k, v)| (k.clone(), lambda_json(v)))
            .collect::<serde_json::Map<_, _>>()}),
        StreamValue::Ss(ss) => json!({"SS": ss}),
        StreamValue::Ns(ns) => json!({"NS": ns}),
        other => panic!("a ticket holds no {other:?}"),
    }
}

fn image(item: Option<&HashMap<String, StreamValue>>) -> Option<Value> {
    item.map(|i| Value::Object(i.iter().map(|(k, v)| (k.clone(), lambda_json(v))).collect()))
}

/// Every record of the table's stream, as the Lambda event the stream
/// event source would send.
async fn stream_batch(sdk: &aws_config::SdkConfig, table: &str) -> Batch {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
    let arn = ddb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .latest_stream_arn
        .expect("the table has a stream");
    let shards = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap()
        .shards
        .unwrap_or_default();
    let mut records = Vec::new();
    for shard in shards {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id.unwrap())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(it) = iterator {
            let out = streams
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .unwrap();
            let got = out.records.unwrap_or_default();
            if got.is_empty() {
                break;
            }
            for r in got {
                let change = r.dynamodb.unwrap();
                let mut d = json!({"SequenceNumber": change.sequence_number.unwrap()});
                if let Some(new) = image(change.new_image.as_ref()) {
                    d["NewImage"] = new;
                }
                if let Some(old) = image(change.old_image.as_ref()) {
                    d["OldImage"] = old;
                }
                records.push(json!({
                    "eventSource": "aws:dynamodb",
                    "eventName": r.event_name.map(|n| n.as_str().to_string()),
                    "dynamodb": d,
                }));
            }
            iterator = out.next_shard_iterator;
        }
    }
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

async fn tickets_table_with_stream(sdk: &aws_config::SdkConfig) -> String {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let table = create_dynamo_table(&ddb, "tickets-stream").await;
    ddb.update_table()
        .table_name(&table)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    table
}

#[tokio::test]
async fn every_ticket_write_reaches_the_destinations_through_the_stream() {
    let sdk = moto_config().await;
    let table = tickets_table_with_stream(&sdk).await;
    let store = DynamoTickets::new(&sdk, &table);
    let at = now_ms() / 1_000;
    // The worker writes a new ticket, a reply, and a redelivery of the
    // first message, then dies: nothing was dispatched.
    let first = sample_ticket("g1", "m1", Some("th1"), at);
    store.write(&first).await.unwrap();
    store
        .write(&sample_ticket("g1", "m2", Some("th1"), at + 60))
        .await
        .unwrap();
    store.write(&first).await.unwrap();

    let server = MockServer::start().await;
    mount(&server, "/chat", 200).await;
    mount(&server, "/hook", 200).await;
    let dlq = SqsQueue::new(
        &sdk,
        create_sqs_queue(&aws_sdk_sqs::Client::new(&sdk), "events-dlq").await,
        std::time::Duration::from_secs(5),
    );
    let batch = stream_batch(&sdk, &table).await;
    assert!(
        batch.records.len() >= 2,
        "{} stream records",
        batch.records.len()
    );
    let resp = dispatcher(&server)
        .handle_batch(&batch, &dlq, &now_ms)
        .await;
    assert_eq!(resp, BatchResponse::default());

    let hooks = bodies(&server, "/hook").await;
    let kinds: Vec<&str> = hooks.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["ticket.created", "message.added"],
        "one event per write, none for the redelivery"
    );
    assert!(hooks.iter().all(|e| e.ticket_id == first.id));
    // The creation is carried as a marker and rebuilt from the stream's
    // image of the ticket: the event the worker's write describes.
    let expected = triage_core::events::for_write(
        &first,
        &triage_core::ticket::TicketWrite::Created {
            ticket_id: first.id.clone(),
        },
    )
    .unwrap();
    assert_eq!(hooks[0], expected);
    assert_eq!(hooks[1].message_id, "m2");
    assert_eq!(count(&server, "/chat").await, 2);

    // The stream delivers at least once: the same batch again delivers the
    // same event ids, which receivers deduplicate on.
    dispatcher(&server)
        .handle_batch(&batch, &dlq, &now_ms)
        .await;
    let again = bodies(&server, "/hook").await;
    assert_eq!(again[2].id, hooks[0].id);
}

#[tokio::test]
async fn an_undeliverable_event_is_parked_with_its_reason_and_redriven_to_the_rest() {
    let sdk = moto_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dlq_url = create_sqs_queue(&sqs, "events-dlq").await;
    let dlq = SqsQueue::new(&sdk, dlq_url.clone(), std::time::Duration::from_secs(5));
    let server = MockServer::start().await;
    mount(&server, "/chat", 200).await;
    mount(&server, "/hook", 410).await;

    let t = sample_ticket("g1", "m1", None, now_ms() / 1_000);
    let event = triage_core::events::for_write(
        &t,
        &triage_core::ticket::TicketWrite::Created {
            ticket_id: t.id.clone(),
        },
    )
    .unwrap();
    let record = json!({
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "SequenceNumber": "100",
            "NewImage": {"pk": {"S": format!("ticket#{}", t.id)},
                         "last_event": {"S": serde_json::to_string(&event).unwrap()}},
        },
    });
    let batch: Batch = serde_json::from_value(json!({"Records": [record]})).unwrap();
    let resp = dispatcher(&server)
        .handle_batch(&batch, &dlq, &now_ms)
        .await;
    assert_eq!(
        resp,
        BatchResponse::default(),
        "parked, so the stream moves on"
    );

    let parked = sqs
        .receive_message()
        .queue_url(&dlq_url)
        .message_attribute_names("All")
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(parked.len(), 1);
    let m = &parked[0];
    let attr = |name: &str| {
        m.message_attributes()
            .and_then(|a| a.get(name))
            .and_then(|v| v.string_value())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(attr("event_id"), event.id);
    assert_eq!(attr("delivered"), r#"["chat"]"#);
    assert!(
        attr("failure_reason").contains("hook: permanent: HTTP 410"),
        "{}",
        attr("failure_reason")
    );
    assert_eq!(
        serde_json::from_str::<TicketEvent>(m.body().unwrap()).unwrap(),
        event
    );

    // Redriven (as `triage dlq redrive` does: body and attributes to the
    // retry queue) once the receiver is fixed: only the hook gets it.
    server.reset().await;
    mount(&server, "/chat", 200).await;
    mount(&server, "/hook", 200).await;
    let retry = json!({
        "eventSource": "aws:sqs",
        "messageId": "m-1",
        "body": m.body().unwrap(),
        "messageAttributes": {"delivered": {"stringValue": attr("delivered"), "dataType": "String"}},
    });
    let batch: Batch = serde_json::from_value(json!({"Records": [retry]})).unwrap();
    let resp = dispatcher(&server)
        .handle_batch(&batch, &dlq, &now_ms)
        .await;
    assert_eq!(resp, BatchResponse::default());
    assert_eq!(bodies(&server, "/hook").await.len(), 1);
    assert_eq!(count(&server, "/chat").await, 0);
}

#[tokio::test]
async fn what_cannot_be_parked_or_read_is_left_to_the_source() {
    let sdk = moto_config().await;
    // A dead-letter queue that does not exist: parking fails.
    let missing = format!(
        "{}/000000000000/no-such-queue",
        triage_testkit::moto_endpoint()
    );
    let dlq = SqsQueue::new(&sdk, missing, std::time::Duration::from_secs(5));
    let server = MockServer::start().await;
    mount(&server, "/chat", 200).await;
    mount(&server, "/hook", 400).await;
    let t = sample_ticket("g1", "m1", None, 1_764_547_200);
    let event = triage_core::events::for_write(
        &t,
        &triage_core::ticket::TicketWrite::Created {
            ticket_id: t.id.clone(),
        },
    )
    .unwrap();
    let records = json!({"Records": [
        {"eventSource": "aws:sqs", "messageId": "undeliverable", "body": serde_json::to_string(&event).unwrap()},
        {"eventSource": "aws:sqs", "messageId": "garbled", "body": "{not an event"},
        {"eventSource": "aws:dynamodb", "dynamodb": {"SequenceNumber": "7",
            "NewImage": {"last_event": {"S": "x"}}, "OldImage": {"last_event": {"S": "x"}}}},
    ]});
    let batch: Batch = serde_json::from_value(records).unwrap();
    let resp = dispatcher(&server)
        .handle_batch(&batch, &dlq, &now_ms)
        .await;
    let mut failed: Vec<&str> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        ["garbled", "undeliverable"],
        "an unchanged last_event is no event"
    );
}
