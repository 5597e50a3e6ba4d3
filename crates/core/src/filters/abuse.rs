//! Abuse and spam complaints that are not ARF (ARF reports are recognised
//! by their structure in `reports`): X-ARF reports, SpamCop reports, and
//! the complaints abuse desks and feedback loops send.
//!
//! What counts:
//!
//! - `X-ARF: yes` (X-ARF 0.2) or `X-XARF:` (0.1), the header of the X-ARF
//!   abuse reporting format: by itself;
//! - a complaint subject ([`SUBJECTS`]: "Abuse report", "Spam complaint",
//!   "[SpamCop (...) id:...]", "Complaint about message from ...") from an
//!   abuse role address ([`is_abuse_desk`]: `abuse@`, `noreply-abuse@`,
//!   `postmaster@`, `fbl@`, SpamCop's own domain, Outlook.com's
//!   `staff@hotmail.com`), or with a sign of automation (`Auto-Submitted`,
//!   `Return-Path: <>`, a no-reply sender);
//! - an abuse role address whose body opens as a complaint ([`BODY`]).
//!
//! Never by itself: a complaint subject (a customer may report abuse on
//! their own account: "Abuse report: someone used my card"), or the
//! headers senders put on ordinary mail to say where complaints go
//! (`X-Report-Abuse`, `X-Complaints-To`, `X-Abuse-Info`, cPanel's
//! `X-AntiAbuse`): newsletters and whole hosting platforms carry them, so
//! they say nothing about the message being a complaint.

use super::SkipReason;
use super::auto_reply::NO_REPLY_SENDERS;
use super::signals::{Mail, subject_prefix};

/// Subject prefixes of complaints (lower-case, after leading brackets).
const SUBJECTS: &[&str] = &[
    "abuse report",
    "abuse complaint",
    "abuse notification",
    "abuse notice",
    "abuse message",
    "abuse feedback report",
    "abuse]",
    "abuse:",
    "spam complaint",
    "spam report",
    "spam notification",
    "spamcop (",
    "spamcop]",
    "complaint about message from",
    "report of abuse",
    "notice of abuse",
];

/// How complaints open (lower-case, single spaces).
const BODY: &[&str] = &[
    "abuse report",
    "abuse complaint",
    "spam complaint",
    "complaint about",
    "received a complaint",
    "received an abuse",
    "reported as spam",
    "reported as abuse",
    "reported to us as spam",
    "feedback loop",
    "this is an automated report",
    "automatically generated abuse",
];

/// Local parts of abuse role addresses, besides `abuse` itself and
/// `abuse-*` / `*-abuse` (`noreply-abuse`).
const ROLES: &[&str] = &[
    "postmaster",
    "fbl",
    "feedbackloop",
    "feedback-loop",
    "spamreport",
    "spamreports",
    "spam-report",
    "spam-reports",
    "report-spam",
];

pub(super) fn complaint(m: &Mail<'_>) -> Option<SkipReason> {
    if let Some(header) = m.headers.x_arf {
        return Some(SkipReason::FeedbackReport(header.into()));
    }
    let subject = subject_prefix(&m.subject, SUBJECTS);
    let desk = is_abuse_desk(m);
    if let Some(subject) = subject {
        if desk {
            return Some(SkipReason::FeedbackReport(format!(
                "Subject: {subject} + From: an abuse desk"
            )));
        }
        if m.auto_submitted() {
            return Some(SkipReason::FeedbackReport(format!(
                "Subject: {subject} + Auto-Submitted"
            )));
        }
        if m.null_return_path() {
            return Some(SkipReason::FeedbackReport(format!(
                "Subject: {subject} + Return-Path: <>"
            )));
        }
        if NO_REPLY_SENDERS.contains(&m.sender.local.as_str()) {
            return Some(SkipReason::FeedbackReport(format!(
                "Subject: {subject} + From: a no-reply address"
            )));
        }
        return None;
    }
    if desk && m.opening_has(BODY) {
        return Some(SkipReason::FeedbackReport(
            "From: an abuse desk + a complaint's text".into(),
        ));
    }
    None
}

/// An abuse role address: `abuse@`, `abuse-*@`, `*-abuse@` (also with `_`
/// or `.`), one of [`ROLES`], anything at `spamcop.net`, or
/// `staff@hotmail.com` (Outlook.com's complaint sender).
fn is_abuse_desk(m: &Mail<'_>) -> bool {
    let base = m.sender.base.as_str();
    if base.is_empty() {
        return false;
    }
    let abuse = base == "abuse"
        || ["abuse-", "abuse_", "abuse."]
            .iter()
            .any(|p| base.starts_with(p))
        || ["-abuse", "_abuse", ".abuse"]
            .iter()
            .any(|s| base.ends_with(s));
    abuse
        || ROLES.contains(&base)
        || m.sender.domain_is("spamcop.net")
        || (base == "staff" && m.sender.domain == "hotmail.com")
}
