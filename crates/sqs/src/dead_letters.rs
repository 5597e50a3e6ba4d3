//! The notification dead-letter queue on SQS, for `triage dlq --queue sqs`:
//! counts, a sample of ids and reasons (never bodies), and a redrive to the
//! main queue.
//!
//! Inspecting receives with `VisibilityTimeout=0`, so nothing is deleted
//! or hidden. Redriving receives (hidden [`REDRIVE_VISIBILITY_S`]), sends
//! body and message attributes to the target, and deletes from the DLQ only
//! what the target accepted; a message seen twice (a delete that failed)
//! stops the run rather than loop.

use std::collections::{HashMap, HashSet};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use serde::Serialize;

/// Message attributes shown for each sampled message (ids and types only).
pub const ID_ATTRIBUTES: [&str; 4] = ["notification_id", "grant_id", "message_id", "type"];

/// Message attributes that may carry a failure reason: the worker's own
/// (`triage-reason`, set when it dead-letters a message itself), then
/// common ones. SQS's own redrive (after `maxReceiveCount`) says nothing,
/// so a message moved by it has no reason here; it is in the worker's logs.
pub const REASON_ATTRIBUTES: [&str; 5] = [
    triage_core::redelivery::attributes::REASON,
    "failure_reason",
    "last_error",
    "error",
    "reason",
];

/// How long a message received for redrive stays hidden in the DLQ: if the
/// send or the delete fails, it reappears after this.
pub const REDRIVE_VISIBILITY_S: i32 = 60;

/// Why a dead-letter operation failed. Names queues and operations, never
/// a body.
#[derive(Debug, thiserror::Error)]
pub enum DlqError {
    #[error("{what}: {detail}")]
    Sqs { what: String, detail: String },
    #[error("the DLQ and the target queue are the same queue")]
    SameQueue,
    #[error("{0}")]
    Request(String),
}

fn sqs_error<E: std::error::Error>(what: String, e: E) -> DlqError {
    DlqError::Sqs {
        what,
        detail: DisplayErrorContext(e).to_string(),
    }
}

/// One sampled message: ids, never the body.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub sqs_message_id: String,
    pub notification_id: Option<String>,
    pub grant_id: Option<String>,
    pub message_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub receive_count: Option<u32>,
    pub sent_at_ms: Option<i64>,
    pub reason: Option<String>,
}

/// What a redrive did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub moved: u64,
    /// The main queue refused them; they reappear in the DLQ.
    pub send_failed: u64,
    /// Sent, but still in the DLQ: they will be moved (and deduplicated) again.
    pub delete_failed: u64,
}

fn string_attribute(m: &Message, name: &str) -> Option<String> {
    m.message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .map(str::to_owned)
}

fn system_attribute(m: &Message, name: MessageSystemAttributeName) -> Option<&str> {
    m.attributes()
        .and_then(|a| a.get(&name))
        .map(String::as_str)
}

fn sample_of(m: &Message) -> Sample {
    let [notification_id, grant_id, message_id, kind] =
        ID_ATTRIBUTES.map(|name| string_attribute(m, name));
    Sample {
        sqs_message_id: m.message_id().unwrap_or_default().to_owned(),
        notification_id,
        grant_id,
        message_id,
        kind,
        receive_count: system_attribute(m, MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok()),
        sent_at_ms: system_attribute(m, MessageSystemAttributeName::SentTimestamp)
            .and_then(|v| v.parse().ok()),
        reason: REASON_ATTRIBUTES
            .iter()
            .find_map(|name| string_attribute(m, name)),
    }
}

