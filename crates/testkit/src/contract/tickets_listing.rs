//! The listing part of the [`TicketStore`] contract (run by
//! [`tickets_contract`](super::tickets_contract)): filters, newest-first
//! order, limits, [`Cursor`] paging, and `listing::list_page` reading the
//! store in chunks under a byte cap.

use triage_core::listing::{Cursor, MAX_PAGE_BYTES, STORE_CHUNK, list_page, newest_first};
use triage_core::ports::{TicketFilter, TicketStore};
use triage_core::ticket::{Priority, Ticket, TicketStatus};

use super::{sample_ticket, write_ok};
use crate::unique_name;

/// `list` filters on queue, priority and status (combined with AND) and
/// returns newest first (`created_at` descending). (Every ticket is
/// [`TicketStatus::New`] today: the status filter keeps them all.)
pub async fn list_filters_and_orders<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let make = |mid: &str, queue: &str, priority: Priority, at: i64| {
        let mut t = sample_ticket(&grant, mid, Some(&format!("th-{mid}")), at);
        t.queue = queue.into();
        t.priority = priority;
        t.status = TicketStatus::New;
        t
    };
    let a = make("a", "billing", Priority::High, 1_000);
    let b = make("b", "billing", Priority::Medium, 2_000);
    let c = make("c", "support", Priority::High, 3_000);
    let d = make("d", "support", Priority::Low, 4_000);
    for t in [&b, &d, &a, &c] {
        write_ok(store, t).await;
    }

    let ids = |v: &[Ticket]| v.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
    let check = |filter: TicketFilter, expected: Vec<&Ticket>| {
        let grant = grant.clone();
        let expected: Vec<String> = expected.iter().map(|t| t.id.clone()).collect();
        async move {
            let all = store
                .list(&filter)
                .await
                .unwrap_or_else(|e| panic!("list {filter:?} failed: {e}"));
            for t in &all {
                assert!(
                    filter.queue.as_ref().is_none_or(|q| &t.queue == q)
                        && filter.priority.is_none_or(|p| t.priority == p)
                        && filter.status.is_none_or(|s| t.status == s),
                    "ticket {} does not match {filter:?}",
                    t.id
                );
            }
            assert!(
                all.windows(2).all(|w| w[0].created_at >= w[1].created_at),
                "list {filter:?} is not newest first"
            );
            let mine: Vec<Ticket> = all.into_iter().filter(|t| t.grant_id == grant).collect();
            assert_eq!(ids(&mine), expected, "list {filter:?}");
        }
    };

    check(TicketFilter::default(), vec![&d, &c, &b, &a]).await;
    check(
        TicketFilter {
            queue: Some("billing".into()),
            ..Default::default()
        },
        vec![&b, &a],
    )
    .await;
    check(
        TicketFilter {
            priority: Some(Priority::High),
            ..Default::default()
        },
        vec![&c, &a],
    )
    .await;
    check(
        TicketFilter {
            priority: Some(Priority::Medium),
            ..Default::default()
        },
        vec![&b],
    )
    .await;
    check(
        TicketFilter {
            status: Some(TicketStatus::New),
            ..Default::default()
        },
        vec![&d, &c, &b, &a],
    )
    .await;
    check(
        TicketFilter {
            queue: Some("support".into()),
            priority: Some(Priority::High),
            status: Some(TicketStatus::New),
            limit: None,
            after: None,
        },
        vec![&c],
    )
    .await;
    check(
        TicketFilter {
            queue: Some("billing".into()),
            priority: Some(Priority::Low),
            ..Default::default()
        },
        vec![],
    )
    .await;
    // A limit keeps the newest.
    let everything = store
        .list(&TicketFilter::default())
        .await
        .unwrap_or_else(|e| panic!("list failed: {e}"));
    let two = store
        .list(&TicketFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("list failed: {e}"));
    assert_eq!(
        ids(&two),
        ids(&everything[..2]),
        "limit 2 lists the two newest"
    );
    let none = store
        .list(&TicketFilter {
            queue: Some(unique_name("no-such-queue")),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("list failed: {e}"));
    assert!(none.is_empty(), "unknown queue lists nothing");
}

