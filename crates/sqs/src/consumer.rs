//! SQS as the core's [`QueueConsumer`], for `triage --queue sqs` (the
//! worker Lambda gets its records from the event source instead).
//!
//! SQS counts every receive toward the queue's `maxReceiveCount`, and a
//! visibility change cannot give one back: `retry_at` hides the message
//! until then whether or not the wait should count (the Lambda avoids the
//! count with a delayed copy, [`crate::redelivery`]). With a DLQ URL,
//! `dead_letter` sends the message there with the reason in message
//! attributes and deletes the original; without one it leaves the message
//! to the redrive policy and makes it visible again soon.

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use triage_core::ports::{QueueConsumer, QueueError, Received, Redelivery};
use triage_core::redelivery::{DeadLetter, RETRY_DELAY_MS};

use crate::SqsQueue;
use crate::redelivery::SqsRedelivery;

/// SQS's longest visibility timeout: 12 hours.
const MAX_VISIBILITY_S: i64 = 43_200;

/// The queue a runner polls, and its dead-letter queue if it is known.
#[derive(Debug, Clone)]
pub struct SqsConsumer {
    queue: SqsQueue,
    /// Dead letters go through the worker Lambda's redelivery, when the
    /// DLQ is known.
    dead: Option<SqsRedelivery>,
}

impl SqsConsumer {
    pub fn new(queue: SqsQueue, dlq_url: Option<String>) -> Self {
        SqsConsumer {
            dead: dlq_url.map(|url| SqsRedelivery::new(queue.clone(), url)),
            queue,
        }
    }

    async fn hide(&self, message: &Received, seconds: i64) -> Result<(), QueueError> {
        self.queue
            .client()
            .change_message_visibility()
            .queue_url(self.queue.queue_url())
            .receipt_handle(&message.handle)
            .visibility_timeout(i32::try_from(seconds.clamp(0, MAX_VISIBILITY_S)).unwrap_or(0))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| QueueError::Unavailable(DisplayErrorContext(e).to_string()))
    }
}

impl QueueConsumer for SqsConsumer {
    async fn receive(&self, max: usize, _now_ms: i64) -> Result<Vec<Received>, QueueError> {
        let out = self
            .queue
            .client()
            .receive_message()
            .queue_url(self.queue.queue_url())
            .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| QueueError::Unavailable(DisplayErrorContext(e).to_string()))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Received {
                handle: m.receipt_handle().unwrap_or_default().to_string(),
                body: m.body().unwrap_or_default().to_string(),
                attributes: m
                    .message_attributes()
                    .map(|a| {
                        a.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.string_value()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    async fn ack(&self, message: &Received) -> Result<(), QueueError> {
        self.queue
            .client()
            .delete_message()
            .queue_url(self.queue.queue_url())
            .receipt_handle(&message.handle)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| QueueError::Unavailable(DisplayErrorContext(e).to_string()))
    }

    /// SQS counts every receive; a visibility change cannot undo it.
    fn gives_back_receives(&self) -> bool {
        false
    }

    async fn retry_at(
        &self,
        message: &Received,
        at_ms: i64,
        _counts: bool,
        _reason: &str,
        now_ms: i64,
    ) -> Result<(), QueueError> {
        let seconds = (at_ms.saturating_sub(now_ms).saturating_add(999)) / 1000;
        self.hide(message, seconds.max(1)).await
    }

    async fn dead_letter(
        &self,
        message: &Received,
        letter: &DeadLetter,
    ) -> Result<bool, QueueError> {
        let Some(dead) = &self.dead else {
            // The redrive policy moves it after maxReceiveCount.
            self.hide(message, RETRY_DELAY_MS / 1000).await?;
            return Ok(false);
        };
        dead.dead_letter(&message.record(), letter).await?;
        self.ack(message).await?;
        Ok(true)
    }
}