fn to_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `ApproximateNumberOfMessages` and `...NotVisible` of any queue.
pub async fn counts(client: &Client, url: &str) -> Result<(u64, u64), DlqError> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| sqs_error(format!("reading the attributes of {url}"), e))?;
    let get = |name: QueueAttributeName| {
        out.attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

/// One SQS dead-letter queue.
#[derive(Debug, Clone)]
pub struct SqsDeadLetters {
    client: Client,
    dlq_url: String,
}

impl SqsDeadLetters {
    pub fn new(client: Client, dlq_url: impl Into<String>) -> Self {
        SqsDeadLetters {
            client,
            dlq_url: dlq_url.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn url(&self) -> &str {
        &self.dlq_url
    }

    /// Waiting and in flight in the DLQ.
    pub async fn counts(&self) -> Result<(u64, u64), DlqError> {
        counts(&self.client, &self.dlq_url).await
    }

    /// Up to `limit` messages' ids and reasons, hiding nothing.
    pub async fn sample(&self, limit: usize) -> Result<Vec<Sample>, DlqError> {
        let dlq = &self.dlq_url;
        let mut samples: Vec<Sample> = Vec::new();
        let mut seen = HashSet::new();
        // With visibility 0 a receive may return messages already seen; stop
        // after a round brings nothing new.
        let rounds = limit.div_ceil(10) * 3 + 2;
        for _ in 0..rounds {
            if samples.len() >= limit {
                break;
            }
            let out = self
                .client
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(to_i32((limit - samples.len()).min(10)))
                .visibility_timeout(0)
                .wait_time_seconds(0)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(|e| sqs_error(format!("receiving from {dlq}"), e))?;
            let mut new = 0;
            for m in out.messages() {
                let id = m.message_id().unwrap_or_default().to_owned();
                if samples.len() < limit && seen.insert(id) {
                    samples.push(sample_of(m));
                    new += 1;
                }
            }
            if new == 0 {
                break;
            }
        }
        Ok(samples)
    }

    /// Move up to `max` messages to `target`, stopping at the first batch
    /// the target refuses in part or whose delete fails.
    pub async fn redrive(&self, target: &str, max: Option<u64>) -> Result<Moved, DlqError> {
        let dlq = &self.dlq_url;
        if dlq.trim_end_matches('/') == target.trim_end_matches('/') {
            return Err(DlqError::SameQueue);
        }
        // Also proves the target exists before anything is received.
        counts(&self.client, target).await?;
        let fifo = dlq.ends_with(".fifo");
        let limit = max.unwrap_or(u64::MAX);
        let mut done = Moved::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut empty_rounds = 0;
        'outer: while done.moved < limit {
            let want = usize::try_from((limit - done.moved).min(10)).unwrap_or(10);
            let out = self
                .client
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(to_i32(want))
                .visibility_timeout(REDRIVE_VISIBILITY_S)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(|e| sqs_error(format!("receiving from {dlq}"), e))?;
            let messages = out.messages();
            if messages.is_empty() {
                empty_rounds += 1;
                if empty_rounds >= 2 {
                    break;
                }
                continue;
            }
            empty_rounds = 0;
            let mut batch: Vec<&Message> = Vec::new();
            for m in messages {
                let id = m.message_id().unwrap_or_default().to_owned();
                // A message seen before came back (a failed delete): stop rather than loop.
                if !seen.insert(id) {
                    break 'outer;
                }
                batch.push(m);
            }
            let outcome = self.move_batch(target, &batch, fifo).await?;
            done.moved += outcome.moved;
            done.send_failed += outcome.send_failed;
            done.delete_failed += outcome.delete_failed;
            if outcome.send_failed > 0 || outcome.delete_failed > 0 {
                break;
            }
        }
        Ok(done)
    }

    /// Send a batch to the target, then delete from the DLQ what was accepted.
    async fn move_batch(
        &self,
        target: &str,
        batch: &[&Message],
        fifo: bool,
    ) -> Result<Moved, DlqError> {
        let mut entries = Vec::with_capacity(batch.len());
        let mut handles: HashMap<String, String> = HashMap::new();
        for (i, m) in batch.iter().enumerate() {
            let entry_id = format!("m{i}");
            let mut e = SendMessageBatchRequestEntry::builder()
                .id(&entry_id)
                .message_body(m.body().unwrap_or_default())
                .set_message_attributes(m.message_attributes().cloned());
            if fifo {
                e = e
                    .set_message_group_id(
                        system_attribute(m, MessageSystemAttributeName::MessageGroupId)
                            .map(str::to_owned),
                    )
                    .set_message_deduplication_id(
                        system_attribute(m, MessageSystemAttributeName::MessageDeduplicationId)
                            .map(str::to_owned)
                            .or_else(|| m.message_id().map(str::to_owned)),
                    );
            }
            entries.push(
                e.build()
                    .map_err(|e| DlqError::Request(format!("send entry: {e}")))?,
            );
            handles.insert(entry_id, m.receipt_handle().unwrap_or_default().to_owned());
        }
        let sent = self
            .client
            .send_message_batch()
            .queue_url(target)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sqs_error(format!("sending to {target}"), e))?;
        for f in sent.failed() {
            tracing::warn!(
                entry = f.id(),
                code = f.code(),
                sender_fault = f.sender_fault(),
                "redrive: the target refused a message"
            );
        }
        let send_failed = sent.failed().len() as u64;
        let mut deletes = Vec::new();
        for ok in sent.successful() {
            if let Some(handle) = handles.get(ok.id()) {
                deletes.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(ok.id())
                        .receipt_handle(handle)
                        .build()
                        .map_err(|e| DlqError::Request(format!("delete entry: {e}")))?,
                );
            }
        }
        if deletes.is_empty() {
            return Ok(Moved {
                moved: 0,
                send_failed,
                delete_failed: 0,
            });
        }
        let to_delete = deletes.len() as u64;
        let deleted = match self
            .client
            .delete_message_batch()
            .queue_url(&self.dlq_url)
            .set_entries(Some(deletes))
            .send()
            .await
        {
            Ok(out) => {
                for f in out.failed() {
                    tracing::warn!(
                        entry = f.id(),
                        code = f.code(),
                        "redrive: delete from the DLQ failed"
                    );
                }
                out.successful().len() as u64
            }
            Err(e) => {
                tracing::warn!(error = %DisplayErrorContext(e), "redrive: delete from the DLQ failed");
                0
            }
        };
        Ok(Moved {
            moved: deleted,
            send_failed,
            delete_failed: to_delete - deleted.min(to_delete),
        })
    }
}
