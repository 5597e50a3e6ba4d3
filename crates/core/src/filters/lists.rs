//! Mailing lists: what list servers send on their own account (command
//! replies, confirmations, welcomes, moderation notices:
//! [`SkipReason::ListAdmin`]), and list and bulk mail in general
//! ([`SkipReason::Bulk`]).
//!
//! List server mail is recognised by:
//!
//! - `X-List-Administrivia: yes` (Mailman marks its own notices so);
//! - a sender that is a list server itself (`mailman@`, `majordomo@`,
//!   `listserv@`, `listproc@`, `sympa@`, `ezmlm@`), a list's bounce address
//!   (`<list>-bounces@`, with or without VERP `+tag`: where Mailman sends
//!   moderation notices from), a Mailman 3 confirmation address
//!   (`<list>-confirm+<token>@`), or Google Groups' moderation address
//!   (`<group>+msgappr@`);
//! - a list's administrative address (`<list>-request@`, `<list>-owner@`,
//!   `owner-<list>@`, ezmlm's `<list>-help@`, `mailman-owner@`) with
//!   something that ties it to the list server: a list header naming that
//!   same list (`List-Id: <list.host>`, `X-BeenThere: list@host`,
//!   `Mailing-List` naming the sender), `X-Mailman-Version` when there is
//!   no `List-Id` naming another list, `Auto-Submitted`, or a list server's
//!   subject ([`ADMIN_SUBJECTS`]: "Your message to X awaits moderator
//!   approval", "Majordomo results", "confirm <hex>", "Output of your job",
//!   ...).
//!
//! Not by a subject alone, and not by a recipient: a customer who writes
//! to `list-request@` (cc us) or posts through a list we receive from is a
//! person. A person whose address happens to end in `-owner` posting
//! through a list carries that list's `List-Id`, which names the list and
//! not them.
//!
//! These are skipped even on a mailbox that receives through a list
//! ([`super::FilterContext::list_mailboxes`]): that exemption is for the
//! list's posts, not for its server's notices.

use super::SkipReason;
use super::signals::{Mail, Precedence, precedence_kind};

/// Local parts of list servers' own addresses.
const SERVERS: &[&str] = &[
    "mailman",
    "mailman-bounces",
    "majordomo",
    "listserv",
    "listproc",
    "sympa",
    "ezmlm",
];

/// Suffixes of a list's administrative addresses (`<list>-request`).
const ADMIN_SUFFIXES: &[&str] = &["-request", "-owner", "-help"];

/// Subjects of list servers' notices (lower-case). `(prefix, contains)`:
/// the subject starts with `prefix` and holds `contains` after it.
const ADMIN_SUBJECTS: &[(&str, &str)] = &[
    ("your message to ", " awaits moderator approval"), // Mailman
    ("welcome to the ", "mailing list"),                // Mailman
    ("welcome to list ", ""),                           // Sympa
    ("welcome to ", "@"),                               // ezmlm: WELCOME to list@host
    ("goodbye from ", "@"),                             // ezmlm
    ("confirm subscribe to ", ""),                      // ezmlm
    ("confirm unsubscribe from ", ""),                  // ezmlm
    ("your confirmation is needed to ", ""),            // Mailman 3
    ("your confirmation is required to ", ""),          // Mailman 3
    ("the results of your email command", ""),          // Mailman
    ("results of your commands", ""),                   // Sympa
    ("majordomo results", ""),                          // Majordomo
    ("output of your job", ""),                         // LISTSERV
    ("command confirmation request", ""),               // LISTSERV
    ("you have been unsubscribed from the ", ""),       // Mailman
    ("request to mailing list ", " rejected"),          // Mailman
    ("", " mailing list memberships reminder"),         // Mailman
    ("", " post from "),                                // Mailman: X post from Y requires approval
    ("", " subscription notification"),                 // Mailman
    ("", " unsubscribe notification"),                  // Mailman
    ("", "google groups: message pending"),             // Google Groups
];

