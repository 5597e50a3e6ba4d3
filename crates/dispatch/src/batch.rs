//! The `dispatch` function's batches (AWS): records of the tickets table's
//! DynamoDB stream, and messages of the events retry queue (where `triage
//! dlq redrive` puts dead events back). Same delivery code as the local
//! outbox drain; what differs is where retries and dead letters live.
//!
//! For each record:
//! 1. Its event: a stream record carries one when the ticket's
//!    `last_event` changed ([`triage_core::events::carried`]) (a creation's
//!    as a marker: the event is rebuilt from the new image's ticket); a queue
//!    message is an event, with the destinations that already have it in
//!    its `delivered` attribute. Records without an event succeed at once.
//! 2. Up to [`IN_PROCESS_ATTEMPTS`] attempts, each to the destinations
//!    that still lack it, waiting between them as the core's retry rules
//!    say (a destination's `Retry-After` up to [`MAX_IN_PROCESS_WAIT`]).
//! 3. Still failing: the event goes to the events dead-letter queue with
//!    the destinations that have it and the reason, and the record
//!    succeeds. Only when that send fails, or the record cannot be read,
//!    is the record reported as a batch item failure: the stream (bisecting
//!    the batch) or the queue delivers it again, and after its retries the
//!    stream's on-failure queue, or the retry queue's redrive policy, keeps
//!    it. Nothing read from the table is dropped.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use triage_core::dispatch::{DeadEvents, EventSink, failure_reason, longest_retry_after};
use triage_core::events::{self, CREATED_MARKER, LAST_EVENT_ATTRIBUTE, TicketEvent, carried};
use triage_core::ticket::TicketWrite;

use crate::handler::Dispatcher;

/// Attempts per record inside one invocation.
pub const IN_PROCESS_ATTEMPTS: u32 = 3;
/// Longest wait between two attempts inside one invocation; a destination
/// asking for longer is dead-lettered at once (and redriven later).
pub const MAX_IN_PROCESS_WAIT: Duration = Duration::from_secs(5);
/// Records handled at once.
pub const CONCURRENCY: usize = 8;
/// The queue message attribute listing the destinations that have the event.
pub const DELIVERED_ATTRIBUTE: &str = "delivered";

/// A Lambda batch: stream records or SQS messages (`Records`).
#[derive(Debug, Default, Deserialize)]
pub struct Batch {
    #[serde(rename = "Records", default)]
    pub records: Vec<Record>,
}

/// One record, of either source; only the fields used are read.
#[derive(Debug, Default, Deserialize)]
pub struct Record {
    #[serde(rename = "eventSource", default)]
    pub event_source: Option<String>,
    #[serde(default)]
    pub dynamodb: Option<StreamChange>,
    #[serde(rename = "messageId", default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(rename = "messageAttributes", default)]
    pub message_attributes: HashMap<String, QueueAttribute>,
}

/// The change a stream record describes (images in DynamoDB JSON).
#[derive(Debug, Default, Deserialize)]
pub struct StreamChange {
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: Option<String>,
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<HashMap<String, Value>>,
    #[serde(rename = "OldImage", default)]
    pub old_image: Option<HashMap<String, Value>>,
}

/// An SQS message attribute as Lambda passes it.
#[derive(Debug, Default, Deserialize)]
pub struct QueueAttribute {
    #[serde(rename = "stringValue", default)]
    pub string_value: Option<String>,
}

/// The partial batch response (both sources use this shape).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// What a record asks for.
#[derive(Debug, PartialEq, Eq)]
enum Work {
    /// No event (a change that carries none).
    Nothing,
    Deliver {
        event: Box<TicketEvent>,
        delivered: Vec<String>,
    },
    /// Unreadable: left to the source's retries and failure destination.
    Unreadable(String),
}

fn image_string<'a>(image: Option<&'a HashMap<String, Value>>, name: &str) -> Option<&'a str> {
    image?.get(name)?.get("S")?.as_str()
}

/// The creation event of the ticket a stream image holds.
fn created(image: Option<&HashMap<String, Value>>) -> Work {
    let ticket = match image.map(crate::image::ticket_of) {
        Some(Ok(ticket)) => ticket,
        Some(Err(why)) => {
            return Work::Unreadable(format!(
                "stream record: a created ticket's image is unreadable: {why}"
            ));
        }
        None => return Work::Unreadable("stream record: a created ticket has no image".into()),
    };
    let write = TicketWrite::Created {
        ticket_id: ticket.id.clone(),
    };
    match events::for_write(&ticket, &write) {
        Some(event) => Work::Deliver {
            event: Box::new(event),
            delivered: Vec::new(),
        },
        None => Work::Nothing,
    }
}

impl Record {
    /// The id the batch response names this record by.
    pub fn item_identifier(&self) -> Option<&str> {
        match &self.dynamodb {
            Some(change) => change.sequence_number.as_deref(),
            None => self.message_id.as_deref(),
        }
    }

