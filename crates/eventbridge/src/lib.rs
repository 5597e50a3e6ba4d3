//! Amazon EventBridge adapter (issue #12): [`EventBus`] publishes every
//! ticket event to the stack's bus with `PutEvents`, so any AWS consumer
//! (a rule to SQS, Step Functions, another account) subscribes by type
//! without a change here.
//!
//! Each entry: `Source` [`SOURCE`], `DetailType` the event type
//! (`ticket.created`, `message.added`), `Detail` the event JSON (ids,
//! classification, requester, a short excerpt; never a body).
//!
//! Errors: throttling, internal failures, timeouts and connection failures
//! are transient (retried); anything else (a missing bus, no permission)
//! is permanent. The bus name is logged, never the event.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use triage_core::dispatch::{DeliveryError, EventSink};
use triage_core::events::TicketEvent;

/// The `source` of every event we publish.
pub const SOURCE: &str = "inbox-triage";

/// Error codes worth retrying.
const TRANSIENT_CODES: [&str; 4] = [
    "ThrottlingException",
    "InternalException",
    "InternalFailure",
    "ServiceUnavailable",
];

/// One event bus.
#[derive(Debug, Clone)]
pub struct EventBus {
    client: Client,
    bus_name: String,
}

impl EventBus {
    /// The bus named `bus_name` (a name or an ARN).
    pub fn new(sdk: &aws_config::SdkConfig, bus_name: impl Into<String>) -> Self {
        EventBus {
            client: Client::new(sdk),
            bus_name: bus_name.into(),
        }
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }
}

fn by_code(code: Option<&str>, what: String) -> DeliveryError {
    match code {
        Some(c) if TRANSIENT_CODES.contains(&c) => DeliveryError::Transient {
            reason: format!("{what}: {c}"),
            retry_after_ms: None,
        },
        Some(c) => DeliveryError::Permanent {
            reason: format!("{what}: {c}"),
        },
        None => DeliveryError::Transient {
            reason: what,
            retry_after_ms: None,
        },
    }
}

impl EventSink for EventBus {
    async fn deliver(
        &self,
        _destination: &str,
        event: &TicketEvent,
        _now_s: i64,
    ) -> Result<(), DeliveryError> {
        let detail = serde_json::to_string(event).map_err(|_| DeliveryError::Permanent {
            reason: "event not serialisable".into(),
        })?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(SOURCE)
            .detail_type(event.kind.as_str())
            .detail(detail)
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| match &e {
                SdkError::ServiceError(_) => by_code(e.code(), "PutEvents".into()),
                SdkError::ConstructionFailure(_) => DeliveryError::Permanent {
                    reason: "PutEvents: request construction failed".into(),
                },
                _ => DeliveryError::Transient {
                    reason: "PutEvents: no answer (timeout or connection)".into(),
                    retry_after_ms: None,
                },
            })?;
        if out.failed_entry_count() > 0 {
            let code = out.entries().first().and_then(|e| e.error_code());
            return Err(by_code(
                Some(code.unwrap_or("InternalFailure")),
                "PutEvents entry".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decide_retry() {
        assert!(by_code(Some("ThrottlingException"), "x".into()).is_transient());
        assert!(by_code(Some("InternalFailure"), "x".into()).is_transient());
        assert!(by_code(None, "x".into()).is_transient());
        assert!(!by_code(Some("AccessDeniedException"), "x".into()).is_transient());
        assert!(!by_code(Some("ResourceNotFoundException"), "x".into()).is_transient());
    }
}
