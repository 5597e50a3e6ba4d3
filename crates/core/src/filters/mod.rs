//! Skip filters: automatic mail, bounces, our own outbound, folders, invites.
//!
//! [`skip_reason`] runs the checks cheapest and most certain first:
//!
//! 1. context only: historic backfill ([`SkipReason::HistoricBackfill`]),
//!    our own outbound (sent by us through the provider, or a sender among
//!    our addresses),
//!    SENT / DRAFTS / TRASH / spam folders (roles, or Google's label ids);
//! 2. [`is_automatic`]: delivery reports and bounces, abuse complaints,
//!    list servers' notices, auto-replies, bulk and list mail, from headers
//!    (when fetched), attachments, sender, subject and the opening of the
//!    body;
//! 3. calendar invitations.
//!
//! Signals follow the helpdesk practice summarised in REFERENCE.md
//! ("Auto-reply, bounce and loop signals"). `X-Auto-Response-Suppress` alone
//! is a request not to auto-answer a mail, not a sign that the mail is
//! automatic: it never skips by itself. A subject alone is never enough for
//! a bounce, a complaint or a list server's notice (people write "Abuse
//! report" and "Undeliverable" too): each module says what has to come
//! with it.
//!
//! Without headers (`msg.headers == None`, webhook payloads) only the
//! sender, the subject, the body and the attachment list are looked at.
//!
//! Reasons name the signal that fired with fixed text (a header's name, a
//! known keyword, one of our own subject prefixes), never a value from the
//! message: they are logged and stored.
//!
//! # Layout
//!
//! - `mod.rs`: the context, [`SkipReason`], the order of the checks,
//!   folders.
//! - `signals.rs`: what every check reads (one pass over the headers, the
//!   sender, the subject, the opening of the body).
//! - `reports.rs`: reports by MIME structure (DSN, ARF, MDN).
//! - `abuse.rs`: abuse and spam complaints that are not ARF.
//! - `lists.rs`: list servers' notices; bulk and list mail.
//! - `bounce.rs`: bounces in the older, non-DSN formats.
//! - `auto_reply.rs`: auto-replies and no-reply senders
//!   ([`is_unanswerable`]).
//! - `calendar.rs`: invitations ([`is_calendar_invite`]).

mod abuse;
mod auto_reply;
mod bounce;
mod calendar;
mod lists;
mod reports;
mod signals;

pub use auto_reply::is_unanswerable;
pub use calendar::is_calendar_invite;

use std::collections::HashMap;

use crate::message::Message;
use crate::ports::FolderRole;
use crate::provider::Origin;

use signals::Mail;

/// What the filters know beyond the message itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterContext<'a> {
    /// Our own addresses (lower-case); mail from them is our outbound.
    pub support_addresses: &'a [String],
    /// Folder id -> role for the message's grant, when known.
    pub folder_roles: Option<&'a HashMap<String, FolderRole>>,
    /// What the provider knows of the message's origin (sent by us through
    /// it, historic backfill).
    pub origin: Origin,
    /// Process `.../historic` backfill notifications.
    pub allow_historic: bool,
    /// Our mailboxes that receive through a mailing list (a Google Group, a
    /// list server), lower-case: mail to or cc one of them is not skipped
    /// for its list headers or `Precedence: list` (rules file
    /// `[[mailboxes]] lists = true`). `Precedence: bulk`/`junk` still is,
    /// and so is a list server's own notice ([`SkipReason::ListAdmin`]).
    pub list_mailboxes: &'a [String],
}

impl FilterContext<'_> {
    /// Whether `msg` is addressed (to or cc) to one of the list mailboxes.
    pub fn via_list_mailbox(&self, msg: &Message) -> bool {
        !self.list_mailboxes.is_empty()
            && msg.to.iter().chain(msg.cc.iter()).any(|p| {
                let email = p.email.trim();
                self.list_mailboxes
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(email))
            })
    }
}