    fn work(&self) -> Work {
        if let Some(change) = &self.dynamodb {
            let old = image_string(change.old_image.as_ref(), LAST_EVENT_ATTRIBUTE);
            let new = image_string(change.new_image.as_ref(), LAST_EVENT_ATTRIBUTE);
            return match carried(old, new) {
                None => Work::Nothing,
                Some(CREATED_MARKER) => created(change.new_image.as_ref()),
                Some(json) => match serde_json::from_str::<TicketEvent>(json) {
                    Ok(event) => Work::Deliver {
                        event: Box::new(event),
                        delivered: Vec::new(),
                    },
                    Err(e) => Work::Unreadable(format!("stream record: unreadable event: {e}")),
                },
            };
        }
        let Some(body) = &self.body else {
            return Work::Unreadable(
                "a record that is neither a stream record nor a message".into(),
            );
        };
        let event = match serde_json::from_str::<TicketEvent>(body) {
            Ok(e) => e,
            Err(e) => return Work::Unreadable(format!("queue message: unreadable event: {e}")),
        };
        let delivered = self
            .message_attributes
            .get(DELIVERED_ATTRIBUTE)
            .and_then(|a| a.string_value.as_deref())
            .map(|v| serde_json::from_str::<Vec<String>>(v).unwrap_or_default())
            .unwrap_or_default();
        Work::Deliver {
            event: Box::new(event),
            delivered,
        }
    }
}

/// The wait before the next in-process attempt, or `None` to stop trying
/// in this invocation.
fn next_wait(
    attempt: u32,
    failures: &[(String, triage_core::dispatch::DeliveryError)],
) -> Option<Duration> {
    if attempt >= IN_PROCESS_ATTEMPTS || failures.iter().all(|(_, e)| !e.is_transient()) {
        return None;
    }
    let asked = longest_retry_after(failures).map(Duration::from_millis);
    let base = Duration::from_millis(250u64.saturating_mul(1 << attempt.min(8)));
    let wait = asked.map_or(base, |a| a.max(base));
    (wait <= MAX_IN_PROCESS_WAIT).then_some(wait)
}

impl<D: EventSink, B: EventSink> Dispatcher<D, B> {
    /// One record: deliver, retry briefly, dead-letter what still fails.
    /// `Err` carries why the record must be retried by its source.
    async fn handle_record<Q: DeadEvents>(
        &self,
        record: &Record,
        dead: &Q,
        now_ms: &(dyn Fn() -> i64 + Sync),
    ) -> Result<(), String> {
        let (event, mut delivered) = match record.work() {
            Work::Nothing => return Ok(()),
            Work::Unreadable(reason) => return Err(reason),
            Work::Deliver { event, delivered } => (event, delivered),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.attempt(&event, &delivered, now_ms()).await;
            result
                .lines
                .iter()
                .for_each(crate::handler::DeliveryLine::log);
            delivered = result.delivered;
            if result.failures.is_empty() {
                return Ok(());
            }
            match next_wait(attempt, &result.failures) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    let reason = failure_reason(&result.failures);
                    return match dead.put(&event, &delivered, &reason).await {
                        Ok(()) => {
                            tracing::warn!(event = %event.id, attempts = attempt, "event dead-lettered");
                            Ok(())
                        }
                        Err(e) => Err(format!("dead-letter queue: {e}")),
                    };
                }
            }
        }
    }

    /// A whole batch; the response names the records to deliver again.
    pub async fn handle_batch<Q: DeadEvents>(
        &self,
        batch: &Batch,
        dead: &Q,
        now_ms: &(dyn Fn() -> i64 + Sync),
    ) -> BatchResponse {
        let failures: Vec<ItemFailure> = stream::iter(batch.records.iter())
            .map(|record| async move {
                match self.handle_record(record, dead, now_ms).await {
                    Ok(()) => None,
                    Err(reason) => {
                        let id = record.item_identifier().unwrap_or("").to_string();
                        tracing::error!(
                            record = %triage_core::logsafe::escape(&id),
                            source = record.event_source.as_deref().unwrap_or("?"),
                            reason = %triage_core::logsafe::escape(&reason),
                            "record left to its source's retries"
                        );
                        Some(ItemFailure {
                            item_identifier: id,
                        })
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .filter_map(|f| async move { f })
            .collect()
            .await;
        BatchResponse {
            batch_item_failures: failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A stream record of a ticket's creation whose image has `priority`.
    fn created_record(priority: &str) -> Record {
        let mut image = crate::image::sample_image();
        image["priority"] = json!({"S": priority});
        serde_json::from_value(json!({
            "eventSource": "aws:dynamodb",
            "dynamodb": {"SequenceNumber": "1", "NewImage": image}
        }))
        .unwrap()
    }

    #[test]
    fn a_created_image_with_an_unknown_priority_is_left_to_the_stream() {
        match created_record("low").work() {
            Work::Deliver { event, .. } => assert_eq!(event.priority, "low"),
            other => panic!("{other:?}"),
        }
        match created_record("urgent").work() {
            Work::Unreadable(reason) => {
                assert!(reason.contains("unreadable"), "{reason}");
                assert!(reason.contains("urgent"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
