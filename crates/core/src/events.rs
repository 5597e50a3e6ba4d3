//! Ticket events: what the pipeline tells the outside world after a ticket
//! write (issue #12). Pure: built from the ticket the worker wrote and the
//! store's answer; carried by an outbox and delivered by the adapters.
//!
//! An event never carries a body: the subject (bounded), the requester, the
//! classification, the rules that decided it and a short excerpt with
//! control characters removed. Its id is deterministic (kind, ticket and
//! message), so every redelivery of one event has the same id and consumers
//! can deduplicate on it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::message::Participant;
use crate::threading::Signal;
use crate::ticket::{Ticket, TicketWrite};

/// Longest excerpt carried, in characters.
pub const MAX_EXCERPT_CHARS: usize = 200;
/// Longest subject carried, in characters.
pub const MAX_SUBJECT_CHARS: usize = 256;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A new ticket.
    #[serde(rename = "ticket.created")]
    TicketCreated,
    /// A message joined an existing ticket.
    #[serde(rename = "message.added")]
    MessageAdded,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::TicketCreated => "ticket.created",
            EventKind::MessageAdded => "message.added",
        }
    }
}

/// One ticket event, as published (EventBridge `detail`, webhook body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    /// `evt_` + 32 hex digits: the same for every redelivery of this event.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub ticket_id: String,
    /// The message that caused the event (opaque provider or digest id).
    pub message_id: String,
    pub queue: String,
    pub category: String,
    /// The ticket's priority name ([`Priority::as_str`](crate::ticket::Priority::as_str):
    /// `low`, `medium`, `high`). Text, not the enum: this is the published
    /// wire format, and a dispatcher reading events a newer worker wrote
    /// (during a deploy, or from the retry queue) must not fail on a
    /// priority it does not know.
    pub priority: String,
    /// Names of the rules that decided the classification, in order.
    pub rules: Vec<String>,
    pub subject: String,
    pub requester: Participant,
    /// The part of the requester's address after `@`, lower case.
    pub requester_domain: String,
    /// Short visible text, control characters removed.
    pub excerpt: String,
    /// When the message was received, unix seconds.
    pub occurred_at: i64,
    /// `message.added`: which signal joined the message to the ticket
    /// (`thread_id`, `message_id`, `ticket_ref`, `subject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_signal: Option<Signal>,
}

/// The names of the rules that decided `ticket`, each once, in order.
fn rule_names(ticket: &Ticket) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in &ticket.applied_rules {
        if !names.contains(&r.rule) {
            names.push(r.rule.clone());
        }
    }
    names
}

/// The deterministic id of an event.
pub fn event_id(kind: EventKind, ticket_id: &str, message_id: &str) -> String {
    let mut h = Sha256::new();
    for part in [kind.as_str(), ticket_id, message_id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    format!("evt_{}", &hex::encode(h.finalize())[..32])
}

/// `text` with control characters replaced by spaces, runs of whitespace
/// collapsed, cut to `max` characters at a word boundary when one is near.
pub fn sanitised(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let cut: String = joined.chars().take(max).collect();
    match cut.rfind(' ') {
        Some(at) if at * 4 >= cut.len() * 3 => format!("{}…", &cut[..at]),
        _ => format!("{cut}…"),
    }
}

/// The event for a ticket write: `ticket` is the ticket the worker built
/// for the message (its classification, subject and snippet), `write` the
/// store's answer. A redelivery the store had already recorded makes no
/// new event (its event was produced by the first write).
pub fn for_write(ticket: &Ticket, write: &TicketWrite) -> Option<TicketEvent> {
    let (kind, ticket_id, thread_signal) = match write {
        TicketWrite::Created { ticket_id } => (EventKind::TicketCreated, ticket_id, None),
        TicketWrite::Appended { ticket_id, signal } => {
            (EventKind::MessageAdded, ticket_id, Some(*signal))
        }
        TicketWrite::AlreadyRecorded { .. } => return None,
    };
    let email = ticket.requester.email.trim().to_ascii_lowercase();
    let requester_domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_string())
        .unwrap_or_default();
    Some(TicketEvent {
        id: event_id(kind, ticket_id, &ticket.message_id),
        kind,
        ticket_id: ticket_id.clone(),
        message_id: ticket.message_id.clone(),
        queue: ticket.queue.clone(),
        category: ticket.category.clone(),
        priority: ticket.priority.as_str().to_string(),
        rules: rule_names(ticket),
        subject: sanitised(&ticket.subject, MAX_SUBJECT_CHARS),
        requester: Participant {
            name: sanitised(&ticket.requester.name, MAX_SUBJECT_CHARS),
            email: sanitised(&ticket.requester.email, MAX_SUBJECT_CHARS),
        },
        requester_domain,
        excerpt: sanitised(&ticket.snippet, MAX_EXCERPT_CHARS),
        occurred_at: ticket.received_at,
        thread_signal,
    })
}

/// The attribute of a stored ticket (DynamoDB) that holds, as JSON, the
/// event of the write that last changed it: the ticket's creation, or the
/// message an append added. The table's stream carries it to the
/// dispatcher, so the event is committed with the write itself.
pub const LAST_EVENT_ATTRIBUTE: &str = "last_event";