/// Why a message makes no ticket. Recorded, never an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Auto-reply / out-of-office; carries the signal that fired.
    AutoReply(String),
    /// Bounce / delivery status notification.
    Bounce(String),
    /// Feedback report: ARF, X-ARF, an abuse desk's or feedback loop's
    /// spam complaint.
    FeedbackReport(String),
    /// A list server's own notice: command reply, confirmation, welcome,
    /// moderation notice (Mailman, Majordomo, LISTSERV, Sympa, ezmlm,
    /// Google Groups).
    ListAdmin(String),
    /// Bulk or list mail (Precedence bulk/list, List-Id, Mailing-List).
    Bulk(String),
    /// Sent by one of our own addresses, or by us through the provider.
    OwnOutbound,
    /// In a SENT / DRAFTS / TRASH / spam folder.
    Folder(FolderRole),
    /// A calendar invitation.
    CalendarInvite,
    /// Historic backfill, not enabled.
    HistoricBackfill,
    /// A verdict of the receiving service (Amazon SES): `virus`, or `spam`
    /// or `authentication` when the rules file says skip.
    Verdict(&'static str),
    /// Not a message at all (S3's test notification).
    NotMail,
}

impl SkipReason {
    /// Short stable code for logs, metrics and stored outcomes.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::AutoReply(_) => "auto_reply",
            SkipReason::Bounce(_) => "bounce",
            SkipReason::FeedbackReport(_) => "feedback_report",
            SkipReason::ListAdmin(_) => "list_admin",
            SkipReason::Bulk(_) => "bulk",
            SkipReason::OwnOutbound => "own_outbound",
            SkipReason::Folder(_) => "folder",
            SkipReason::CalendarInvite => "calendar_invite",
            SkipReason::HistoricBackfill => "historic",
            SkipReason::Verdict(_) => "verdict",
            SkipReason::NotMail => "not_mail",
        }
    }
}

/// The first reason to skip this message, or `None` to make a ticket.
pub fn skip_reason(msg: &Message, ctx: &FilterContext<'_>) -> Option<SkipReason> {
    if ctx.origin.backfill && !ctx.allow_historic {
        return Some(SkipReason::HistoricBackfill);
    }
    if ctx.origin.own_outbound {
        return Some(SkipReason::OwnOutbound);
    }
    let sender = msg.sender_email();
    if sender.as_deref().is_some_and(|sender| {
        ctx.support_addresses
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(sender))
    }) {
        return Some(SkipReason::OwnOutbound);
    }
    if let Some(role) = skipped_folder(msg, ctx.folder_roles) {
        return Some(SkipReason::Folder(role));
    }
    let mail = Mail::new(msg);
    if let Some(reason) = automatic(&mail, ctx.via_list_mailbox(msg)) {
        return Some(reason);
    }
    if calendar::calendar(&mail) {
        return Some(SkipReason::CalendarInvite);
    }
    None
}

/// The first folder of the message that means "not an incoming mail":
/// by role when the roles are known, else (and also) by Google's literal
/// label ids `SENT`, `DRAFT`/`DRAFTS`, `TRASH`, `SPAM` (case-insensitive).
pub fn skipped_folder(
    msg: &Message,
    roles: Option<&HashMap<String, FolderRole>>,
) -> Option<FolderRole> {
    msg.folders.iter().find_map(|folder| {
        let by_role = roles.and_then(|r| r.get(folder)).copied().filter(|role| {
            matches!(
                role,
                FolderRole::Sent | FolderRole::Drafts | FolderRole::Trash | FolderRole::Spam
            )
        });
        by_role.or_else(|| {
            let id = folder.trim();
            if id.eq_ignore_ascii_case("SENT") {
                Some(FolderRole::Sent)
            } else if id.eq_ignore_ascii_case("DRAFT") || id.eq_ignore_ascii_case("DRAFTS") {
                Some(FolderRole::Drafts)
            } else if id.eq_ignore_ascii_case("TRASH") {
                Some(FolderRole::Trash)
            } else if id.eq_ignore_ascii_case("SPAM") {
                Some(FolderRole::Spam)
            } else {
                None
            }
        })
    })
}

