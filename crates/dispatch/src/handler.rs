//! One attempt at delivering one event to each of its destinations.

use std::time::Instant;

use futures_util::future::join_all;
use triage_core::dispatch::{DeliveryError, EventSink, NoSink};
use triage_core::events::TicketEvent;
use triage_core::logsafe::escape_capped as escape;
use triage_core::routing::Routing;

/// The name the event bus goes by in an event's `delivered` list.
pub const BUS_DESTINATION: &str = "event-bus";

/// What one attempt came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    /// Every destination that has the event now (before and during this
    /// attempt).
    pub delivered: Vec<String>,
    /// The destinations that failed, with why.
    pub failures: Vec<(String, DeliveryError)>,
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
    /// A dispatcher that also publishes every event to `bus`.
    pub fn with_bus(routing: Routing, destinations: D, bus: B) -> Self {
        Dispatcher {
            routing,
            destinations,
            bus: Some(bus),
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
    /// once. Logs one line per delivery: event id and type, ticket,
    /// destination, outcome and duration; never the event's content.
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
            let destination = escape(target, 64);
            match &result {
                Ok(()) => tracing::info!(
                    event = %event.id, kind = event.kind.as_str(), ticket = %escape(&event.ticket_id, 80),
                    destination = %destination, outcome = "delivered", ms, "event delivery"
                ),
                Err(e) => tracing::warn!(
                    event = %event.id, kind = event.kind.as_str(), ticket = %escape(&event.ticket_id, 80),
                    destination = %destination,
                    outcome = if e.is_transient() { "retry" } else { "failed" },
                    reason = %escape(&e.to_string(), 200), ms, "event delivery"
                ),
            }
            (target.clone(), result)
        }))
        .await;
        let mut out = Attempt {
            delivered: already.to_vec(),
            failures: Vec::new(),
        };
        for (target, result) in results {
            match result {
                Ok(()) => out.delivered.push(target),
                Err(e) => out.failures.push((target, e)),
            }
        }
        out
    }
}
