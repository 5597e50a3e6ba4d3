//! Bounces that are not RFC 3464 reports (those are in `reports`): the
//! older formats of qmail, Exim, Sendmail, Postfix, Lotus Notes / Domino,
//! GroupWise, Exchange, Yahoo and Gmail, which say what they are in the
//! sender, the subject and the first lines of the body.
//!
//! A delivery-system sender (`MAILER-DAEMON@`, `postmaster@`) is a bounce
//! by itself. A bounce subject is not: a customer may write "Undeliverable
//! email" or "Delivery failed" (a parcel) in their own words. It counts
//! only with a second signal that the customer cannot have typed:
//!
//! - the body opens as a delivery system's does ([`BODY`], e.g. qmail's
//!   "Hi. This is the qmail-send program at"; quoted lines don't count);
//! - the display name of a delivery system ("Mail Delivery System") or
//!   Exchange's system mailbox (`MicrosoftExchange` + 32 hex digits);
//! - `Auto-Submitted` or a null `Return-Path: <>` (the envelope of every
//!   bounce);
//! - the returned message's headers as a part (`text/rfc822-headers`);
//! - without any headers (webhook payloads), one of the long subjects
//!   delivery software writes whole ([`MACHINE_SUBJECTS`]: "Undelivered
//!   Mail Returned to Sender", "Returned mail: see transcript for
//!   details"), which nobody types as their own.
//!
//! The body's opening with a delivery-system sender name is a bounce too,
//! whatever the subject.

use super::SkipReason;
use super::signals::{Mail, subject_prefix};

/// Local parts of addresses that send delivery reports.
pub(super) const SENDERS: &[&str] = &["mailer-daemon", "postmaster"];

/// Subjects delivery software writes whole, long enough that nobody types
/// them as their own (lower-case prefixes, after leading brackets).
/// Shorter ones ("Undeliverable: ...", "failure notice") are in
/// [`SUBJECTS`] and always need a second signal.
const MACHINE_SUBJECTS: &[&str] = &[
    "undelivered mail returned to sender",               // Postfix
    "delivery status notification (",                    // Gmail, Exchange: (Failure), (Delay)
    "returned mail: see transcript for details",         // Sendmail
    "mail delivery failed: returning message to sender", // Exim
    "warning: could not send message for past",          // Sendmail delay warning
    "mail system error - returned mail",                 // Sun / iPlanet, Openwave
    "message status - undeliverable",                    // GroupWise
];

/// Subject prefixes of bounces that people also write (lower-case).
const SUBJECTS: &[&str] = &[
    "undeliverable", // Exchange: Undeliverable: ...; Notes: Undeliverable message
    "undelivered mail",
    "undelivered message",
    "delivery status notification",
    "delivery notification",
    "mail delivery failed",
    "mail delivery failure",
    "mail delivery system",
    "mail delivery problem",
    "delivery failure", // Lotus Notes / Domino: DELIVERY FAILURE: ...
    "delivery failed",
    "delivery has failed",
    "returned mail",
    "failure notice", // qmail, Yahoo
    "non-delivery",
    "nondeliverable",
    "message not delivered",
    "delayed mail",
    "unzustellbar", // Exchange, German
    "nicht zustellbar",
    "non remis", // Exchange, French
    "non distribuable",
    "no se puede entregar", // Exchange, Spanish
    "non recapitabile",     // Exchange, Italian
    "onbestelbaar",         // Exchange, Dutch
];

/// How delivery software opens its bounces (lower-case, single spaces).
const BODY: &[&str] = &[
    // qmail (QSBMF) and Yahoo
    "this is the qmail-send program at",
    "i'm afraid i wasn't able to deliver your message",
    "sorry, we were unable to deliver your message",
    // Exim
    "this message was created automatically by mail delivery software",
    "a message that you sent could not be delivered to one or more of its recipients",
    // Postfix
    "this is the mail system at host",
    "i'm sorry to have to inform you that your message could not be delivered",
    // Sendmail
    "----- transcript of session follows -----",
    "----- the following addresses had permanent fatal errors -----",
    "the original message was received at",
    "this is a warning message only",
    // Exchange, IIS
    "delivery has failed to these recipients or groups",
    "your message did not reach some or all of the intended recipients",
    "this is an automatically generated delivery status notification",
    // Gmail (before its DSNs)
    "delivery to the following recipient failed permanently",
    "delivery to the following recipient has been delayed",
    // Lotus Notes / Domino
    "------- failure reasons",
    "not listed in domino directory",
    "not listed in public name & address book",
    // GroupWise
    "the message that you sent was undeliverable to the following",
    // Sun / iPlanet / Openwave ("Mail System Error - Returned Mail")
    "this message was undeliverable due to the following reason",
];

/// Display names of delivery systems (lower-case, whole name).
const SYSTEM_NAMES: &[&str] = &[
    "mail delivery system",
    "mail delivery subsystem",
    "mail delivery service",
    "mailer-daemon",
    "mailer daemon",
    "postmaster",
    "mail administrator",
    "system administrator",
    "microsoft outlook",
    "microsoft exchange",
    "internet mail delivery",
    "mail router",
];

/// The bounce signals of the sender, the subject and the body.
pub(super) fn by_sender_subject_body(m: &Mail<'_>) -> Option<SkipReason> {
    if let Some(local) = SENDERS.iter().find(|l| m.sender.local == **l) {
        return Some(SkipReason::Bounce(format!("From: {local}@")));
    }
    let machine = subject_prefix(&m.subject, MACHINE_SUBJECTS);
    let subject = machine.or_else(|| subject_prefix(&m.subject, SUBJECTS));
    let system_sender = system_sender(m);
    if let Some(subject) = subject {
        if let Some(with) = system_sender {
            return Some(SkipReason::Bounce(format!("Subject: {subject} + {with}")));
        }
        if m.auto_submitted() {
            return Some(SkipReason::Bounce(format!(
                "Subject: {subject} + Auto-Submitted"
            )));
        }
        if m.null_return_path() {
            return Some(SkipReason::Bounce(format!(
                "Subject: {subject} + Return-Path: <>"
            )));
        }
        if m.has_part(&["text/rfc822-headers", "message/global-headers"]) {
            return Some(SkipReason::Bounce(format!(
                "Subject: {subject} + text/rfc822-headers part"
            )));
        }
        if m.opening_has(BODY) {
            return Some(SkipReason::Bounce(format!(
                "Subject: {subject} + delivery software's text"
            )));
        }
        if let Some(machine) = machine
            && !m.has_headers()
        {
            return Some(SkipReason::Bounce(format!("Subject: {machine}")));
        }
        return None;
    }
    if let Some(with) = system_sender
        && m.opening_has(BODY)
    {
        return Some(SkipReason::Bounce(format!(
            "{with} + delivery software's text"
        )));
    }
    None
}

/// A null `Return-Path: <>`: a bounce or an RFC 3834 auto-reply.
pub(super) fn null_return_path(m: &Mail<'_>) -> Option<SkipReason> {
    m.null_return_path()
        .then(|| SkipReason::Bounce("Return-Path: <>".into()))
}

/// A sender that names a delivery system: its display name, or Exchange's
/// system mailbox. Names the signal.
fn system_sender(m: &Mail<'_>) -> Option<&'static str> {
    if SYSTEM_NAMES.contains(&m.sender.display.as_str()) {
        return Some("From: a delivery system's name");
    }
    let exchange = m
        .sender
        .base
        .strip_prefix("microsoftexchange")
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()));
    exchange.then_some("From: Exchange's system mailbox")
}
