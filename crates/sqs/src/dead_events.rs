//! The events dead-letter queue (#12): an event the `dispatch` function
//! could not deliver is sent here with what a redrive needs. The body is
//! the event JSON; message attributes carry `event_id`, `ticket_id`,
//! `type`, `delivered` (a JSON list of destinations that already have it)
//! and `failure_reason`, so `triage dlq inspect` shows why without reading
//! a body, and a redrive (to the events retry queue) delivers only to the
//! destinations that lack it.

use triage_core::dispatch::DeadEvents;
use triage_core::events::TicketEvent;
use triage_core::logsafe::escape_capped;
use triage_core::ports::QueueError;

use crate::SqsQueue;

/// Longest failure reason kept.
const MAX_REASON_CHARS: usize = 1_000;

/// The attribute holding the destinations that already have the event.
pub const DELIVERED_ATTRIBUTE: &str = "delivered";

impl DeadEvents for SqsQueue {
    async fn put(
        &self,
        event: &TicketEvent,
        delivered: &[String],
        reason: &str,
    ) -> Result<(), QueueError> {
        let body = serde_json::to_string(event)
            .map_err(|e| QueueError::Unavailable(format!("event {}: {e}", event.id)))?;
        let delivered = serde_json::to_string(delivered)
            .map_err(|e| QueueError::Unavailable(format!("event {}: {e}", event.id)))?;
        let reason = escape_capped(reason, MAX_REASON_CHARS);
        let send = self
            .client()
            .send_message()
            .queue_url(self.queue_url())
            .message_body(body)
            .message_attributes("event_id", crate::string_attribute(&event.id)?)
            .message_attributes("ticket_id", crate::string_attribute(&event.ticket_id)?)
            .message_attributes("type", crate::string_attribute(event.kind.as_str())?)
            .message_attributes(DELIVERED_ATTRIBUTE, crate::string_attribute(&delivered)?)
            .message_attributes(
                "failure_reason",
                crate::string_attribute(if reason.is_empty() {
                    "unknown"
                } else {
                    &reason
                })?,
            )
            .send();
        match tokio::time::timeout(self.timeout(), send).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(QueueError::Unavailable(format!(
                "send event {} to the dead-letter queue: {}",
                event.id,
                aws_sdk_sqs::error::DisplayErrorContext(e)
            ))),
            Err(_) => Err(QueueError::Timeout(
                u64::try_from(self.timeout().as_millis()).unwrap_or(u64::MAX),
            )),
        }
    }
}
