//! Auto-acknowledgements with loop protection (issue #12; the pure part):
//! whether a ticket write may be acknowledged, and the acknowledgement
//! itself. Sending, the once-per-ticket record and the per-sender limit are
//! the adapters' (conditional writes with a TTL, keyed by [`Acknowledgement::
//! once_key`] and [`Acknowledgement::sender_key`]).
//!
//! The loop guard is layered: only a *new* ticket is acknowledged; never
//! automatic mail (the skip filters again, so a caller that skipped them is
//! still safe), nor mail that asks not to be answered automatically
//! (`X-Auto-Response-Suppress`), nor delivery-report, no-reply or our own
//! addresses; and every acknowledgement says `Auto-Submitted: auto-replied`
//! and `X-Auto-Response-Suppress: All`, which our own filters (and RFC 3834
//! responders) refuse to answer, so two pipelines acknowledging each other
//! stop after the first.

pub mod policy;
pub mod service;

use sha2::{Digest, Sha256};

pub use policy::AckPolicy;
pub use service::{
    AckLedger, AckOutcome, AckSender, Acknowledgements, Acknowledger, InMemoryLedger,
    NoAcknowledgements, ReplyVia, SendError,
};

use crate::filters::{is_automatic, is_unanswerable};
use crate::message::{Message, Participant};
use crate::ticket::{Ticket, TicketWrite};

/// Longest subject of an acknowledgement's original part, in characters.
const MAX_SUBJECT_CHARS: usize = 200;
/// A `Message-ID` longer than this is not threaded on.
const MAX_MESSAGE_ID_CHARS: usize = 512;
/// Longest `References` kept (a header line stays under 998 octets).
const MAX_REFERENCES_CHARS: usize = 900;

/// Why a ticket write gets no acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAck {
    /// Only a new ticket is acknowledged, not a message appended to one.
    NotANewTicket,
    /// Automatic mail (auto-reply, bounce, bulk...).
    Automatic,
    /// The message asks not to be answered automatically.
    Suppressed,
    /// No address to answer to.
    NoRequester,
    /// A delivery-report or no-reply address.
    Unanswerable,
    /// One of our own addresses.
    OwnAddress,
}

impl NoAck {
    pub fn code(self) -> &'static str {
        match self {
            NoAck::NotANewTicket => "not_a_new_ticket",
            NoAck::Automatic => "automatic",
            NoAck::Suppressed => "suppressed",
            NoAck::NoRequester => "no_requester",
            NoAck::Unanswerable => "unanswerable",
            NoAck::OwnAddress => "own_address",
        }
    }
}

/// An acknowledgement ready for a sender (provider send API, SES).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    pub to: Participant,
    pub subject: String,
    pub text: String,
    /// Loop protection and threading headers.
    pub headers: Vec<(&'static str, String)>,
    pub ticket_id: String,
}

impl Acknowledgement {
    /// The key of the once-per-ticket record.
    pub fn once_key(&self) -> String {
        format!("ack#{}", self.ticket_id)
    }

    /// The key of the per-sender counter (a digest: keys carry no address).
    pub fn sender_key(&self) -> String {
        let email = self.to.email.trim().to_ascii_lowercase();
        format!(
            "ack-sender#{}",
            &hex::encode(Sha256::digest(email.as_bytes()))[..32]
        )
    }
}

/// Whom to acknowledge for this write, or why nobody. `support_addresses`
/// are ours, lower case.
pub fn recipient(
    msg: &Message,
    write: &TicketWrite,
    support_addresses: &[String],
) -> Result<Participant, NoAck> {
    if !matches!(write, TicketWrite::Created { .. }) {
        return Err(NoAck::NotANewTicket);
    }
    if is_automatic(msg).is_some() {
        return Err(NoAck::Automatic);
    }
    if msg.header("X-Auto-Response-Suppress").is_some_and(|v| {
        v.split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .any(|t| t == "all" || t == "autoreply" || t == "oof")
    }) {
        return Err(NoAck::Suppressed);
    }
    let to = msg
        .reply_to
        .first()
        .or(msg.from.first())
        .filter(|p| !p.email.trim().is_empty())
        .cloned()
        .ok_or(NoAck::NoRequester)?;
    let email = to.email.trim().to_ascii_lowercase();
    if is_unanswerable(&email) {
        return Err(NoAck::Unanswerable);
    }
    if support_addresses
        .iter()
        .any(|a| a.trim().eq_ignore_ascii_case(&email))
    {
        return Err(NoAck::OwnAddress);
    }
    Ok(to)
}

