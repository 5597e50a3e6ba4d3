//! Acknowledging a new ticket: the ports (a ledger of what was sent, a
//! sender) and the order of the checks, shared by every runner.
//!
//! Order: the policy is on; the write and the message may be answered
//! ([`super::recipient`]); the ticket's once-record is new (a conditional
//! write: never twice for one ticket); the sender has a slot left in its
//! 24-hour window (a conditional counter with a TTL); then send. The records
//! are written before sending, so a crash or a failed send means no
//! acknowledgement rather than two.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use super::{Acknowledgement, NoAck, compose, recipient};
use crate::acknowledgement::AckPolicy;
use crate::message::Message;
use crate::ports::StoreError;
use crate::ticket::{Ticket, TicketWrite};

/// How long a ticket's once-record is kept (the ticket will not be
/// "new" again; the record only has to outlive redeliveries).
pub const ONCE_RECORD_TTL_S: i64 = 30 * 24 * 3600;
/// The per-sender window.
pub const SENDER_WINDOW_S: i64 = 24 * 3600;

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("send failed, transient: {0}")]
    Transient(String),
    #[error("send failed: {0}")]
    Permanent(String),
}

/// Records of acknowledgements sent.
pub trait AckLedger: Send + Sync {
    /// Record that ticket `key` is acknowledged (kept until `expires_at_s`);
    /// `Ok(false)` when it already was.
    fn record_once(
        &self,
        key: &str,
        expires_at_s: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Take one of the `limit` acknowledgements sender `key` may get in a
    /// window of `window_s` seconds starting at its first one; `Ok(false)`
    /// when none is left.
    fn take_sender_slot(
        &self,
        key: &str,
        limit: u32,
        now_s: i64,
        window_s: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Where the acknowledged message came in: the reply goes out the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyVia<'a> {
    /// The provider's name (`nylas`, `inbound`).
    pub provider: &'a str,
    pub grant_id: &'a str,
    pub message_id: &'a str,
}

/// Sends acknowledgements (the Nylas send endpoint, Amazon SES).
pub trait AckSender: Send + Sync {
    fn send(
        &self,
        via: &ReplyVia<'_>,
        ack: &Acknowledgement,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// What became of a new ticket's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// Acknowledgements are off.
    Disabled,
    /// This write or message is not acknowledged.
    Skipped(NoAck),
    /// The ticket was acknowledged before (a redelivery).
    AlreadyAcknowledged,
    /// The sender had its acknowledgements for the day.
    SenderLimited,
    Sent,
    /// Recording or sending failed; nothing more is tried for this ticket.
    Failed(String),
}

impl AckOutcome {
    pub fn code(&self) -> &'static str {
        match self {
            AckOutcome::Disabled => "disabled",
            AckOutcome::Skipped(no) => no.code(),
            AckOutcome::AlreadyAcknowledged => "already_acknowledged",
            AckOutcome::SenderLimited => "sender_limited",
            AckOutcome::Sent => "sent",
            AckOutcome::Failed(_) => "failed",
        }
    }
}

/// The worker's view: acknowledge (or not) after a ticket write.
pub trait Acknowledger: Send + Sync {
    fn acknowledge(
        &self,
        ticket: &Ticket,
        msg: &Message,
        write: &TicketWrite,
        via: &ReplyVia<'_>,
        now_s: i64,
    ) -> impl Future<Output = AckOutcome> + Send;
}

/// Acknowledgements off.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAcknowledgements;

impl Acknowledger for NoAcknowledgements {
    async fn acknowledge(
        &self,
        _: &Ticket,
        _: &Message,
        _: &TicketWrite,
        _: &ReplyVia<'_>,
        _: i64,
    ) -> AckOutcome {
        AckOutcome::Disabled
    }
}

/// The policy, our addresses, a ledger and a sender.
#[derive(Debug, Clone)]
pub struct Acknowledgements<L, A> {
    pub policy: AckPolicy,
    /// Our own addresses (never acknowledged), lower case.
    pub support_addresses: Vec<String>,
    pub ledger: L,
    pub sender: A,
}

impl<L: AckLedger, A: AckSender> Acknowledger for Acknowledgements<L, A> {
    async fn acknowledge(
        &self,
        ticket: &Ticket,
        msg: &Message,
        write: &TicketWrite,
        via: &ReplyVia<'_>,
        now_s: i64,
    ) -> AckOutcome {
        if !self.policy.enabled {
            return AckOutcome::Disabled;
        }
        let to = match recipient(msg, write, &self.support_addresses) {
            Ok(to) => to,
            Err(no) => return AckOutcome::Skipped(no),
        };
        let ack = compose(ticket, msg, to, self.policy.response_time(ticket.priority));
        match self
            .ledger
            .record_once(&ack.once_key(), now_s.saturating_add(ONCE_RECORD_TTL_S))
            .await
        {
            Ok(true) => {}
            Ok(false) => return AckOutcome::AlreadyAcknowledged,
            Err(e) => return AckOutcome::Failed(format!("once-record: {e}")),
        }
        match self
            .ledger
            .take_sender_slot(
                &ack.sender_key(),
                self.policy.per_sender_per_day,
                now_s,
                SENDER_WINDOW_S,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => return AckOutcome::SenderLimited,
            Err(e) => return AckOutcome::Failed(format!("sender limit: {e}")),
        }
        match self.sender.send(via, &ack).await {
            Ok(()) => AckOutcome::Sent,
            Err(e) => AckOutcome::Failed(e.to_string()),
        }
    }
}

/// A ledger in memory (one process: tests, `triage` without a store).
#[derive(Debug, Default)]
pub struct InMemoryLedger {
    once: Mutex<HashMap<String, i64>>,
    /// Sender key -> (window start, count).
    senders: Mutex<HashMap<String, (i64, u32)>>,
}

impl AckLedger for InMemoryLedger {
    async fn record_once(&self, key: &str, expires_at_s: i64) -> Result<bool, StoreError> {
        let mut once = self
            .once
            .lock()
            .map_err(|_| StoreError::Unavailable("ledger lock poisoned".into()))?;
        Ok(once.insert(key.to_string(), expires_at_s).is_none())
    }

    async fn take_sender_slot(
        &self,
        key: &str,
        limit: u32,
        now_s: i64,
        window_s: i64,
    ) -> Result<bool, StoreError> {
        let mut senders = self
            .senders
            .lock()
            .map_err(|_| StoreError::Unavailable("ledger lock poisoned".into()))?;
        let slot = senders.entry(key.to_string()).or_insert((now_s, 0));
        if now_s >= slot.0.saturating_add(window_s) {
            *slot = (now_s, 0);
        }
        if slot.1 >= limit {
            return Ok(false);
        }
        slot.1 += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Rules;
    use crate::filters::{FilterContext, skip_reason};
    use crate::message::{Header, Participant};
    use crate::ticket::build_ticket;

    /// A sender that records what it sent (the "network" between pipelines).
    #[derive(Default)]
    struct Outbox {
        sent: Mutex<Vec<Acknowledgement>>,
        fail: bool,
    }

    impl AckSender for &Outbox {
        async fn send(&self, _: &ReplyVia<'_>, ack: &Acknowledgement) -> Result<(), SendError> {
            if self.fail {
                return Err(SendError::Transient("HTTP 503".into()));
            }
            self.sent.lock().unwrap().push(ack.clone());
            Ok(())
        }
    }

    fn policy(per_sender: u32) -> AckPolicy {
        let text =
            format!("[acknowledgements]\nenabled = true\nper_sender_per_day = {per_sender}\n");
        Rules::from_toml(&text).unwrap().acknowledgements().clone()
    }

    const VIA: ReplyVia<'static> = ReplyVia {
        provider: "inbound",
        grant_id: "g",
        message_id: "m",
    };

    fn mail(
        id: &str,
        from: &str,
        to: &str,
        subject: &str,
        headers: Vec<(&str, String)>,
    ) -> Message {
        Message {
            id: id.into(),
            grant_id: "g".into(),
            subject: Some(subject.into()),
            from: vec![Participant {
                name: String::new(),
                email: from.into(),
            }],
            to: vec![Participant {
                name: String::new(),
                email: to.into(),
            }],
            body: Some("Please help.".into()),
            headers: Some(
                headers
                    .into_iter()
                    .map(|(n, v)| Header {
                        name: n.into(),
                        value: v,
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    /// One pipeline: filters, ticket, acknowledgement (as the worker does).
    async fn pipeline<A: AckSender>(
        acks: &Acknowledgements<InMemoryLedger, A>,
        msg: &Message,
        now_s: i64,
    ) -> Option<AckOutcome> {
        let ctx = FilterContext {
            support_addresses: &acks.support_addresses,
            ..FilterContext::default()
        };
        if skip_reason(msg, &ctx).is_some() {
            return None;
        }
        let class = Rules::default_rules().classify(msg, "Please help.");
        let ticket = build_ticket(msg, &class, "Please help.", now_s);
        let write = TicketWrite::Created {
            ticket_id: ticket.id.clone(),
        };
        Some(acks.acknowledge(&ticket, msg, &write, &VIA, now_s).await)
    }

    #[tokio::test]
    async fn two_pipelines_acknowledging_each_other_stop_after_the_first() {
        let (net_a, net_b) = (Outbox::default(), Outbox::default());
        let a = Acknowledgements {
            policy: policy(5),
            support_addresses: vec!["support@acme.example".into()],
            ledger: InMemoryLedger::default(),
            sender: &net_a,
        };
        let b = Acknowledgements {
            policy: policy(5),
            support_addresses: vec!["help@other.example".into()],
            ledger: InMemoryLedger::default(),
            sender: &net_b,
        };
        // B's support address writes to A (a human, or B's own pipeline).
        let first = mail(
            "x1",
            "help@other.example",
            "support@acme.example",
            "Order 42",
            vec![("Message-ID", "<x1@other.example>".into())],
        );
        assert_eq!(pipeline(&a, &first, 100).await, Some(AckOutcome::Sent));
        // Ping-pong: each acknowledgement is delivered to the other side.
        let mut exchanged = 1;
        let mut to_b = net_a.sent.lock().unwrap().clone();
        let mut to_a: Vec<Acknowledgement> = Vec::new();
        for round in 0..10 {
            for ack in to_b.drain(..) {
                let m = mail(
                    &format!("b{round}"),
                    "support@acme.example",
                    &ack.to.email,
                    &ack.subject,
                    ack.headers.iter().map(|(n, v)| (*n, v.clone())).collect(),
                );
                if let Some(AckOutcome::Sent) = pipeline(&b, &m, 200).await {
                    exchanged += 1;
                }
            }
            to_a.extend(net_b.sent.lock().unwrap().drain(..));
            for ack in to_a.drain(..) {
                let m = mail(
                    &format!("a{round}"),
                    "help@other.example",
                    &ack.to.email,
                    &ack.subject,
                    ack.headers.iter().map(|(n, v)| (*n, v.clone())).collect(),
                );
                if let Some(AckOutcome::Sent) = pipeline(&a, &m, 300).await {
                    exchanged += 1;
                }
            }
            to_b.extend(net_a.sent.lock().unwrap().drain(..));
        }
        assert_eq!(
            exchanged, 1,
            "the loop stops after the first acknowledgement"
        );
        assert!(net_b.sent.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn once_per_ticket_and_per_sender_per_day() {
        let net = Outbox::default();
        let acks = Acknowledgements {
            policy: policy(1),
            support_addresses: vec!["support@acme.example".into()],
            ledger: InMemoryLedger::default(),
            sender: &net,
        };
        let m1 = mail(
            "m1",
            "ann@example.com",
            "support@acme.example",
            "One",
            vec![],
        );
        let m2 = mail(
            "m2",
            "Ann@Example.com",
            "support@acme.example",
            "Two",
            vec![],
        );
        assert_eq!(pipeline(&acks, &m1, 1_000).await, Some(AckOutcome::Sent));
        // The same ticket again (a redelivery): never a second one.
        assert_eq!(
            pipeline(&acks, &m1, 1_001).await,
            Some(AckOutcome::AlreadyAcknowledged)
        );
        // A second ticket from the same sender within 24 h: limited.
        assert_eq!(
            pipeline(&acks, &m2, 2_000).await,
            Some(AckOutcome::SenderLimited)
        );
        // A third, a day later: the window has moved on.
        let m3 = mail(
            "m3",
            "ann@example.com",
            "support@acme.example",
            "Three",
            vec![],
        );
        assert_eq!(
            pipeline(&acks, &m3, 1_000 + SENDER_WINDOW_S).await,
            Some(AckOutcome::Sent)
        );
        assert_eq!(net.sent.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn off_by_default_and_a_failed_send_is_not_retried_into_a_double() {
        let net = Outbox {
            fail: true,
            ..Outbox::default()
        };
        let mut acks = Acknowledgements {
            policy: AckPolicy::default(),
            support_addresses: vec![],
            ledger: InMemoryLedger::default(),
            sender: &net,
        };
        let m = mail(
            "m1",
            "ann@example.com",
            "support@acme.example",
            "One",
            vec![],
        );
        assert_eq!(pipeline(&acks, &m, 1).await, Some(AckOutcome::Disabled));
        acks.policy = policy(1);
        let failed = pipeline(&acks, &m, 1).await.unwrap();
        assert_eq!(failed.code(), "failed");
        assert_eq!(
            pipeline(&acks, &m, 2).await,
            Some(AckOutcome::AlreadyAcknowledged)
        );
    }
}