/// `listing::list_page` over the store: pages larger than one store chunk,
/// cut by count or by bytes, walked with their cursors, list every ticket
/// once and in order.
pub async fn list_page_reads_in_chunks_and_stops_at_the_byte_cap<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let queue = unique_name("chunks");
    let n = STORE_CHUNK * 2 + 17;
    let mut written = Vec::new();
    for i in 0..n {
        let at = 1_000_000 + i64::try_from(i / 3).unwrap_or(0);
        let mut t = sample_ticket(&grant, &format!("c{i}"), Some(&format!("thc{i}")), at);
        t.queue = queue.clone();
        write_ok(store, &t).await;
        written.push(t);
    }
    written.sort_by(newest_first);
    let want: Vec<String> = written.iter().map(|t| t.id.clone()).collect();
    let filter = TicketFilter {
        queue: Some(queue.clone()),
        ..Default::default()
    };
    let one = serde_json::to_vec(&written[0]).map_or(0, |v| v.len() + 1);
    for (limit, max_bytes) in [
        (1000, MAX_PAGE_BYTES),
        (STORE_CHUNK + 20, MAX_PAGE_BYTES),
        (1000, one * 40),
    ] {
        let mut walked = Vec::new();
        let mut after = None;
        loop {
            let page = list_page(
                store,
                &TicketFilter {
                    after: after.take(),
                    ..filter.clone()
                },
                limit,
                max_bytes,
            )
            .await
            .unwrap_or_else(|e| panic!("list_page failed: {e}"));
            assert!(page.tickets.len() <= limit, "page over its limit");
            assert!(
                serde_json::to_vec(&page.tickets).map_or(0, |v| v.len()) <= max_bytes,
                "page over its byte cap"
            );
            walked.extend(page.tickets.iter().map(|t| t.id.clone()));
            match page.next_cursor {
                Some(c) => after = Some(Cursor::decode(&c).unwrap_or_else(|e| panic!("{e}"))),
                None => break,
            }
            assert!(walked.len() <= n, "paging repeats tickets");
        }
        assert_eq!(walked, want, "limit {limit}, max_bytes {max_bytes}");
    }
}

/// Walking the listing page by page with [`Cursor`]s lists every ticket
/// once, in newest-first order, ties on `created_at` included; the counts
/// of omitted recipients and attachments are kept.
pub async fn list_pages_with_a_cursor<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let queue = unique_name("pages");
    let mut written = Vec::new();
    for (i, at) in [5_000, 5_000, 4_000, 4_000, 4_000, 3_000, 2_000]
        .iter()
        .enumerate()
    {
        let mut t = sample_ticket(&grant, &format!("p{i}"), Some(&format!("thp{i}")), *at);
        t.queue = queue.clone();
        t.recipients_omitted = u32::try_from(i).unwrap_or(0) * 10;
        t.attachments_omitted = 3;
        write_ok(store, &t).await;
        written.push(t);
    }
    written.sort_by(newest_first);
    let filter = |after: Option<Cursor>, limit: usize| TicketFilter {
        queue: Some(queue.clone()),
        limit: Some(limit),
        after,
        ..Default::default()
    };
    for page_size in [1, 2, 3, 7, 10] {
        let mut walked: Vec<Ticket> = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list(&filter(after.clone(), page_size))
                .await
                .unwrap_or_else(|e| panic!("list page failed: {e}"));
            assert!(
                page.len() <= page_size,
                "page of {page_size}: {}",
                page.len()
            );
            let Some(last) = page.last() else { break };
            after = Some(Cursor::after(last));
            walked.extend(page);
            assert!(
                walked.len() <= written.len(),
                "paging by {page_size} repeats tickets"
            );
        }
        let ids = |v: &[Ticket]| v.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&walked), ids(&written), "pages of {page_size}");
        for (got, want) in walked.iter().zip(&written) {
            assert_eq!(
                got.recipients_omitted, want.recipients_omitted,
                "{}",
                got.id
            );
            assert_eq!(got.attachments_omitted, 3, "{}", got.id);
        }
    }
}
