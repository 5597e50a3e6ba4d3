//! The [`TicketStore`] contract, written one message at a time
//! ([`tickets_contract`]): a first message creates its ticket, later ones
//! join it by thread id or Message-ID, a message is recorded once, grants
//! never share threads. The suite also runs the listing behaviours
//! (`tickets_listing.rs`).

use triage_core::Participant;
use triage_core::ports::TicketStore;
use triage_core::threading::Signal;
use triage_core::ticket::TicketWrite;

use super::{
    list_filters_and_orders, list_page_reads_in_chunks_and_stops_at_the_byte_cap,
    list_pages_with_a_cursor, only_ticket, sample_ticket, sorted, tickets_of, write_ok,
};
use crate::unique_name;

/// A first message creates its ticket; the stored ticket reads back equal
/// (every field, nested ones included).
pub async fn ticket_create_is_created<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let mut t = sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    t.cc = vec![Participant {
        name: "Bob".into(),
        email: "bob@example.com".into(),
    }];
    t.thread_keys = vec!["m1@mail.example.com".into()];
    assert_eq!(
        write_ok(store, &t).await,
        TicketWrite::Created {
            ticket_id: t.id.clone()
        }
    );
    assert_eq!(only_ticket(store, &grant).await, t);

    // No thread id, no thread keys: a ticket of its own.
    let lone = sample_ticket(&grant, "m-lone", None, 1_700_000_001);
    assert_eq!(
        write_ok(store, &lone).await,
        TicketWrite::Created {
            ticket_id: lone.id.clone()
        }
    );
    let all = tickets_of(store, &grant).await;
    assert_eq!(all.len(), 2);
    assert!(
        all.contains(&lone),
        "ticket without thread id reads back equal"
    );
}

/// Writing the same first message again is `AlreadyRecorded` and changes
/// nothing.
pub async fn ticket_rewrite_is_already_recorded<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let mut t = sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    t.thread_keys = vec!["m1@mail.example.com".into()];
    write_ok(store, &t).await;
    for _ in 0..2 {
        assert_eq!(
            write_ok(store, &t).await,
            TicketWrite::AlreadyRecorded {
                ticket_id: t.id.clone()
            }
        );
    }
    let stored = only_ticket(store, &grant).await;
    assert_eq!(stored.message_count, 1);
    assert_eq!(stored.message_ids, vec!["m1".to_string()]);

    // Same for a ticket with no thread at all.
    let lone = sample_ticket(&grant, "m-lone", None, 1_700_000_001);
    write_ok(store, &lone).await;
    assert_eq!(
        write_ok(store, &lone).await,
        TicketWrite::AlreadyRecorded {
            ticket_id: lone.id.clone()
        }
    );
    assert_eq!(tickets_of(store, &grant).await.len(), 2);
}

/// A second message of the same thread joins the ticket: count 2, both ids,
/// `last_message_at` moves forward; its redelivery changes nothing.
pub async fn second_message_same_thread_appends<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    write_ok(store, &first).await;
    let second = sample_ticket(&grant, "m2", Some("th1"), 1_700_000_500);
    assert_eq!(
        write_ok(store, &second).await,
        TicketWrite::Appended {
            ticket_id: first.id.clone(),
            signal: Signal::ThreadId
        }
    );
    assert_eq!(
        write_ok(store, &second).await,
        TicketWrite::AlreadyRecorded {
            ticket_id: first.id.clone()
        },
        "a redelivered appended message is already recorded"
    );
    // The first message again: still recorded, not appended.
    assert_eq!(
        write_ok(store, &first).await,
        TicketWrite::AlreadyRecorded {
            ticket_id: first.id.clone()
        }
    );
    let stored = only_ticket(store, &grant).await;
    assert_eq!(stored.id, first.id);
    assert_eq!(stored.message_count, 2);
    assert_eq!(sorted(&stored.message_ids), vec!["m1", "m2"]);
    assert_eq!(stored.last_message_at, 1_700_000_500);
    assert_eq!(stored.created_at, first.created_at);
    assert_eq!(
        stored.subject, first.subject,
        "the opening message names the ticket"
    );
}

/// An older message arriving late does not move `last_message_at` back.
pub async fn late_message_keeps_last_message_at<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = sample_ticket(&grant, "m1", Some("th1"), 1_700_000_900);
    write_ok(store, &first).await;
    let late = sample_ticket(&grant, "m0", Some("th1"), 1_700_000_100);
    assert!(matches!(
        write_ok(store, &late).await,
        TicketWrite::Appended { .. }
    ));
    let stored = only_ticket(store, &grant).await;
    assert_eq!(stored.last_message_at, 1_700_000_900);
    assert_eq!(stored.message_count, 2);
}