/// The [`LAST_EVENT_ATTRIBUTE`] of a ticket just created: a marker, not the
/// event's JSON. A creation's event is made of the ticket's own fields, so
/// the reader rebuilds it from the stored ticket ([`for_write`] with
/// `Created`: the same event, id included); carrying it whole would repeat
/// the subject and the excerpt and take a typical ticket item over 1 KB,
/// one more write unit per new ticket.
pub const CREATED_MARKER: &str = "ticket.created";

/// The event a change of a stored ticket carries, given the
/// [`LAST_EVENT_ATTRIBUTE`] before and after it: the new value when it is
/// there and differs from the old one. A change that only moved
/// `last_message_at`, or a redelivered write, carries none.
pub fn carried<'a>(old: Option<&str>, new: Option<&'a str>) -> Option<&'a str> {
    let new = new.filter(|n| !n.trim().is_empty())?;
    (old != Some(new)).then_some(new)
}

/// A ticket event for tests elsewhere in the core.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn event(id: &str) -> TicketEvent {
        TicketEvent {
            id: id.into(),
            kind: EventKind::TicketCreated,
            ticket_id: "t_1".into(),
            message_id: "m_1".into(),
            queue: "billing".into(),
            category: "billing".into(),
            priority: "medium".into(),
            rules: vec![],
            subject: "Refund".into(),
            requester: Participant::default(),
            requester_domain: String::new(),
            excerpt: String::new(),
            occurred_at: 5,
            thread_signal: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Rules;
    use crate::message::Message;
    use crate::ticket::build_ticket;

    fn ticket(body: &str) -> Ticket {
        let m = Message {
            id: "m1".into(),
            grant_id: "g1".into(),
            subject: Some("Checkout\u{0007} is\r\ndown".into()),
            from: vec![Participant {
                name: "Ann".into(),
                email: "Ann@Example.COM".into(),
            }],
            body: Some(body.into()),
            date: Some(1_764_547_200),
            ..Default::default()
        };
        let class = Rules::default_rules().classify(&m, body);
        build_ticket(&m, &class, body, 1_764_547_300)
    }

    #[test]
    fn created_and_appended_make_events_with_stable_ids() {
        let t = ticket("Our checkout is down and returns an error.");
        let created = TicketWrite::Created {
            ticket_id: t.id.clone(),
        };
        let e = for_write(&t, &created).unwrap();
        assert_eq!(e.kind, EventKind::TicketCreated);
        assert_eq!(e.id, for_write(&t, &created).unwrap().id);
        assert!(e.id.starts_with("evt_") && e.id.len() == 36);
        assert_eq!(e.subject, "Checkout is down");
        assert_eq!(e.requester_domain, "example.com");
        assert_eq!(e.occurred_at, 1_764_547_200);
        assert!(!e.rules.is_empty());
        let mut unique = e.rules.clone();
        unique.dedup();
        assert_eq!(unique, e.rules, "each rule named once");
        assert_eq!(e.thread_signal, None);
        assert!(!serde_json::to_string(&e).unwrap().contains("thread_signal"));
        let appended = TicketWrite::Appended {
            ticket_id: "t_other".into(),
            signal: Signal::Subject,
        };
        let a = for_write(&t, &appended).unwrap();
        assert_eq!(
            (a.kind, a.ticket_id.as_str(), a.thread_signal),
            (EventKind::MessageAdded, "t_other", Some(Signal::Subject))
        );
        assert!(
            serde_json::to_string(&a)
                .unwrap()
                .contains(r#""thread_signal":"subject""#)
        );
        assert_ne!(a.id, e.id);
        let again = TicketWrite::AlreadyRecorded {
            ticket_id: t.id.clone(),
        };
        assert_eq!(for_write(&t, &again), None);
    }

    #[test]
    fn a_change_carries_its_new_event_once() {
        assert_eq!(carried(None, Some("e1")), Some("e1"));
        assert_eq!(carried(Some("e1"), Some("e2")), Some("e2"));
        assert_eq!(carried(Some("e1"), Some("e1")), None);
        assert_eq!(carried(Some("e1"), None), None);
        assert_eq!(carried(None, Some(" ")), None);
        assert_eq!(carried(None, None), None);
    }

    #[test]
    fn an_event_carries_a_bounded_excerpt_not_the_body() {
        let body = format!("{} SECRET-TAIL", "word ".repeat(2_000));
        let t = ticket(&body);
        let e = for_write(
            &t,
            &TicketWrite::Created {
                ticket_id: t.id.clone(),
            },
        )
        .unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("SECRET-TAIL"), "{json}");
        assert!(e.excerpt.chars().count() <= MAX_EXCERPT_CHARS + 1);
        assert!(json.contains(r#""type":"ticket.created""#), "{json}");
    }

    #[test]
    fn an_event_names_the_priority_as_before() {
        let t = ticket("Our checkout is down and returns an error.");
        let e = for_write(
            &t,
            &TicketWrite::Created {
                ticket_id: t.id.clone(),
            },
        )
        .unwrap();
        assert_eq!(e.priority, t.priority.as_str());
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["priority"], "high", "{json}");
        assert_eq!(serde_json::from_value::<TicketEvent>(json).unwrap(), e);
    }

    #[test]
    fn sanitising_removes_controls_and_cuts_at_words() {
        assert_eq!(sanitised("a\u{0}b\n\tc", 10), "a b c");
        assert_eq!(sanitised("one two three four", 14), "one two three…");
        assert_eq!(sanitised("one two thirteen", 12), "one two thir…");
        assert_eq!(sanitised("abcdefghijklmnop", 5), "abcde…");
        assert_eq!(sanitised("", 5), "");
    }
}
