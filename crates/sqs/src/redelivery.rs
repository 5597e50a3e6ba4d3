//! The worker's redelivery on SQS (issue #13): what the core's
//! [`redelivery`](triage_core::redelivery) rule decides, carried out with
//! `SendMessage`.
//!
//! SQS counts every receive toward `maxReceiveCount`, and a visibility
//! change cannot give one back. So a wait that must not count (a throttled
//! provider, another worker's live claim) is a **new message**: a copy of
//! the body and its attributes, delayed by the wait (at most SQS's 15
//! minutes; a longer wait also carries `triage-not-before-ms`, and the
//! worker puts it back again until then), with the count of waits in
//! `triage-deferrals`. A permanent failure is sent to the DLQ at once with
//! `triage-failure`, `triage-reason`, `triage-receives` and
//! `triage-failed-at-ms`. In both cases the caller then lets Lambda delete
//! the original. If the copy is sent and the delete is lost, the message
//! is processed twice, which the idempotency records absorb.

use triage_core::ports::{QueueError, Redelivery};
use triage_core::redelivery::{DeadLetter, Record, attributes};

use crate::SqsQueue;

/// SQS's longest `DelaySeconds`.
pub const MAX_DELAY_SECONDS: i64 = 900;

/// The main queue (put back) and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct SqsRedelivery {
    queue: SqsQueue,
    dlq_url: String,
    max_delay_s: i64,
}

impl SqsRedelivery {
    /// `queue`: the worker's own queue; `dlq_url`: its dead-letter queue.
    pub fn new(queue: SqsQueue, dlq_url: impl Into<String>) -> Self {
        SqsRedelivery {
            queue,
            dlq_url: dlq_url.into(),
            max_delay_s: MAX_DELAY_SECONDS,
        }
    }

    /// A shorter longest delay (tests, which must see the copy at once; the
    /// not-before time is carried either way).
    pub fn with_max_delay_seconds(mut self, seconds: i64) -> Self {
        self.max_delay_s = seconds.clamp(0, MAX_DELAY_SECONDS);
        self
    }

    async fn send(
        &self,
        url: &str,
        record: &Record<'_>,
        extra: &[(&str, String)],
        delay_s: i32,
    ) -> Result<(), QueueError> {
        let mut req = self
            .queue
            .client()
            .send_message()
            .queue_url(url)
            .message_body(record.body)
            .delay_seconds(delay_s);
        for (name, value) in record
            .carried()
            .chain(extra.iter().map(|(k, v)| (*k, v.as_str())))
        {
            req = req.message_attributes(name, crate::string_attribute(value)?);
        }
        match tokio::time::timeout(self.queue.timeout(), req.send()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(QueueError::Unavailable(
                aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
            )),
            Err(_) => Err(QueueError::Timeout(
                u64::try_from(self.queue.timeout().as_millis()).unwrap_or(u64::MAX),
            )),
        }
    }
}

/// The delay of a copy that must wait until `not_before_ms`, at most
/// `max_s` seconds.
pub fn delay_seconds(not_before_ms: i64, now_ms: i64, max_s: i64) -> i32 {
    let wait_s = not_before_ms.saturating_sub(now_ms).saturating_add(999) / 1000;
    i32::try_from(wait_s.clamp(0, max_s.max(0))).unwrap_or(0)
}

impl Redelivery for SqsRedelivery {
    async fn put_back(
        &self,
        record: &Record<'_>,
        not_before_ms: i64,
        deferrals: u32,
        now_ms: i64,
    ) -> Result<(), QueueError> {
        let extra = [
            (attributes::NOT_BEFORE, not_before_ms.to_string()),
            (attributes::DEFERRALS, deferrals.to_string()),
        ];
        self.send(
            self.queue.queue_url(),
            record,
            &extra,
            delay_seconds(not_before_ms, now_ms, self.max_delay_s),
        )
        .await
    }

    async fn dead_letter(
        &self,
        record: &Record<'_>,
        letter: &DeadLetter,
    ) -> Result<(), QueueError> {
        self.send(&self.dlq_url, record, &letter.attributes(), 0)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_stop_at_fifteen_minutes() {
        let max = MAX_DELAY_SECONDS;
        assert_eq!(delay_seconds(1_000, 1_000, max), 0);
        assert_eq!(delay_seconds(1_001, 1_000, max), 1);
        assert_eq!(delay_seconds(0, 1_000, max), 0, "already due");
        assert_eq!(delay_seconds(20 * 60_000, 0, max), 900);
        assert_eq!(delay_seconds(20 * 60_000, 0, 0), 0);
    }
}
