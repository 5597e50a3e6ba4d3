//! Listing tickets in pages: the newest-first order both stores use, the
//! cursor that continues a listing, and the bounds on one page (count and
//! bytes). The stores fetch; the rules live here, once.

use std::cmp::Ordering;

use crate::ports::{StoreError, TicketFilter, TicketStore};
use crate::ticket::Ticket;

/// Most tickets on one page of `GET /tickets`.
pub const MAX_PAGE_TICKETS: usize = 1000;
/// Tickets on a page when the caller names no limit.
pub const DEFAULT_PAGE_TICKETS: usize = 100;
/// Most bytes of tickets (as JSON) on one page; a page is cut before the
/// ticket that would pass it (a page always holds at least one ticket).
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Most message ids listed per ticket (the newest); `message_count` has all.
pub const MAX_LISTED_MESSAGE_IDS: usize = 50;
/// Tickets read from the store at a time while a page is filled, so a page
/// cut by its byte bound never held a thousand tickets in memory.
pub const STORE_CHUNK: usize = 100;

/// Newest first: `created_at` descending, then `id` ascending.
pub fn newest_first(a: &Ticket, b: &Ticket) -> Ordering {
    b.created_at
        .cmp(&a.created_at)
        .then_with(|| a.id.cmp(&b.id))
}

/// Where a listing goes on: just after this ticket in newest-first order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: String,
}

/// A cursor that is not one we made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor")]
pub struct CursorError;

impl Cursor {
    /// The cursor that continues after `t`.
    pub fn after(t: &Ticket) -> Cursor {
        Cursor {
            created_at: t.created_at,
            id: t.id.clone(),
        }
    }

