//! Calendar invitations and responses: a `text/calendar` /
//! `application/ics` part or top-level type, or Exchange's calendar
//! headers (`Content-Class: urn:content-classes:calendarmessage`,
//! `X-MS-Exchange-Calendar-*`).

use crate::message::Message;

use super::signals::{Mail, media_type};

/// A calendar invitation (or response). See the module documentation.
pub fn is_calendar_invite(msg: &Message) -> bool {
    calendar(&Mail::new(msg))
}

pub(super) fn calendar(m: &Mail<'_>) -> bool {
    let calendar_type = |ct: &str| {
        let media = media_type(ct);
        media.eq_ignore_ascii_case("text/calendar") || media.eq_ignore_ascii_case("application/ics")
    };
    if m.msg
        .attachments
        .iter()
        .any(|a| calendar_type(&a.content_type))
    {
        return true;
    }
    m.headers.calendar_header || m.headers.content_type.is_some_and(calendar_type)
}
