//! Threading: which existing ticket, if any, a message joins. The rules
//! live here; every store (SQLite, DynamoDB, memory) only looks candidates
//! up, in the order below, and asks [`decide`], so they cannot disagree.
//!
//! The signals, strongest first; the first that finds a ticket decides:
//!
//! 1. **Provider thread id** ([`Signal::ThreadId`]) and 2. **RFC header
//!    keys** ([`Signal::MessageId`]: `Message-ID`, `In-Reply-To`,
//!    `References`): write-once pointers in each store; a match appends.
//! 3. **Ticket reference** in the subject ([`Signal::TicketRef`]): the tag
//!    acknowledgements write, `[#t_<24 hex>]` ([`reference`]), naming a
//!    ticket of the same grant.
//! 4. **Normalised subject** ([`Signal::Subject`]): the most recently
//!    created ticket of the grant with the same [`subject::normalise`]d
//!    subject, if its last message is within [`SUBJECT_WINDOW_S`] of this
//!    message's date; generic subjects never thread ([`subject::is_generic`]).
//!
//! Signals 3 and 4 come from text anyone can copy, so a match appends only
//! when the sender (the message's `From` address, case-insensitive;
//! `Reply-To` is the sender's to choose and does not count) is a
//! participant of the ticket: its requester, its opening message's sender,
//! or in its `To` or `Cc` ([`is_participant`]). Otherwise the message opens
//! a new ticket whose `applied_rules` say why (rule [`THREAD_RULE`], e.g.
//! `new: sender is not a participant of the subject match`: never an
//! address or subject). An append reports its [`Signal`].

pub mod reference;
pub mod subject;

use serde::{Deserialize, Serialize};

use crate::message::Participant;
use crate::ticket::{AppliedRule, MAX_PARTICIPANT_CHARS, Ticket, cap_chars};

pub use subject::{normalise, subject_key};

/// How far apart (either way) this message's date and the last message of
/// a ticket with the same subject may be for the subject to thread: 14
/// days, in seconds.
pub const SUBJECT_WINDOW_S: i64 = 14 * 24 * 3600;
/// The `applied_rules` name of threading's decisions.
pub const THREAD_RULE: &str = "thread";
/// Most `applied_rules` a ticket keeps once threading added its own.
pub const MAX_APPLIED_RULES: usize = 32;

/// Which signal joined a message to its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// The provider's thread id.
    ThreadId,
    /// An RFC `Message-ID`, `In-Reply-To` or `References` key.
    MessageId,
    /// The ticket reference in the subject.
    TicketRef,
    /// The normalised subject, within the window.
    Subject,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::ThreadId => "thread_id",
            Signal::MessageId => "message_id",
            Signal::TicketRef => "ticket_ref",
            Signal::Subject => "subject",
        }
    }

    /// The signal named by [`Signal::as_str`].
    pub fn parse(s: &str) -> Option<Signal> {
        [
            Signal::ThreadId,
            Signal::MessageId,
            Signal::TicketRef,
            Signal::Subject,
        ]
        .into_iter()
        .find(|sig| sig.as_str() == s)
    }

    /// The `applied_rules` decision that names it: `signal=subject`.
    pub fn decision(self) -> String {
        format!("signal={}", self.as_str())
    }

    /// The signal of an append through a message's own pin (a redelivery
    /// whose pin does not say how it matched): its thread pointer when that
    /// names the same ticket, else its header keys.
    pub fn of_pin(thread_pointer_names_target: bool) -> Signal {
        if thread_pointer_names_target {
            Signal::ThreadId
        } else {
            Signal::MessageId
        }
    }
}

/// What [`decide`] needs of a ticket a reference or subject found: whose
/// it is, who takes part in it, when it last heard from anyone. Stores read
/// these fields of the ticket (they never change but `last_message_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: String,
    pub grant_id: String,
    #[serde(default)]
    pub requester: Participant,
    #[serde(default)]
    pub to: Vec<Participant>,
    #[serde(default)]
    pub cc: Vec<Participant>,
    #[serde(default)]
    pub sender: Option<String>,
    pub last_message_at: i64,
}

impl From<&Ticket> for Candidate {
    fn from(t: &Ticket) -> Self {
        Candidate {
            id: t.id.clone(),
            grant_id: t.grant_id.clone(),
            requester: t.requester.clone(),
            to: t.to.clone(),
            cc: t.cc.clone(),
            sender: t.sender.clone(),
            last_message_at: t.last_message_at,
        }
    }
}

