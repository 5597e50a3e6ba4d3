//! Skip filters: automatic mail, bounces, our own outbound, folders, invites.
//! STUB: to be implemented (helper). API is fixed.

use std::collections::HashMap;

use crate::message::Message;
use crate::ports::FolderRole;

/// What the filters know beyond the message itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterContext<'a> {
    /// Our own addresses (lower-case); mail from them is our outbound.
    pub support_addresses: &'a [String],
    /// Folder id -> role for the message's grant, when known.
    pub folder_roles: Option<&'a HashMap<String, FolderRole>>,
    /// Notification `source` (`/google/emails/realtime`, `/nylas/send`, ...).
    pub source: Option<&'a str>,
    /// Process `.../historic` backfill notifications.
    pub allow_historic: bool,
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
    /// Sent by one of our own addresses, or through `/nylas/send`.
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
    let _ = (msg, ctx);
    None
}
