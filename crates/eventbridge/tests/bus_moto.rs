//! The event bus against moto: an event published by [`EventBus`] reaches
//! a subscriber (a rule on the bus with an SQS target) with its type,
//! source and detail; a bus that does not exist is a permanent failure.

use std::time::{Duration, Instant};

use triage_core::dispatch::EventSink;
use triage_core::events::{TicketEvent, for_write};
use triage_core::ticket::TicketWrite;
use triage_eventbridge::{EventBus, SOURCE};
use triage_testkit::contract::sample_ticket;
use triage_testkit::{moto_config, unique_name};

fn event() -> TicketEvent {
    let t = sample_ticket("g1", "m1", None, 1_764_547_200);
    for_write(
        &t,
        &TicketWrite::Created {
            ticket_id: t.id.clone(),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn a_published_event_reaches_a_rule_subscriber() {
    let sdk = moto_config().await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let bus = unique_name("bus");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(unique_name("subscriber"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let rule = unique_name("created");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(format!(
            r#"{{"source":["{SOURCE}"],"detail-type":["ticket.created"]}}"#
        ))
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("q")
                .arn(&queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let e = event();
    EventBus::new(&sdk, &bus)
        .deliver("event-bus", &e, 0)
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let got = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = got.messages().first() {
            break m.body().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no event reached the subscriber");
    };
    let envelope: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope["source"], SOURCE);
    assert_eq!(envelope["detail-type"], "ticket.created");
    let detail: TicketEvent = serde_json::from_value(envelope["detail"].clone()).unwrap();
    assert_eq!(detail, e);
}

#[tokio::test]
async fn a_missing_bus_is_a_failure_not_a_silent_success() {
    let sdk = moto_config().await;
    let result = EventBus::new(&sdk, unique_name("no-such-bus"))
        .deliver("event-bus", &event(), 0)
        .await;
    // moto answers a missing bus either by refusing the call or by failing
    // the entry; both must come back as an error.
    assert!(result.is_err(), "{result:?}");
}