/// The acknowledgement of `ticket` (opened by `msg`) to `to`, promising an
/// answer within `response_time` (e.g. "4 hours", from the rules file).
pub fn compose(
    ticket: &Ticket,
    msg: &Message,
    to: Participant,
    response_time: &str,
) -> Acknowledgement {
    // Text from the mail goes into headers: no control character (a CR or
    // LF would start a header of the sender's choosing), bounded length.
    let original = crate::events::sanitised(&ticket.subject, MAX_SUBJECT_CHARS);
    // The ticket's tag, which threading reads back from a reply's subject.
    let tag = crate::threading::reference::tag(&ticket.id);
    let subject = if original.is_empty() {
        format!("{tag} We received your message")
    } else if original.to_ascii_lowercase().starts_with("re:") {
        format!("{original} {tag}")
    } else {
        format!("Re: {original} {tag}")
    };
    let text = format!(
        "Thank you for writing to us. Your request is ticket {} in our {} queue; \
         we aim to answer within {response_time}.\n\n\
         Reply to this message to add to the ticket.\n",
        ticket.id, ticket.queue
    );
    let mut headers = vec![
        ("Auto-Submitted", "auto-replied".to_string()),
        ("X-Auto-Response-Suppress", "All".to_string()),
    ];
    let clean = |v: &str| crate::events::sanitised(v, MAX_REFERENCES_CHARS);
    if let Some(id) = msg
        .header("Message-ID")
        .map(clean)
        .filter(|v| !v.is_empty() && v.len() <= MAX_MESSAGE_ID_CHARS)
    {
        let references = match msg
            .header("References")
            .map(clean)
            .filter(|v| !v.is_empty())
        {
            Some(r) => clean(&format!("{r} {id}")),
            None => id.clone(),
        };
        headers.push(("In-Reply-To", id));
        headers.push(("References", references));
    }
    Acknowledgement {
        to,
        subject,
        text,
        headers,
        ticket_id: ticket.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Rules;
    use crate::filters::{FilterContext, skip_reason};
    use crate::message::Header;
    use crate::ticket::build_ticket;

    fn mail(from: &str, headers: &[(&str, &str)]) -> Message {
        Message {
            id: "m1".into(),
            grant_id: "g1".into(),
            subject: Some("Checkout is down".into()),
            from: vec![Participant {
                name: "Ann".into(),
                email: from.into(),
            }],
            body: Some("It fails.".into()),
            headers: Some(
                headers
                    .iter()
                    .map(|(n, v)| Header {
                        name: (*n).into(),
                        value: (*v).into(),
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn created() -> TicketWrite {
        TicketWrite::Created {
            ticket_id: "t_1".into(),
        }
    }

    fn ours() -> Vec<String> {
        vec!["support@acme.example".into()]
    }

    #[test]
    fn only_a_new_human_ticket_from_a_real_address_is_acknowledged() {
        let m = mail("ann@example.com", &[("Message-ID", "<a1@example.com>")]);
        assert_eq!(
            recipient(&m, &created(), &ours()).unwrap().email,
            "ann@example.com"
        );
        let appended = TicketWrite::Appended {
            ticket_id: "t_1".into(),
            signal: crate::threading::Signal::ThreadId,
        };
        assert_eq!(recipient(&m, &appended, &ours()), Err(NoAck::NotANewTicket));
        for (from, headers, want) in [
            (
                "ann@example.com",
                vec![("Auto-Submitted", "auto-replied")],
                NoAck::Automatic,
            ),
            (
                "ann@example.com",
                vec![("X-Auto-Response-Suppress", "OOF, AutoReply")],
                NoAck::Suppressed,
            ),
            ("MAILER-DAEMON@example.com", vec![], NoAck::Automatic),
            ("no-reply+x@example.com", vec![], NoAck::Unanswerable),
            ("Support@Acme.example", vec![], NoAck::OwnAddress),
            ("", vec![], NoAck::NoRequester),
        ] {
            let m = mail(from, &headers);
            assert_eq!(
                recipient(&m, &created(), &ours()),
                Err(want),
                "{from} {headers:?}"
            );
        }
        assert!(is_unanswerable("Postmaster@example.org"));
        assert!(is_unanswerable("not-an-address"));
        assert!(!is_unanswerable("noreplyneeded@example.org"));
    }

    #[test]
    fn text_from_the_mail_cannot_add_headers() {
        let m = mail(
            "ann@example.com",
            &[
                ("Message-ID", "<a1@example.com>\r\nBcc: victim@example.org"),
                ("References", "<r0@example.com>\nX-Evil: 1"),
            ],
        );
        let class = Rules::default_rules().classify(&m, "x");
        let mut ticket = build_ticket(&m, &class, "x", 10);
        ticket.subject = "Help\r\nBcc: victim@example.org".into();
        let to = recipient(&m, &created(), &ours()).unwrap();
        let ack = compose(&ticket, &m, to, "4 hours");
        assert!(!ack.subject.contains(['\r', '\n']), "{}", ack.subject);
        for (name, value) in &ack.headers {
            assert!(!value.contains(['\r', '\n']), "{name}: {value:?}");
        }
    }

    #[test]
    fn an_acknowledgement_threads_and_is_never_itself_acknowledged_or_ticketed() {
        let m = mail(
            "ann@example.com",
            &[
                ("Message-ID", "<a1@example.com>"),
                ("References", "<r0@example.com>"),
            ],
        );
        let class = Rules::default_rules().classify(&m, "It fails.");
        let ticket = build_ticket(&m, &class, "It fails.", 10);
        let to = recipient(&m, &created(), &ours()).unwrap();
        let ack = compose(&ticket, &m, to, "4 hours");
        assert!(
            ack.subject.starts_with("Re: Checkout is down ["),
            "{}",
            ack.subject
        );
        assert!(ack.text.contains(&ticket.id) && ack.text.contains("4 hours"));
        // A reply's subject leads threading back to the ticket.
        assert_eq!(
            crate::threading::reference::find(&format!("AW: {}", ack.subject)),
            Some(ticket.id.as_str())
        );
        let header = |n: &str| {
            ack.headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("Auto-Submitted"), Some("auto-replied"));
        assert_eq!(header("X-Auto-Response-Suppress"), Some("All"));
        assert_eq!(header("In-Reply-To"), Some("<a1@example.com>"));
        assert_eq!(
            header("References"),
            Some("<r0@example.com> <a1@example.com>")
        );
        assert_eq!(ack.once_key(), format!("ack#{}", ticket.id));
        assert!(!ack.sender_key().contains('@'));

        // The other pipeline receives our acknowledgement: its filters skip
        // it (no ticket), and were it ticketed anyway, no acknowledgement.
        let echo = Message {
            from: vec![Participant {
                name: String::new(),
                email: "support@acme.example".into(),
            }],
            subject: Some(ack.subject.clone()),
            body: Some(ack.text.clone()),
            headers: Some(
                ack.headers
                    .iter()
                    .map(|(n, v)| Header {
                        name: (*n).into(),
                        value: v.clone(),
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        assert!(skip_reason(&echo, &FilterContext::default()).is_some());
        let theirs = vec!["help@other.example".to_string()];
        assert_eq!(recipient(&echo, &created(), &theirs), Err(NoAck::Automatic));
    }
}
