//! One attempt at delivering one event to each of its destinations.

use std::time::Instant;

use futures_util::future::join_all;
use triage_core::dispatch::{DeliveryError, EventSink, NoSink};
use triage_core::events::TicketEvent;
use triage_core::logsafe::escape_capped as escape;
use triage_core::routing::Routing;

/// The name the event bus goes by in an event's `delivered` list.
pub const BUS_DESTINATION: &str = "event-bus";

/// What one delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed, worth retrying.
    Retry,
    /// Failed for good.
    Failed,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retry => "retry",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// One delivery, as runners report it: ids, destination, outcome, timing;
/// never the event's content. Every field is safe to print (ids escaped
/// and capped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryLine {
    pub event_id: String,
    pub kind: &'static str,
    pub ticket_id: String,
    pub destination: String,
    pub outcome: DeliveryOutcome,
    /// Why it failed (status code, timeout; never a URL).
    pub reason: Option<String>,
    pub ms: u64,
}

impl DeliveryLine {
    /// The line as a structured log record (the Lambda's way of showing it).
    pub fn log(&self) {
        match self.outcome {
            DeliveryOutcome::Delivered => tracing::info!(
                event = %self.event_id, kind = self.kind, ticket = %self.ticket_id,
                destination = %self.destination, outcome = self.outcome.as_str(), ms = self.ms,
                "event delivery"
            ),
            _ => tracing::warn!(
                event = %self.event_id, kind = self.kind, ticket = %self.ticket_id,
                destination = %self.destination, outcome = self.outcome.as_str(),
                reason = self.reason.as_deref().unwrap_or(""), ms = self.ms,
                "event delivery"
            ),
        }
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    /// Every destination that has the event now (before and during this
    /// attempt).
    pub delivered: Vec<String>,
    /// The destinations that failed, with why.
    pub failures: Vec<(String, DeliveryError)>,
    /// One line per delivery tried.
    pub lines: Vec<DeliveryLine>,
}

/// Routes events and delivers them: `destinations` by name, `bus` (when
/// set) every event.
#[derive(Debug, Clone)]
pub struct Dispatcher<D, B = NoSink> {
    routing: Routing,
    destinations: D,
    bus: Option<B>,
}

impl<D: EventSink> Dispatcher<D, NoSink> {
    /// A dispatcher without an event bus.
    pub fn new(routing: Routing, destinations: D) -> Self {
        Dispatcher {
            routing,
            destinations,
            bus: None,
        }
    }
}

impl<D: EventSink, B: EventSink> Dispatcher<D, B> {
    /// A dispatcher that also publishes every event to `bus`, when given.
    pub fn with_bus(routing: Routing, destinations: D, bus: Option<B>) -> Self {
        Dispatcher {
            routing,
            destinations,
            bus,
        }
    }

    /// Where `event` goes: its queue's destinations, then the bus.
    pub fn targets(&self, event: &TicketEvent) -> Vec<String> {
        let mut out: Vec<String> = self
            .routing
            .destinations_for(&event.queue)
            .map(|d| d.name.clone())
            .collect();
        if self.bus.is_some() {
            out.push(BUS_DESTINATION.to_string());
        }
        out
    }

    async fn deliver_one(
        &self,
        target: &str,
        event: &TicketEvent,
        now_s: i64,
    ) -> Result<(), DeliveryError> {
        match (&self.bus, target == BUS_DESTINATION) {
            (Some(bus), true) => bus.deliver(target, event, now_s).await,
            _ => self.destinations.deliver(target, event, now_s).await,
        }
    }

    /// One attempt at every target of `event` not in `already`, all at
    /// once, with one [`DeliveryLine`] per delivery.
    pub async fn attempt(&self, event: &TicketEvent, already: &[String], now_ms: i64) -> Attempt {
        let now_s = now_ms.div_euclid(1_000);
        let todo: Vec<String> = self
            .targets(event)
            .into_iter()
            .filter(|t| !already.contains(t))
            .collect();
        let results = join_all(todo.iter().map(|target| async move {
            let started = Instant::now();
            let result = self.deliver_one(target, event, now_s).await;
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            (target.clone(), result, ms)
        }))
        .await;
        let mut out = Attempt {
            delivered: already.to_vec(),
            ..Attempt::default()
        };
        for (target, result, ms) in results {
            let (outcome, reason) = match &result {
                Ok(()) => (DeliveryOutcome::Delivered, None),
                Err(e) if e.is_transient() => {
                    (DeliveryOutcome::Retry, Some(escape(&e.to_string(), 200)))
                }
                Err(e) => (DeliveryOutcome::Failed, Some(escape(&e.to_string(), 200))),
            };
            out.lines.push(DeliveryLine {
                event_id: escape(&event.id, 64),
                kind: event.kind.as_str(),
                ticket_id: escape(&event.ticket_id, 80),
                destination: escape(&target, 64),
                outcome,
                reason,
                ms,
            });
            match result {
                Ok(()) => out.delivered.push(target),
                Err(e) => out.failures.push((target, e)),
            }
        }
        out
    }
}