/// Mail a list server sent on its own account.
pub(super) fn administrivia(m: &Mail<'_>) -> Option<SkipReason> {
    if m.headers.list_administrivia {
        return Some(SkipReason::ListAdmin("X-List-Administrivia: yes".into()));
    }
    let s = &m.sender;
    if s.base.is_empty() {
        return None;
    }
    if let Some(server) = SERVERS.iter().find(|l| s.base == **l) {
        return Some(SkipReason::ListAdmin(format!("From: {server}@")));
    }
    if s.base.ends_with("-bounces") {
        return Some(SkipReason::ListAdmin("From: <list>-bounces@".into()));
    }
    if s.base.ends_with("-confirm") && s.tag.is_some() {
        return Some(SkipReason::ListAdmin(
            "From: <list>-confirm+<token>@".into(),
        ));
    }
    if s.tag.as_deref() == Some("msgappr") {
        return Some(SkipReason::ListAdmin("From: <group>+msgappr@".into()));
    }

    let list = if s.base == "mailman-owner" {
        Some("mailman")
    } else {
        ADMIN_SUFFIXES
            .iter()
            .find_map(|suffix| s.base.strip_suffix(suffix))
            .or_else(|| s.base.strip_prefix("owner-"))
            .filter(|name| !name.is_empty())
    };
    let list = list?;
    let role = if s.base.starts_with("owner-") {
        "owner-<list>@"
    } else if s.base.ends_with("-request") {
        "<list>-request@"
    } else if s.base.ends_with("-help") {
        "<list>-help@"
    } else {
        "<list>-owner@"
    };
    if let Some(header) = names_the_list(m, list) {
        return Some(SkipReason::ListAdmin(format!("From: {role} + {header}")));
    }
    let list_id_elsewhere = m.headers.list_id.is_some();
    if m.headers.mailman_version && !list_id_elsewhere {
        return Some(SkipReason::ListAdmin(format!(
            "From: {role} + X-Mailman-Version"
        )));
    }
    if m.auto_submitted() {
        return Some(SkipReason::ListAdmin(format!(
            "From: {role} + Auto-Submitted"
        )));
    }
    if admin_subject(&m.subject) {
        return Some(SkipReason::ListAdmin(format!(
            "From: {role} + a list server's subject"
        )));
    }
    None
}

/// The list header that names the sender's list `list` at the sender's
/// host: `List-Id: <list.host>`, `X-BeenThere: list@host`, or a
/// `Mailing-List` holding the sender's address or `list@host`.
fn names_the_list(m: &Mail<'_>, list: &str) -> Option<&'static str> {
    let domain = m.sender.domain.as_str();
    if domain.is_empty() {
        return None;
    }
    let holds = |value: Option<&str>, wanted: &str| {
        value.is_some_and(|v| v.to_ascii_lowercase().contains(wanted))
    };
    if holds(m.headers.list_id, &format!("<{list}.{domain}>")) {
        return Some("List-Id of that list");
    }
    let posting = format!("{list}@{domain}");
    if holds(m.headers.been_there, &posting) {
        return Some("X-BeenThere of that list");
    }
    if holds(m.headers.mailing_list, &m.sender.address()) || holds(m.headers.mailing_list, &posting)
    {
        return Some("Mailing-List of that list");
    }
    None
}

fn admin_subject(subject: &str) -> bool {
    let subject = subject.trim_end();
    ADMIN_SUBJECTS.iter().any(|(prefix, contains)| {
        subject
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.contains(contains))
    }) || mailman_confirm(subject)
}

/// Mailman 2's confirmation subject: `confirm` and a hex cookie.
fn mailman_confirm(subject: &str) -> bool {
    subject.strip_prefix("confirm ").is_some_and(|cookie| {
        let cookie = cookie.trim();
        cookie.len() >= 16 && cookie.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Bulk and list mail: `Precedence: bulk/junk/list`, `List-Id`,
/// `List-Unsubscribe`, `Mailing-List`. `via_list`: the message came to a
/// mailbox that receives through a list, where `Precedence: list` and the
/// list headers are expected (`bulk` and `junk` still skip).
pub(super) fn bulk(m: &Mail<'_>, via_list: bool) -> Option<SkipReason> {
    if let Some(Precedence::Bulk(kind)) = m.headers.precedence.and_then(precedence_kind)
        && !(via_list && kind == "list")
    {
        return Some(SkipReason::Bulk(format!("Precedence: {kind}")));
    }
    if let Some(name) = m.headers.list_header
        && !via_list
    {
        return Some(SkipReason::Bulk(name.to_string()));
    }
    None
}
