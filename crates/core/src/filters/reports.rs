//! Reports recognised by their MIME structure, the most certain signal:
//! RFC 3464 delivery status notifications (`multipart/report;
//! report-type=delivery-status`, a `message/delivery-status` part),
//! RFC 5965 ARF feedback reports (`report-type=feedback-report`, a
//! `message/feedback-report` part), RFC 8098 read receipts
//! (`report-type=disposition-notification`), and `X-Failed-Recipients`.

use super::SkipReason;
use super::signals::{Mail, media_type, param};

pub(super) fn by_structure(m: &Mail<'_>) -> Option<SkipReason> {
    if let Some(ct) = m.headers.content_type {
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
    if m.has_part(&["message/delivery-status", "message/global-delivery-status"]) {
        return Some(SkipReason::Bounce("message/delivery-status part".into()));
    }
    if m.has_part(&["message/feedback-report"]) {
        return Some(SkipReason::FeedbackReport(
            "message/feedback-report part".into(),
        ));
    }
    if m.headers.failed_recipients {
        return Some(SkipReason::Bounce("X-Failed-Recipients".into()));
    }
    None
}
