//! The embedded queue as the core's [`QueueConsumer`]: rows received with
//! a visibility timeout, a wait that does not count given back with
//! `defer`, dead letters kept in `queue_dead_letters` with their reason.

use std::time::Duration;

use triage_core::ports::{QueueConsumer, QueueError, Received};
use triage_core::redelivery::DeadLetter;

use crate::queue::SqliteQueue;

/// How long a received message stays hidden from other consumers.
pub const VISIBILITY: Duration = Duration::from_secs(30);

fn row(message: &Received) -> Result<i64, QueueError> {
    message
        .handle
        .parse()
        .map_err(|_| QueueError::Unavailable("not a row of the embedded queue".into()))
}

fn unavailable(e: crate::error::SqliteError) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

impl QueueConsumer for SqliteQueue {
    async fn receive(&self, max: usize, now_ms: i64) -> Result<Vec<Received>, QueueError> {
        Ok(SqliteQueue::receive(self, max, VISIBILITY, now_ms)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(|d| Received {
                handle: d.id.to_string(),
                body: d.body,
                attributes: d.attributes,
                receive_count: d.receive_count,
            })
            .collect())
    }

    async fn ack(&self, message: &Received) -> Result<(), QueueError> {
        SqliteQueue::ack(self, row(message)?)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn retry_at(
        &self,
        message: &Received,
        at_ms: i64,
        counts: bool,
        reason: &str,
        _now_ms: i64,
    ) -> Result<(), QueueError> {
        let id = row(message)?;
        let done = if counts {
            self.nack_until(id, reason, at_ms).await
        } else {
            self.defer(id, reason, at_ms).await
        };
        done.map(|_| ()).map_err(unavailable)
    }

    async fn dead_letter(
        &self,
        message: &Received,
        letter: &DeadLetter,
    ) -> Result<bool, QueueError> {
        // The reason already names the kind of failure (`permanent: ...`).
        SqliteQueue::dead_letter(self, row(message)?, &letter.reason)
            .await
            .map_err(unavailable)
    }
}