    /// Opaque text form: `<created_at>.<ticket id>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id)
    }

    /// Parse [`Cursor::encode`]'s form. Ticket ids are `t_` and hex digits.
    pub fn decode(s: &str) -> Result<Cursor, CursorError> {
        let (at, id) = s.split_once('.').ok_or(CursorError)?;
        let created_at = at.parse().map_err(|_| CursorError)?;
        let valid_id = id.len() <= 64
            && id.starts_with("t_")
            && id[2..].bytes().all(|b| b.is_ascii_hexdigit());
        if !valid_id {
            return Err(CursorError);
        }
        Ok(Cursor {
            created_at,
            id: id.to_string(),
        })
    }

    /// Does `t` come after the cursor (so belongs to a later page)?
    pub fn admits(&self, t: &Ticket) -> bool {
        t.created_at < self.created_at || (t.created_at == self.created_at && t.id > self.id)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Page {
    pub tickets: Vec<Ticket>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Fills one page: bounds each ticket, stops before the byte cap.
struct PageBuilder {
    tickets: Vec<Ticket>,
    bytes: usize,
    max_bytes: usize,
    full: bool,
}

impl PageBuilder {
    fn new(max_bytes: usize) -> PageBuilder {
        PageBuilder {
            tickets: Vec::new(),
            bytes: 2,
            max_bytes,
            full: false,
        }
    }

    /// Add `t` (bounded, its message ids trimmed) unless that would pass
    /// the byte cap; a page always takes its first ticket.
    fn push(&mut self, mut t: Ticket) -> bool {
        t.bound();
        trim_message_ids(&mut t);
        let size = serde_json::to_vec(&t).map_or(usize::MAX, |v| v.len() + 1);
        if !self.tickets.is_empty() && self.bytes.saturating_add(size) > self.max_bytes {
            self.full = true;
            return false;
        }
        self.bytes = self.bytes.saturating_add(size);
        self.tickets.push(t);
        true
    }

    /// The page; `more`: tickets follow in the store.
    fn finish(self, more: bool) -> Page {
        let next_cursor = (more || self.full)
            .then(|| self.tickets.last().map(|t| Cursor::after(t).encode()))
            .flatten();
        Page {
            tickets: self.tickets,
            next_cursor,
        }
    }
}

/// One page of tickets matching `filter` (its `limit` is ignored; `after`
/// is where the page starts), read from the store
/// [`STORE_CHUNK`] tickets at a time until the page is full by count or bytes.
pub async fn list_page<S: TicketStore>(
    store: &S,
    filter: &TicketFilter,
    limit: usize,
    max_bytes: usize,
) -> Result<Page, StoreError> {
    let limit = limit.max(1);
    let mut builder = PageBuilder::new(max_bytes);
    let mut after = filter.after.clone();
    loop {
        let want = (limit - builder.tickets.len()).min(STORE_CHUNK);
        let chunk = store
            .list(&TicketFilter {
                limit: Some(want + 1),
                after: after.take(),
                ..filter.clone()
            })
            .await?;
        let more = chunk.len() > want;
        for t in chunk.into_iter().take(want) {
            if !builder.push(t) {
                return Ok(builder.finish(true));
            }
        }
        if !more || builder.tickets.len() >= limit {
            return Ok(builder.finish(more));
        }
        after = builder.tickets.last().map(Cursor::after);
    }
}

fn trim_message_ids(t: &mut Ticket) {
    let n = t.message_ids.len();
    if n > MAX_LISTED_MESSAGE_IDS {
        t.message_ids.drain(..n - MAX_LISTED_MESSAGE_IDS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page builder over a list fetched with `limit + 1` (so a further
    /// page can be seen): at most `limit` tickets and `max_bytes` of JSON.
    fn page(tickets: Vec<Ticket>, limit: usize, max_bytes: usize) -> Page {
        let more = tickets.len() > limit;
        let mut builder = PageBuilder::new(max_bytes);
        for t in tickets.into_iter().take(limit) {
            if !builder.push(t) {
                break;
            }
        }
        builder.finish(more)
    }

    fn ticket(created_at: i64, id: &str, subject_len: usize) -> Ticket {
        Ticket {
            id: id.to_string(),
            created_at,
            subject: "s".repeat(subject_len),
            ..serde_json::from_value(serde_json::json!({
                "id": "", "grant_id": "g", "message_id": "m", "thread_id": null,
                "subject": "", "requester": {"name": "", "email": ""}, "to": [], "cc": [],
                "category": "c", "queue": "q", "priority": "low", "status": "new",
                "received_at": 0, "created_at": 0, "last_message_at": 0, "message_count": 1,
                "message_ids": ["m"], "snippet": "", "attachments": [], "applied_rules": [],
            }))
            .expect("ticket")
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_other_text() {
        let c = Cursor {
            created_at: 1_700_000_000,
            id: "t_0123abcd".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        for bad in [
            "", "x", "1.", ".t_00", "1.t_zz", "1.u_00", "a.t_00", "1.t_00\n",
        ] {
            assert_eq!(Cursor::decode(bad), Err(CursorError), "{bad:?}");
        }
    }

    #[test]
    fn the_cursor_admits_exactly_the_later_tickets() {
        let mut all = [
            ticket(3, "t_03", 1),
            ticket(2, "t_0b", 1),
            ticket(2, "t_0a", 1),
            ticket(1, "t_01", 1),
        ];
        all.sort_by(newest_first);
        let ids: Vec<_> = all.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["t_03", "t_0a", "t_0b", "t_01"]);
        let c = Cursor::after(&all[1]);
        let later: Vec<_> = all.iter().filter(|t| c.admits(t)).map(|t| &t.id).collect();
        assert_eq!(later, ["t_0b", "t_01"]);
    }

    #[test]
    fn a_page_stops_at_the_limit_or_the_byte_cap() {
        let all: Vec<_> = (0..10)
            .map(|i| ticket(100 - i, &format!("t_{i:02}"), 200))
            .collect();
        let p = page(all.clone(), 5, MAX_PAGE_BYTES);
        assert_eq!(p.tickets.len(), 5);
        assert_eq!(p.next_cursor.as_deref(), Some("96.t_04"));
        let p = page(all.clone(), 20, MAX_PAGE_BYTES);
        assert_eq!((p.tickets.len(), p.next_cursor), (10, None));
        let one = serde_json::to_vec(&all[0]).unwrap().len() + 1;
        let cap = 2 + 3 * one + one / 2;
        let p = page(all.clone(), 20, cap);
        assert_eq!(p.tickets.len(), 3);
        assert!(serde_json::to_vec(&p.tickets).unwrap().len() <= cap);
        assert_eq!(p.next_cursor.as_deref(), Some("98.t_02"));
        // One ticket larger than the cap still makes progress.
        let p = page(all, 20, 10);
        assert_eq!(p.tickets.len(), 1);
        assert!(p.next_cursor.is_some());
    }

    #[test]
    fn rows_written_before_the_bounds_are_bounded_when_listed() {
        let mut t = ticket(1, "t_01", 100_000);
        t.to = (0..5_000)
            .map(|i| crate::Participant {
                name: "n".repeat(1_000),
                email: format!("u{i}@example.org"),
            })
            .collect();
        let p = page(vec![t], 1, MAX_PAGE_BYTES);
        let t = &p.tickets[0];
        assert_eq!(t.subject.chars().count(), crate::ticket::MAX_SUBJECT_CHARS);
        assert_eq!(t.to.len(), crate::ticket::MAX_RECIPIENTS_KEPT);
        assert_eq!(t.recipients_omitted, 5_000 - 20);
        assert!(serde_json::to_vec(&p.tickets).unwrap().len() < 64 * 1024);
    }

    #[test]
    fn long_threads_list_their_newest_message_ids() {
        let mut t = ticket(1, "t_01", 1);
        t.message_ids = (0..500).map(|i| format!("m{i}")).collect();
        t.message_count = 500;
        let p = page(vec![t], 1, MAX_PAGE_BYTES);
        let ids = &p.tickets[0].message_ids;
        assert_eq!(ids.len(), MAX_LISTED_MESSAGE_IDS);
        assert_eq!(ids.last().map(String::as_str), Some("m499"));
        assert_eq!(p.tickets[0].message_count, 500);
    }
}
