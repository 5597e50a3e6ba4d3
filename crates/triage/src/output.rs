//! Outcome lines (human on a terminal, JSON with `--json`) and the replay
//! summary. Lines carry ids and decisions, never addresses or bodies.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::json;
use triage_core::acknowledgement::AckOutcome;
use triage_worker::handler::RecordIds;
use triage_worker::{Failure, Outcome};

/// Longest outcome line printed, in characters.
const MAX_LINE_CHARS: usize = 1000;

/// The count key of dead-lettered messages.
const DEAD_LETTERED: &str = "failed: dead-lettered";

/// What the local worker did with one queue message.
#[derive(Debug, Clone)]
pub enum Event {
    Done(RecordIds, Outcome),
    /// Failed; `dead_lettered` when it went to the DLQ.
    Failed {
        ids: RecordIds,
        failure: Failure,
        dead_lettered: bool,
    },
}

/// Prints events and keeps counts for the summary.
pub struct Printer {
    json: bool,
    quiet: bool,
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Printer {
    pub fn new(json: bool, quiet: bool) -> Self {
        Printer {
            json,
            quiet,
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn event(&self, e: &Event) {
        let key = match e {
            Event::Done(_, Outcome::Skipped { reason }) => format!("skipped: {}", reason.code()),
            Event::Done(_, o) => o.code().to_string(),
            Event::Failed {
                dead_lettered: true,
                ..
            } => DEAD_LETTERED.to_string(),
            Event::Failed { failure, .. } => format!("failed: {} (will retry)", failure.code()),
        };
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(key).or_default() += 1;
        }
        if self.quiet {
            return;
        }
        println!(
            "{}",
            if self.json {
                self.json_line(e)
            } else {
                // Ids and alias queues come from the input: a newline or an
                // escape sequence in one must not forge a line or reach the
                // terminal.
                triage_core::logsafe::escape_capped(&self.human_line(e), MAX_LINE_CHARS)
            }
        );
    }

    fn json_line(&self, e: &Event) -> String {
        match e {
            Event::Done(ids, o) => {
                let mut v = json!({
                    "outcome": o.code(),
                    "notification_id": ids.notification_id,
                    "grant_id": ids.grant_id,
                    "message_id": ids.message_id,
                });
                match o {
                    Outcome::Created {
                        ticket_id,
                        classification: c,
                        acknowledgement,
                    } => {
                        v["ticket_id"] = json!(ticket_id);
                        v["category"] = json!(c.category);
                        v["queue"] = json!(c.queue);
                        v["priority"] = json!(c.priority.as_str());
                        v["acknowledgement"] = json!(acknowledgement.code());
                    }
                    Outcome::Appended { ticket_id, .. }
                    | Outcome::AlreadyRecorded { ticket_id } => {
                        v["ticket_id"] = json!(ticket_id);
                    }
                    Outcome::Skipped { reason } => v["reason"] = json!(reason.code()),
                    Outcome::Duplicate { previous } => v["previous"] = json!(previous),
                    Outcome::Gone => {}
                }
                v.to_string()
            }
            Event::Failed {
                ids,
                failure,
                dead_lettered,
            } => json!({
                "outcome": "failed",
                "failure": failure.code(),
                "reason": triage_core::logsafe::escape_capped(&failure.to_string(), MAX_LINE_CHARS),
                "dead_lettered": dead_lettered,
                "notification_id": ids.notification_id,
                "grant_id": ids.grant_id,
                "message_id": ids.message_id,
            })
            .to_string(),
        }
    }

    fn human_line(&self, e: &Event) -> String {
        match e {
            Event::Done(ids, o) => {
                let what = match o {
                    Outcome::Created {
                        ticket_id,
                        classification: c,
                        acknowledgement,
                    } => format!(
                        "ticket {ticket_id} created: {}/{} queue={}{}",
                        c.category,
                        c.priority.as_str(),
                        c.queue,
                        match acknowledgement {
                            AckOutcome::Disabled => String::new(),
                            a => format!(" ack={}", a.code()),
                        }
                    ),
                    Outcome::Appended { ticket_id, .. } => {
                        format!("appended to ticket {ticket_id}")
                    }
                    Outcome::AlreadyRecorded { ticket_id } => {
                        format!("already on ticket {ticket_id}")
                    }
                    Outcome::Skipped { reason } => {
                        format!("skipped: {} ({reason:?})", reason.code())
                    }
                    Outcome::Duplicate { previous } => format!("duplicate (was {previous})"),
                    Outcome::Gone => "gone: the provider no longer has it".to_string(),
                };
                format!("{:<9} message {}  {what}", o.code(), ids.message_id)
            }
            Event::Failed {
                ids,
                failure,
                dead_lettered,
            } => format!(
                "{:<9} message {}  {failure}{}",
                "failed",
                if ids.message_id.is_empty() {
                    "?"
                } else {
                    &ids.message_id
                },
                if *dead_lettered {
                    "  -> dead-letter queue"
                } else {
                    "  (will retry)"
                }
            ),
        }
    }

    /// One event delivery (`triage serve`'s dispatcher): ids, destination,
    /// outcome and timing, never the event's content.
    pub fn delivery(&self, line: &triage_dispatch::DeliveryLine) {
        if self.quiet {
            return;
        }
        let text = if self.json {
            json!({
                "delivery": line.outcome.as_str(),
                "event_id": line.event_id,
                "type": line.kind,
                "ticket_id": line.ticket_id,
                "destination": line.destination,
                "reason": line.reason,
                "ms": line.ms,
            })
            .to_string()
        } else {
            let reason = line
                .reason
                .as_deref()
                .map(|r| format!("  ({r})"))
                .unwrap_or_default();
            triage_core::logsafe::escape_capped(
                &format!(
                    "{:<9} event {} {} ticket {} -> {} {} ms{reason}",
                    line.outcome.as_str(),
                    line.event_id,
                    line.kind,
                    line.ticket_id,
                    line.destination,
                    line.ms
                ),
                MAX_LINE_CHARS,
            )
        };
        println!("{text}");
    }

    /// Counts so far, by outcome (skips by reason).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Queue messages that went to the dead-letter queue so far.
    pub fn dead_lettered(&self) -> u64 {
        self.counts
            .lock()
            .map(|c| c.get(DEAD_LETTERED).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// A summary table of the counts.
    pub fn summary(&self) -> String {
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
        t.set_header(vec!["outcome", "count"]);
        for (k, v) in self.counts() {
            t.add_row(vec![k, v.to_string()]);
        }
        t.to_string()
    }
}