/// What a store looks up, in this order, for a message that no thread or
/// header pointer placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookups {
    /// The ticket id its subject refers to.
    pub reference: Option<String>,
    /// Its subject pointer key ([`subject_key`]); `None`: it never threads
    /// by subject, and a ticket it opens gets no subject pointer.
    pub subject: Option<String>,
}

/// The lookups for `message` (the ticket built from it).
pub fn lookups(message: &Ticket) -> Lookups {
    Lookups {
        reference: reference::find(&message.subject).map(str::to_string),
        subject: subject_key(&message.subject),
    }
}

/// What becomes of a message no thread or header pointer placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Append it to this ticket.
    Append { ticket_id: String, signal: Signal },
    /// It opens a new ticket; `rule`, when set, says why a candidate was
    /// refused (add it with [`record`]). `claims_subject`: the new ticket
    /// becomes the one its subject leads to (its store moves the subject
    /// pointer). Not when a participant check refused it: a stranger who
    /// copies a subject must not take the subject over from the ticket
    /// whose participants use it.
    New {
        rule: Option<AppliedRule>,
        claims_subject: bool,
    },
}

/// The decision for `message` given what the first signal that found a
/// ticket found (`None`: nothing). A candidate of another grant is
/// nothing; a subject match must be within the window; any match appends
/// only a participant's message.
pub fn decide(message: &Ticket, found: Option<(Signal, &Candidate)>) -> Decision {
    let Some((signal, candidate)) = found else {
        return Decision::New {
            rule: None,
            claims_subject: true,
        };
    };
    if candidate.grant_id != message.grant_id || candidate.id == message.id {
        return Decision::New {
            rule: None,
            claims_subject: true,
        };
    }
    let refused = |why: String, claims_subject: bool| Decision::New {
        rule: Some(AppliedRule {
            rule: THREAD_RULE.to_string(),
            decision: format!("new: {why}"),
        }),
        claims_subject,
    };
    if signal == Signal::Subject && !within_window(candidate.last_message_at, message.received_at) {
        return refused("the subject match is outside the window".to_string(), true);
    }
    if !is_participant(message.sender.as_deref(), candidate) {
        return refused(
            format!(
                "sender is not a participant of the {} match",
                signal.as_str()
            ),
            false,
        );
    }
    Decision::Append {
        ticket_id: candidate.id.clone(),
        signal,
    }
}

/// Whether two instants (unix seconds) are at most [`SUBJECT_WINDOW_S`]
/// apart.
pub fn within_window(a: i64, b: i64) -> bool {
    a.abs_diff(b) <= SUBJECT_WINDOW_S.unsigned_abs()
}

/// Whether `sender` (an address) takes part in `candidate`: its requester,
/// its opening message's sender, or in its `To` or `Cc`. Case-insensitive;
/// no sender, or an empty one, takes part in nothing.
pub fn is_participant(sender: Option<&str>, candidate: &Candidate) -> bool {
    let Some(sender) = sender.and_then(address) else {
        return false;
    };
    std::iter::once(candidate.requester.email.as_str())
        .chain(candidate.sender.as_deref())
        .chain(candidate.to.iter().map(|p| p.email.as_str()))
        .chain(candidate.cc.iter().map(|p| p.email.as_str()))
        .filter_map(address)
        .any(|a| a == sender)
}

/// An address as participants are compared: trimmed, angle brackets off,
/// lower case, at most [`MAX_PARTICIPANT_CHARS`]; `None` unless it has an
/// `@` with something before and after it.
pub fn address(email: &str) -> Option<String> {
    let a = email
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_lowercase();
    let (local, domain) = a.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some(cap_chars(&a, MAX_PARTICIPANT_CHARS))
}

/// Add threading's `rule` to `rules`: it replaces an earlier threading
/// rule, and `rules` stays within [`MAX_APPLIED_RULES`].
pub fn record(rules: &mut Vec<AppliedRule>, rule: AppliedRule) {
    rules.retain(|r| r.rule != THREAD_RULE);
    rules.truncate(MAX_APPLIED_RULES.saturating_sub(1));
    rules.push(rule);
}

#[cfg(test)]
mod tests;