/// A message in another provider thread whose `thread_keys` hold an earlier
/// ticket's Message-ID (a reply, `In-Reply-To`/`References`) joins that
/// ticket; a third message matching only the reply's keys joins it too.
pub async fn thread_keys_match_earlier_message_id<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let mut first = sample_ticket(&grant, "m1", Some("th-a"), 1_700_000_000);
    first.thread_keys = vec!["root@mail.example.com".into()];
    write_ok(store, &first).await;

    let mut reply = sample_ticket(&grant, "m2", Some("th-b"), 1_700_000_100);
    reply.thread_keys = vec![
        "reply@mail.example.net".into(),
        "root@mail.example.com".into(),
    ];
    assert_eq!(
        write_ok(store, &reply).await,
        TicketWrite::Appended {
            ticket_id: first.id.clone(),
            signal: Signal::MessageId
        }
    );

    // Knows only the reply's Message-ID, in yet another thread.
    let mut third = sample_ticket(&grant, "m3", None, 1_700_000_200);
    third.thread_keys = vec!["reply@mail.example.net".into()];
    assert_eq!(
        write_ok(store, &third).await,
        TicketWrite::Appended {
            ticket_id: first.id.clone(),
            signal: Signal::MessageId
        }
    );
    // And the reply's provider thread now leads to the ticket as well.
    let fourth = sample_ticket(&grant, "m4", Some("th-b"), 1_700_000_300);
    assert_eq!(
        write_ok(store, &fourth).await,
        TicketWrite::Appended {
            ticket_id: first.id.clone(),
            signal: Signal::ThreadId
        }
    );

    let stored = only_ticket(store, &grant).await;
    assert_eq!(stored.message_count, 4);
    assert_eq!(sorted(&stored.message_ids), vec!["m1", "m2", "m3", "m4"]);
}

/// A message already recorded stays recorded once even when a redelivery
/// now leads elsewhere (its thread id or keys point at another ticket):
/// `AlreadyRecorded` on the ticket that has it; no count changes.
pub async fn recorded_message_is_never_counted_twice<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let a = sample_ticket(&grant, "a1", Some("th-a"), 1_700_000_000);
    let b = sample_ticket(&grant, "b1", Some("th-b"), 1_700_000_000);
    write_ok(store, &a).await;
    write_ok(store, &b).await;
    let x = sample_ticket(&grant, "x", Some("th-a"), 1_700_000_100);
    assert_eq!(
        write_ok(store, &x).await,
        TicketWrite::Appended {
            ticket_id: a.id.clone(),
            signal: Signal::ThreadId
        }
    );
    // Redelivered with another thread id (e.g. the provider re-threaded it).
    let mut moved = x.clone();
    moved.thread_id = Some("th-b".into());
    assert_eq!(
        write_ok(store, &moved).await,
        TicketWrite::AlreadyRecorded {
            ticket_id: a.id.clone()
        }
    );
    let all = tickets_of(store, &grant).await;
    let count = |id: &str| all.iter().find(|t| t.id == id).map(|t| t.message_count);
    assert_eq!(count(&a.id), Some(2));
    assert_eq!(count(&b.id), Some(1));
}

/// Threads of different grants never mix, even with equal thread ids and keys.
pub async fn grants_do_not_share_threads<S: TicketStore>(store: &S) {
    let g1 = unique_name("grant");
    let g2 = unique_name("grant");
    let mut a = sample_ticket(&g1, "m1", Some("th1"), 1_700_000_000);
    a.thread_keys = vec!["same@example.com".into()];
    let mut b = sample_ticket(&g2, "m2", Some("th1"), 1_700_000_000);
    b.thread_keys = vec!["same@example.com".into()];
    assert!(matches!(
        write_ok(store, &a).await,
        TicketWrite::Created { .. }
    ));
    assert!(matches!(
        write_ok(store, &b).await,
        TicketWrite::Created { .. }
    ));
    assert_eq!(only_ticket(store, &g1).await.message_count, 1);
    assert_eq!(only_ticket(store, &g2).await.message_count, 1);
}

/// Every sequential ticket behaviour.
pub async fn tickets_contract<S: TicketStore>(store: &S) {
    ticket_create_is_created(store).await;
    ticket_rewrite_is_already_recorded(store).await;
    second_message_same_thread_appends(store).await;
    late_message_keeps_last_message_at(store).await;
    thread_keys_match_earlier_message_id(store).await;
    recorded_message_is_never_counted_twice(store).await;
    grants_do_not_share_threads(store).await;
    list_filters_and_orders(store).await;
    list_pages_with_a_cursor(store).await;
    list_page_reads_in_chunks_and_stops_at_the_byte_cap(store).await;
}
