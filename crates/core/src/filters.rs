//! Skip filters: automatic mail, bounces, our own outbound, folders, invites.
//!
//! [`skip_reason`] runs the checks cheapest and most certain first:
//!
//! 1. context only: historic backfill ([`SkipReason::HistoricBackfill`]),
//!    our own outbound (sent by us through the provider, or a sender among
//!    our addresses),
//!    SENT / DRAFTS / TRASH / spam folders (roles, or Google's label ids);
//! 2. [`is_automatic`]: delivery reports and bounces, auto-replies, bulk and
//!    list mail, from headers (when fetched), attachments, sender and
//!    subject;
//! 3. calendar invitations.
//!
//! Signals follow the helpdesk practice summarised in REFERENCE.md
//! ("Auto-reply, bounce and loop signals"). `X-Auto-Response-Suppress` alone
//! is a request not to auto-answer a mail, not a sign that the mail is
//! automatic: it never skips by itself.
//!
//! Without headers (`msg.headers == None`, webhook payloads) only the
//! sender, the subject and the attachment list are looked at.

use std::collections::HashMap;

use crate::message::Message;
use crate::ports::FolderRole;
use crate::provider::Origin;

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
    /// `[[mailboxes]] lists = true`). `Precedence: bulk`/`junk` still is.
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
    /// Feedback report (ARF, spam complaint).
    FeedbackReport(String),
    /// Bulk or list mail (Precedence bulk/list, List-Id).
    Bulk(String),
    /// Sent by one of our own addresses, or by us through the provider.
    OwnOutbound,
    /// In a SENT / DRAFTS / TRASH / spam folder.
    Folder(FolderRole),
    /// A calendar invitation.
    CalendarInvite,
    /// Historic backfill, not enabled.
    HistoricBackfill,
}

impl SkipReason {
    /// Short stable code for logs, metrics and stored outcomes.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::AutoReply(_) => "auto_reply",
            SkipReason::Bounce(_) => "bounce",
            SkipReason::FeedbackReport(_) => "feedback_report",
            SkipReason::Bulk(_) => "bulk",
            SkipReason::OwnOutbound => "own_outbound",
            SkipReason::Folder(_) => "folder",
            SkipReason::CalendarInvite => "calendar_invite",
            SkipReason::HistoricBackfill => "historic",
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
    let signals = Signals::gather(msg);
    if let Some(reason) = automatic(msg, &signals, ctx.via_list_mailbox(msg)) {
        return Some(reason);
    }
    if calendar(msg, &signals) {
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

/// Subject prefixes of bounces (lower-case).
const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliverable",
    "undelivered mail",
    "undelivered message",
    "delivery status notification",
    "delivery notification",
    "mail delivery failed",
    "mail delivery failure",
    "mail delivery system",
    "delivery failure",
    "delivery failed",
    "delivery has failed",
    "returned mail:",
    "failure notice",
    "non-delivery",
    "nondeliverable",
    "message not delivered",
    "delayed mail",
    "unzustellbar",
    "nicht zustellbar",
    "non remis",
    "non distribuable",
    "no se puede entregar",
    "non recapitabile",
];

/// Subject prefixes of out-of-office and other automatic replies
/// (lower-case), in many languages.
const AUTO_REPLY_SUBJECTS: &[&str] = &[
    "out of office",
    "out of the office",
    "ooo:",
    "automatic reply",
    "auto-reply",
    "auto reply",
    "autoreply",
    "auto-response",
    "auto response",
    "autoresponse",
    "automatic response",
    "vacation reply",
    "abwesenheitsnotiz",
    "automatische antwort",
    "réponse automatique",
    "reponse automatique",
    "respuesta automática",
    "respuesta automatica",
    "risposta automatica",
    "resposta automática",
    "resposta automatica",
    "automatisch antwoord",
    "automatisk svar",
    "automatiskt svar",
    "autosvar",
    "automaattinen vastaus",
    "odpowiedź automatyczna",
    "automatická odpověď",
    "автоматический ответ",
    "otomatik yanıt",
    "自動返信",
    "自动回复",
    "自動回覆",
    "자동 회신",
];

/// Local parts of addresses that send delivery reports.
const BOUNCE_SENDERS: &[&str] = &["mailer-daemon", "postmaster"];

/// Local parts of addresses nobody reads.
const NO_REPLY_SENDERS: &[&str] = &[
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
];

/// An address that must never get automatic mail: a delivery-report sender
/// (`mailer-daemon`, `postmaster`) or a no-reply address, by its local part
/// (case-insensitive, a `+tag` ignored).
pub fn is_unanswerable(address: &str) -> bool {
    let address = address.trim().to_ascii_lowercase();
    let Some((local, _)) = address.rsplit_once('@') else {
        return true;
    };
    let local = local.split('+').next().unwrap_or(local);
    BOUNCE_SENDERS.contains(&local) || NO_REPLY_SENDERS.contains(&local)
}

/// Headers whose presence marks an auto-reply.
const AUTO_REPLY_HEADERS: &[&str] = &[
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-AutoReply-From",
    "X-Mail-Autoreply",
];

/// The header signals, gathered in one pass over the headers.
#[derive(Default)]
struct Signals<'m> {
    content_type: Option<&'m str>,
    auto_submitted: Option<&'m str>,
    precedence: Option<&'m str>,
    autoreply_header: Option<&'m str>,
    x_autogenerated: Option<&'m str>,
    inbox_rules_loop: bool,
    auto_response_suppress: bool,
    apple_action: Option<&'m str>,
    x_loop: bool,
    list_header: Option<&'m str>,
    failed_recipients: bool,
    return_path: Option<&'m str>,
    calendar_header: bool,
}

