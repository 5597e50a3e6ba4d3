//! SQS adapter: [`NotificationQueue`] over `SendMessageBatch`, the polling
//! [`consumer`] (`triage --queue sqs`), the
//! worker's [`redelivery`] (delayed copies and the DLQ with reasons), and
//! the events dead-letter queue ([`dead_events`]).
//!
//! Messages are grouped into batches of at most 10 entries and at most
//! `max_batch_bytes`; entries SQS refuses for a reason on its side are tried
//! once more. The whole call is bounded by a hard timeout (3 s by default)
//! so ingest can answer 503 well inside a provider's 10-second window.

pub mod consumer;
pub mod dead_events;
pub mod dead_letters;
pub mod redelivery;

use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use triage_core::envelope::QueuedMessage;
use triage_core::ports::{NotificationQueue, QueueError};

/// SQS allows at most 10 entries per batch.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// An SQS queue reached through one long-lived client.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
    timeout: Duration,
    max_batch_bytes: usize,
}

impl SqsQueue {
    /// Build the client once (at init). `timeout` bounds each `send_all`
    /// call as a whole, retries included.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        queue_url: impl Into<String>,
        timeout: Duration,
    ) -> Self {
        let conf = aws_sdk_sqs::config::Builder::from(sdk)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(timeout.min(Duration::from_secs(1)))
                    .operation_attempt_timeout(timeout)
                    .operation_timeout(timeout)
                    .build(),
            )
            .build();
        SqsQueue {
            client: Client::from_conf(conf),
            queue_url: queue_url.into(),
            timeout,
            max_batch_bytes: 256 * 1024,
        }
    }

    /// Largest total payload of one batch (SQS: 256 KiB by default).
    pub fn with_max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes.max(1);
        self
    }

    /// The underlying client (admin tools, tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bound on one call, retries included.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    async fn send_batch(&self, batch: &[&QueuedMessage]) -> Result<(), QueueError> {
        let mut pending: Vec<&QueuedMessage> = batch.to_vec();
        for attempt in 0..2 {
            let entries = pending
                .iter()
                .map(|m| entry(m))
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    QueueError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                })?;
            let failed = out.failed();
            if failed.is_empty() {
                return Ok(());
            }
            let retryable = failed.iter().all(|f| !f.sender_fault());
            if attempt == 0 && retryable {
                pending.retain(|m| failed.iter().any(|f| f.id() == m.entry_id));
                tracing::warn!(failed = pending.len(), "sqs refused entries, retrying once");
                continue;
            }
            return Err(QueueError::Partial {
                failed_ids: failed.iter().map(|f| f.id().to_string()).collect(),
                reason: failed
                    .iter()
                    .map(|f| f.code().to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            });
        }
        Err(QueueError::Unavailable("sqs refused entries twice".into()))
    }
}

/// The SQS batch entries for messages (the request ingest sends).
pub fn to_entries(
    messages: &[QueuedMessage],
) -> Result<Vec<SendMessageBatchRequestEntry>, QueueError> {
    messages.iter().map(entry).collect()
}

/// A `String` message attribute (every attribute this crate writes).
pub(crate) fn string_attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| QueueError::Unavailable(format!("message attribute: {e}")))
}

fn entry(m: &QueuedMessage) -> Result<SendMessageBatchRequestEntry, QueueError> {
    let mut b = SendMessageBatchRequestEntry::builder()
        .id(&m.entry_id)
        .message_body(&m.body);
    for (name, value) in &m.attributes {
        b = b.message_attributes(*name, string_attribute(value)?);
    }
    b.build()
        .map_err(|e| QueueError::Unavailable(format!("batch entry: {e}")))
}

/// Group messages into SQS batches: at most 10 entries and `max_bytes`.
pub fn batches(messages: &[QueuedMessage], max_bytes: usize) -> Vec<Vec<&QueuedMessage>> {
    let mut out: Vec<Vec<&QueuedMessage>> = Vec::new();
    let mut size = 0;
    for m in messages {
        let s = m.sqs_size();
        let start_new = match out.last() {
            None => true,
            Some(last) => last.len() >= MAX_BATCH_ENTRIES || size + s > max_bytes,
        };
        if start_new {
            out.push(Vec::new());
            size = 0;
        }
        if let Some(last) = out.last_mut() {
            last.push(m);
        }
        size += s;
    }
    out
}

impl NotificationQueue for SqsQueue {
    async fn send_all(&self, messages: &[QueuedMessage]) -> Result<(), QueueError> {
        let started = Instant::now();
        let work = async {
            for batch in batches(messages, self.max_batch_bytes) {
                self.send_batch(&batch).await?;
            }
            Ok(())
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(QueueError::Timeout(
                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: usize, size: usize) -> QueuedMessage {
        QueuedMessage {
            entry_id: format!("n{i}"),
            body: "x".repeat(size),
            attributes: vec![],
            refetch: false,
        }
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let ms: Vec<_> = (0..23).map(|i| msg(i, 10)).collect();
        let b = batches(&ms, 1 << 20);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 3]);
        let ms: Vec<_> = (0..3).map(|i| msg(i, 100)).collect();
        let b = batches(&ms, 250);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        assert!(batches(&[], 10).is_empty());
    }
}
