//! The ticket reference in a subject: the tag acknowledgements write,
//! `[#t_<24 hex>]` (the ticket id, exactly as
//! [`ticket_id`](crate::ticket::ticket_id) makes it, after `#` between
//! brackets), which a customer's reply to an acknowledgement carries back.
//! The form without `#`, `[t_<24 hex>]`, which acknowledgements wrote
//! before, is read too.

/// Length of a ticket id: `t_` and 24 lowercase hex digits.
const TICKET_ID_LEN: usize = 26;

/// The tag that names `ticket_id` in a subject. Acknowledgements write it
/// ([`crate::acknowledgement::compose`]) and [`find`] reads it back.
pub fn tag(ticket_id: &str) -> String {
    format!("[#{ticket_id}]")
}

/// Whether `s` is a ticket id as [`crate::ticket::ticket_id`] makes them:
/// `t_` and exactly 24 lowercase hex digits.
pub fn is_ticket_id(s: &str) -> bool {
    s.len() == TICKET_ID_LEN
        && s.starts_with("t_")
        && s.bytes()
            .skip(2)
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Byte ranges of every tag in `subject`, in order (tags never overlap:
/// one holds no bracket).
fn tags(subject: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    subject.match_indices('[').filter_map(move |(start, _)| {
        let id_start = start + 1 + usize::from(subject.get(start + 1..start + 2) == Some("#"));
        let end = id_start + TICKET_ID_LEN;
        let id = subject.get(id_start..end)?;
        (is_ticket_id(id) && subject.get(end..end + 1) == Some("]")).then_some((start, end + 1))
    })
}

/// The ticket id of the first tag in `subject`, if any.
pub fn find(subject: &str) -> Option<&str> {
    tags(subject).next().and_then(|(_, end)| {
        // The id is the 26 bytes before the closing bracket.
        subject.get(end - 1 - TICKET_ID_LEN..end - 1)
    })
}

/// `subject` with every tag removed (the text around them kept as is).
pub fn remove(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    let mut at = 0;
    for (start, end) in tags(subject) {
        out.push_str(&subject[at..start]);
        out.push(' ');
        at = end;
    }
    out.push_str(&subject[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::ticket_id;

    #[test]
    fn finds_the_tag_acknowledgements_write() {
        let id = ticket_id("g1", "m1");
        assert!(is_ticket_id(&id));
        assert_eq!(
            find(&format!("Re: Checkout is down {}", tag(&id))),
            Some(id.as_str())
        );
        assert_eq!(
            find(&format!("AW: {} We received your message", tag(&id))),
            Some(id.as_str())
        );
        let other = ticket_id("g1", "m2");
        assert_eq!(
            find(&format!("{} and {}", tag(&id), tag(&other))),
            Some(id.as_str()),
            "the first tag"
        );
    }

    #[test]
    fn only_the_exact_form_is_a_reference() {
        let hex = "0123456789abcdef01234567";
        for subject in [
            format!("[##t_{hex}]"),
            format!("[# t_{hex}]"),
            format!("[T_{hex}]"),
            format!("[t_{}]", hex.to_uppercase()),
            format!("[t_{}]", &hex[..23]),
            format!("[t_{hex}8]"),
            format!("t_{hex}"),
            format!("[t_{hex}"),
            format!("[ t_{hex}]"),
            "[t_]".to_string(),
            "[t_é23456789abcdef0123456]".to_string(),
            String::new(),
        ] {
            assert_eq!(find(&subject), None, "{subject}");
        }
        assert_eq!(find(&format!("x[t_{hex}]y")), Some(&*format!("t_{hex}")));
        // What acknowledgements write now, and the form they wrote before.
        assert_eq!(
            find(&format!("Re: x [#t_{hex}]")),
            Some(&*format!("t_{hex}"))
        );
        assert_eq!(tag(&format!("t_{hex}")), format!("[#t_{hex}]"));
    }

    #[test]
    fn tags_are_removed_wherever_they_are() {
        let id = ticket_id("g", "m");
        assert_eq!(
            remove(&format!("{}Re: a {} b", tag(&id), tag(&id))),
            " Re: a   b"
        );
        assert_eq!(remove("no tag [t_x]"), "no tag [t_x]");
        assert_eq!(remove("é[t_"), "é[t_");
    }
}
