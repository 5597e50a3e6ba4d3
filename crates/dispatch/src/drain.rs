//! Draining an outbox: the local half of event delivery.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use triage_core::dispatch::{EventOutbox, EventSink, Settled, settle};
use triage_core::ports::StoreError;

use crate::handler::{DeliveryLine, Dispatcher};

/// Events taken per pass.
pub const BATCH: usize = 64;
/// Events delivered at once.
pub const CONCURRENCY: usize = 8;
/// Pause between passes when nothing was due.
pub const IDLE_POLL: Duration = Duration::from_millis(250);

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// One line per delivery tried.
    pub lines: Vec<DeliveryLine>,
    /// Events every destination now has.
    pub done: usize,
    /// Events to be tried again later.
    pub retrying: usize,
    /// Events given up on (dead-lettered with their reason).
    pub dead: usize,
}

impl DrainReport {
    pub fn total(&self) -> usize {
        self.done + self.retrying + self.dead
    }
}

/// One pass: every event due at `now_ms` (up to [`BATCH`]), one attempt
/// each, settled in the outbox. A store failure stops the pass; the events
/// not settled are simply due again next pass.
pub async fn drain_once<O, D, B>(
    outbox: &O,
    dispatcher: &Dispatcher<D, B>,
    now_ms: i64,
) -> Result<DrainReport, StoreError>
where
    O: EventOutbox,
    D: EventSink,
    B: EventSink,
{
    let due = outbox.due(now_ms, BATCH).await?;
    let settled: Vec<(String, Settled, Vec<DeliveryLine>)> = stream::iter(due)
        .map(|pending| async move {
            let attempt = dispatcher
                .attempt(&pending.event, &pending.delivered, now_ms)
                .await;
            let s = settle(&pending, attempt.delivered, &attempt.failures, now_ms);
            if let Settled::Dead { attempts, .. } = &s {
                tracing::warn!(event = %pending.event.id, attempts, "event dead-lettered");
            }
            (pending.event.id, s, attempt.lines)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut report = DrainReport::default();
    for (id, s, lines) in settled {
        outbox.settle(&id, &s).await?;
        report.lines.extend(lines);
        match s {
            Settled::Done => report.done += 1,
            Settled::Retry { .. } => report.retrying += 1,
            Settled::Dead { .. } => report.dead += 1,
        }
    }
    Ok(report)
}

/// Drain `outbox` until `stop` resolves: a pass, then another at once when
/// it found work, else after [`IDLE_POLL`]; `report` sees each delivery.
/// Store failures are logged and retried after a pause; nothing here ends
/// the loop but `stop`.
pub async fn run<O, D, B, F>(
    outbox: &O,
    dispatcher: &Dispatcher<D, B>,
    now_ms: impl Fn() -> i64,
    report: impl Fn(&DeliveryLine),
    stop: F,
) where
    O: EventOutbox,
    D: EventSink,
    B: EventSink,
    F: std::future::Future<Output = ()>,
{
    tokio::pin!(stop);
    loop {
        let pause = match drain_once(outbox, dispatcher, now_ms()).await {
            Ok(r) => {
                r.lines.iter().for_each(&report);
                if r.total() > 0 {
                    Duration::ZERO
                } else {
                    IDLE_POLL
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox pass failed; retrying");
                IDLE_POLL * 4
            }
        };
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}