// ------------------------------------------------------------ automatic mail

/// Whether the message was sent automatically: a delivery or feedback
/// report, an abuse complaint, a list server's notice, an auto-reply, bulk
/// or list mail, or mail from a no-reply address. Looks at the headers
/// (when fetched), the attachment list, the sender, the subject and the
/// opening of the body; not at the folders or the notification context.
///
/// Order: report structure (certain), then X-ARF and complaints (before
/// the bounce senders: `postmaster@` sends both), list servers' notices,
/// bounce senders, subjects and bodies, auto-reply headers, bulk headers,
/// auto-reply subjects, a null `Return-Path` (bounces and RFC 3834
/// auto-replies use it), and last a no-reply sender (reported as
/// [`SkipReason::AutoReply`]: automated mail nobody answers).
pub fn is_automatic(msg: &Message) -> Option<SkipReason> {
    automatic(&Mail::new(msg), false)
}

/// `via_list`: the message came to a mailbox that receives through a
/// mailing list ([`FilterContext::list_mailboxes`]).
fn automatic(m: &Mail<'_>, via_list: bool) -> Option<SkipReason> {
    reports::by_structure(m)
        .or_else(|| abuse::complaint(m))
        .or_else(|| lists::administrivia(m))
        .or_else(|| bounce::by_sender_subject_body(m))
        .or_else(|| auto_reply::by_headers(m))
        .or_else(|| lists::bulk(m, via_list))
        .or_else(|| auto_reply::by_subject(m))
        .or_else(|| bounce::null_return_path(m))
        .or_else(|| auto_reply::no_reply_sender(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Attachment, Header, Participant};

    fn with_headers(headers: &[(&str, &str)]) -> Message {
        Message {
            subject: Some("Help with my account".into()),
            from: vec![Participant {
                name: "Ann".into(),
                email: "ann@customer.test".into(),
            }],
            headers: Some(
                headers
                    .iter()
                    .map(|(n, v)| Header {
                        name: n.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
            ),
            ..Message::default()
        }
    }

    #[test]
    fn plain_mail_is_not_skipped() {
        let m = with_headers(&[("Auto-Submitted", "no"), ("Precedence", "first-class")]);
        assert_eq!(skip_reason(&m, &FilterContext::default()), None);
    }

    #[test]
    fn report_structure_beats_auto_submitted() {
        let m = with_headers(&[
            ("Auto-Submitted", "auto-replied"),
            (
                "Content-Type",
                "multipart/report; report-type=\"delivery-status\"; boundary=x",
            ),
        ]);
        assert!(matches!(is_automatic(&m), Some(SkipReason::Bounce(_))));
    }

    #[test]
    fn calendar_by_attachment_type_with_parameters() {
        let m = Message {
            attachments: vec![Attachment {
                content_type: "Text/Calendar; method=REQUEST".into(),
                ..Attachment::default()
            }],
            ..Message::default()
        };
        assert!(is_calendar_invite(&m));
    }

    #[test]
    fn bracketed_subject_prefix() {
        let m = Message {
            subject: Some("  [Auto-Reply] Re: ticket".into()),
            ..Message::default()
        };
        assert!(matches!(is_automatic(&m), Some(SkipReason::AutoReply(_))));
        let human = Message {
            subject: Some("Re: our out of office policy".into()),
            ..Message::default()
        };
        assert_eq!(is_automatic(&human), None);
    }

    /// Reasons are fixed text: an unknown `Auto-Submitted` value is not
    /// copied into one.
    #[test]
    fn reasons_hold_no_value_from_the_message() {
        let m = with_headers(&[("Auto-Submitted", "secret-token-ann@customer.test")]);
        assert_eq!(
            is_automatic(&m),
            Some(SkipReason::AutoReply("Auto-Submitted".into()))
        );
        let m = with_headers(&[("Auto-Submitted", "Auto-Replied")]);
        assert_eq!(
            is_automatic(&m),
            Some(SkipReason::AutoReply("Auto-Submitted: auto-replied".into()))
        );
    }
}