impl<'m> Signals<'m> {
    fn gather(msg: &'m Message) -> Signals<'m> {
        let mut s = Signals::default();
        for h in msg.headers.as_deref().unwrap_or_default() {
            let name = h.name.trim();
            let value = h.value.as_str();
            let is = |wanted: &str| name.eq_ignore_ascii_case(wanted);
            if is("Content-Type") {
                s.content_type.get_or_insert(value);
            } else if is("Auto-Submitted") {
                s.auto_submitted.get_or_insert(value);
            } else if is("Precedence") || is("X-Precedence") {
                // Keep the first one that says something automatic.
                if s.precedence.is_none() || precedence_kind(value).is_some() {
                    s.precedence = Some(value);
                }
            } else if let Some(known) = AUTO_REPLY_HEADERS.iter().find(|n| is(n)) {
                if !is_negative(value) {
                    s.autoreply_header.get_or_insert(known);
                }
            } else if is("X-Autogenerated") {
                s.x_autogenerated.get_or_insert(value);
            } else if is("X-MS-Exchange-Inbox-Rules-Loop") {
                s.inbox_rules_loop = true;
            } else if is("X-Auto-Response-Suppress") {
                s.auto_response_suppress = true;
            } else if is("X-Apple-Action") {
                s.apple_action.get_or_insert(value);
            } else if is("X-Loop") {
                s.x_loop = true;
            } else if is("List-Id") || is("List-Unsubscribe") {
                s.list_header.get_or_insert(if is("List-Id") {
                    "List-Id"
                } else {
                    "List-Unsubscribe"
                });
            } else if is("X-Failed-Recipients") {
                s.failed_recipients = true;
            } else if is("Return-Path") {
                s.return_path.get_or_insert(value);
            } else if (is("Content-Class") && contains_ci(value, "calendarmessage"))
                || starts_with_ci(name, "X-MS-Exchange-Calendar-")
            {
                s.calendar_header = true;
            }
        }
        s
    }
}

/// Whether the message was sent automatically: a delivery or feedback
/// report, an auto-reply, bulk or list mail, or mail from a no-reply
/// address. Looks at the headers (when fetched), the attachment list, the
/// sender and the subject; not at the folders or the notification context.
///
/// Order: report structure (certain) before the sender and subject of a
/// bounce, then auto-reply headers, bulk headers, auto-reply subjects, a
/// null `Return-Path` (bounces and RFC 3834 auto-replies use it), and last
/// a no-reply sender (reported as [`SkipReason::AutoReply`]: automated mail
/// nobody answers).
pub fn is_automatic(msg: &Message) -> Option<SkipReason> {
    automatic(msg, &Signals::gather(msg), false)
}

/// `via_list`: the message came to a mailbox that receives through a
/// mailing list ([`FilterContext::list_mailboxes`]).
fn automatic(msg: &Message, s: &Signals<'_>, via_list: bool) -> Option<SkipReason> {
    // 1. Delivery / feedback reports, by MIME structure.
    if let Some(ct) = s.content_type {
        let media = media_type(ct);
        if media.eq_ignore_ascii_case("multipart/report") {
            let report_type = param(ct, "report-type").unwrap_or_default();
            if report_type.eq_ignore_ascii_case("delivery-status") {
                return Some(SkipReason::Bounce(
                    "Content-Type: multipart/report; report-type=delivery-status".into(),
                ));
            }
            if report_type.eq_ignore_ascii_case("feedback-report") {
                return Some(SkipReason::FeedbackReport(
                    "Content-Type: multipart/report; report-type=feedback-report".into(),
                ));
            }
            if report_type.eq_ignore_ascii_case("disposition-notification") {
                return Some(SkipReason::AutoReply(
                    "Content-Type: multipart/report; report-type=disposition-notification".into(),
                ));
            }
        }
        if media.eq_ignore_ascii_case("message/delivery-status") {
            return Some(SkipReason::Bounce(
                "Content-Type: message/delivery-status".into(),
            ));
        }
    }
    for a in &msg.attachments {
        let media = media_type(&a.content_type);
        if media.eq_ignore_ascii_case("message/delivery-status")
            || media.eq_ignore_ascii_case("message/global-delivery-status")
        {
            return Some(SkipReason::Bounce("message/delivery-status part".into()));
        }
        if media.eq_ignore_ascii_case("message/feedback-report") {
            return Some(SkipReason::FeedbackReport(
                "message/feedback-report part".into(),
            ));
        }
    }
    if s.failed_recipients {
        return Some(SkipReason::Bounce("X-Failed-Recipients".into()));
    }

    // 2. Bounce senders and subjects.
    let sender = msg.sender_email();
    let local_part = sender
        .as_deref()
        .and_then(|e| e.rsplit_once('@'))
        .map(|(local, _)| local);
    if let Some(local) = local_part.filter(|l| BOUNCE_SENDERS.contains(l)) {
        return Some(SkipReason::Bounce(format!("From: {local}@")));
    }
    let subject = msg
        .subject
        .as_deref()
        .map(normalized_subject)
        .unwrap_or_default();
    if let Some(prefix) = BOUNCE_SUBJECTS.iter().find(|p| subject.starts_with(*p)) {
        return Some(SkipReason::Bounce(format!("Subject: {prefix}")));
    }

    // 3. Auto-reply headers.
    if let Some(value) = s.auto_submitted {
        let token = first_token(value);
        if !token.is_empty() && !token.eq_ignore_ascii_case("no") {
            return Some(SkipReason::AutoReply(format!("Auto-Submitted: {token}")));
        }
    }
    if let Some(name) = s.autoreply_header {
        return Some(SkipReason::AutoReply(name.to_string()));
    }
    if s.x_autogenerated
        .is_some_and(|v| first_token(v).eq_ignore_ascii_case("reply"))
    {
        return Some(SkipReason::AutoReply("X-Autogenerated: Reply".into()));
    }
    if s.inbox_rules_loop && s.auto_response_suppress {
        return Some(SkipReason::AutoReply(
            "X-MS-Exchange-Inbox-Rules-Loop + X-Auto-Response-Suppress".into(),
        ));
    }
    if s.apple_action.is_some_and(|v| contains_ci(v, "vacation")) {
        return Some(SkipReason::AutoReply("X-Apple-Action: VACATION".into()));
    }
    let precedence = s.precedence.and_then(precedence_kind);
    if precedence == Some(Precedence::AutoReply) {
        return Some(SkipReason::AutoReply("Precedence: auto_reply".into()));
    }
    if s.x_loop {
        return Some(SkipReason::AutoReply("X-Loop".into()));
    }

    // 4. Bulk and list mail (list signals are expected on a mailbox that
    // receives through a list).
    if let Some(Precedence::Bulk(kind)) = precedence
        && !(via_list && kind == "list")
    {
        return Some(SkipReason::Bulk(format!("Precedence: {kind}")));
    }
    if let Some(name) = s.list_header
        && !via_list
    {
        return Some(SkipReason::Bulk(name.to_string()));
    }

    // 5. Auto-reply subjects.
    if let Some(prefix) = AUTO_REPLY_SUBJECTS.iter().find(|p| subject.starts_with(*p)) {
        return Some(SkipReason::AutoReply(format!("Subject: {prefix}")));
    }

    // 6. Null return path: a bounce or an RFC 3834 auto-reply.
    if s.return_path
        .is_some_and(|v| v.chars().filter(|c| !c.is_whitespace()).eq("<>".chars()))
    {
        return Some(SkipReason::Bounce("Return-Path: <>".into()));
    }

    // 7. No-reply senders.
    if let Some(local) = local_part.filter(|l| NO_REPLY_SENDERS.contains(l)) {
        return Some(SkipReason::AutoReply(format!("From: {local}@")));
    }
    None
}

/// A calendar invitation (or response): a `text/calendar` /
/// `application/ics` part or top-level type, or Exchange's calendar
/// headers (`Content-Class: urn:content-classes:calendarmessage`,
/// `X-MS-Exchange-Calendar-*`).
pub fn is_calendar_invite(msg: &Message) -> bool {
    calendar(msg, &Signals::gather(msg))
}

fn calendar(msg: &Message, s: &Signals<'_>) -> bool {
    let calendar_type = |ct: &str| {
        let media = media_type(ct);
        media.eq_ignore_ascii_case("text/calendar") || media.eq_ignore_ascii_case("application/ics")
    };
    if msg
        .attachments
        .iter()
        .any(|a| calendar_type(&a.content_type))
    {
        return true;
    }
    s.calendar_header || s.content_type.is_some_and(calendar_type)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precedence {
    Bulk(&'static str),
    AutoReply,
}

fn precedence_kind(value: &str) -> Option<Precedence> {
    let token = first_token(value);
    ["bulk", "junk", "list"]
        .iter()
        .find(|k| token.eq_ignore_ascii_case(k))
        .map(|k| Precedence::Bulk(k))
        .or_else(|| {
            (token.eq_ignore_ascii_case("auto_reply") || token.eq_ignore_ascii_case("auto-reply"))
                .then_some(Precedence::AutoReply)
        })
}

/// `no`, `false`, `0`: a header that says "not automatic".
fn is_negative(value: &str) -> bool {
    let token = first_token(value);
    ["no", "false", "0"]
        .iter()
        .any(|n| token.eq_ignore_ascii_case(n))
}

/// The value up to the first `;` (parameters) or `(` (comment), trimmed.
fn first_token(value: &str) -> &str {
    value.split([';', '(']).next().unwrap_or_default().trim()
}

/// `type/subtype` of a Content-Type value.
fn media_type(content_type: &str) -> &str {
    first_token(content_type)
}

/// A parameter of a Content-Type value, unquoted.
fn param<'a>(content_type: &'a str, name: &str) -> Option<&'a str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').trim())
    })
}

/// Lower-cased subject without leading blanks and brackets (`[Auto-Reply]`).
fn normalized_subject(subject: &str) -> String {
    subject
        .trim_start_matches(|c: char| c.is_whitespace() || c == '[' || c == '(')
        .to_lowercase()
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(needle)
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
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
    fn param_parsing() {
        let ct = "multipart/report; boundary=\"a;b\"; Report-Type = \"feedback-report\"";
        assert_eq!(media_type(ct), "multipart/report");
        assert_eq!(param(ct, "report-type"), Some("feedback-report"));
        assert_eq!(param("text/plain", "charset"), None);
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
}
