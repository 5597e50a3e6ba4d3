//! The compact Slack incoming-webhook message for a ticket event (#12):
//! subject, queue, category, priority, the requester's domain (never the
//! address), a short excerpt and the ticket id. Text from the mail is
//! escaped as Slack's `mrkdwn` requires (`&`, `<`, `>`), so a subject cannot
//! forge a link or a mention.

use serde_json::{Value, json};

use crate::events::{EventKind, TicketEvent};

/// `&`, `<` and `>` as Slack's control-sequence escapes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The incoming-webhook body: a plain `text` fallback and two blocks.
pub fn message(event: &TicketEvent) -> Value {
    let what = match event.kind {
        EventKind::TicketCreated => "New ticket",
        EventKind::MessageAdded => "New message on ticket",
    };
    let subject = if event.subject.is_empty() {
        "(no subject)".to_string()
    } else {
        escape(&event.subject)
    };
    let from = if event.requester_domain.is_empty() {
        "unknown sender".to_string()
    } else {
        escape(&event.requester_domain)
    };
    let headline = format!("{what} in *{}*: {subject}", escape(&event.queue));
    json!({
        "text": format!("{what} in {}: {subject}", escape(&event.queue)),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "section", "text": {"type": "mrkdwn", "text": format!(">{}", escape(&event.excerpt))}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
                "{} · {} priority · from {from} · `{}`",
                escape(&event.category), escape(&event.priority), escape(&event.ticket_id)
            )}]},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Participant;

    fn event() -> TicketEvent {
        TicketEvent {
            id: "evt_1".into(),
            kind: EventKind::TicketCreated,
            ticket_id: "t_abc".into(),
            message_id: "m1".into(),
            queue: "incidents".into(),
            category: "incidents".into(),
            priority: "high".into(),
            rules: vec!["incidents".into()],
            subject: "Down <!channel> & <https://evil.example|click>".into(),
            requester: Participant {
                name: "Ann".into(),
                email: "ann@example.com".into(),
            },
            requester_domain: "example.com".into(),
            excerpt: "Checkout returns 500".into(),
            occurred_at: 1,
            thread_signal: None,
        }
    }

    #[test]
    fn the_message_is_compact_escaped_and_has_no_address() {
        let m = message(&event());
        let s = m.to_string();
        assert!(s.contains("New ticket in *incidents*"), "{s}");
        assert!(
            s.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"),
            "{s}"
        );
        assert!(!s.contains("<!channel>"), "{s}");
        assert!(s.contains("from example.com"), "{s}");
        assert!(s.contains("`t_abc`") && s.contains("high priority"), "{s}");
        assert!(!s.contains("ann@example.com"), "{s}");
        assert_eq!(m["blocks"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn an_appended_message_and_an_empty_subject_read_well() {
        let mut e = event();
        e.kind = EventKind::MessageAdded;
        e.subject.clear();
        e.requester_domain.clear();
        let s = message(&e)["text"].as_str().unwrap().to_string();
        assert_eq!(s, "New message on ticket in incidents: (no subject)");
    }
}
