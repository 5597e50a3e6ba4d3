//! Contract tests of threading by ticket reference and by subject (the
//! core's `threading` rules) that every [`TicketStore`] must pass: the
//! stores look candidates up, the core decides, so all of them agree.
//!
//! Like [`crate::contract`], each function uses its own grant and panics
//! with a message on violation; [`threading_contract`] runs them all, and
//! [`threading_concurrency_contract`] the concurrent one (call it from a
//! multi-threaded tokio test).

use std::sync::Arc;

use triage_core::Participant;
use triage_core::ports::TicketStore;
use triage_core::threading::{MAX_APPLIED_RULES, SUBJECT_WINDOW_S, Signal, THREAD_RULE, reference};
use triage_core::ticket::{Ticket, TicketWrite, ticket_id};

use crate::contract::{only_ticket, sample_ticket, tickets_of};
use crate::unique_name;

const T0: i64 = 1_700_000_000;
const DAY: i64 = 24 * 3600;
const SUBJECT: &str = "Order 1234 never arrived";
const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";
const EVE: &str = "eve@evil.example";

fn p(email: &str) -> Participant {
    Participant {
        name: String::new(),
        email: email.into(),
    }
}

/// A message without thread id or header keys, from `from` (also its
/// requester), to support, with `subject`, dated `at`.
pub fn mail(grant: &str, message_id: &str, from: &str, subject: &str, at: i64) -> Ticket {
    let mut t = sample_ticket(grant, message_id, None, at);
    t.subject = subject.to_string();
    t.requester = p(from);
    t.sender = Some(from.to_string());
    t
}

/// Ann opens a ticket about [`SUBJECT`] at [`T0`], Bob in cc.
async fn opened<S: TicketStore>(store: &S, grant: &str) -> Ticket {
    let mut t = mail(grant, "m1", ANN, SUBJECT, T0);
    t.cc = vec![p(BOB)];
    t.thread_id = Some("th-1".into());
    t.thread_keys = vec!["m1@mail.example.com".into()];
    assert_eq!(
        write(store, &t).await,
        TicketWrite::Created {
            ticket_id: t.id.clone()
        }
    );
    t
}

use crate::contract::write_ok as write;

fn appended(ticket: &Ticket, signal: Signal) -> TicketWrite {
    TicketWrite::Appended {
        ticket_id: ticket.id.clone(),
        signal,
    }
}

fn created(t: &Ticket) -> TicketWrite {
    TicketWrite::Created {
        ticket_id: t.id.clone(),
    }
}

/// The stored ticket `id` of `grant`.
async fn stored<S: TicketStore>(store: &S, grant: &str, id: &str) -> Ticket {
    tickets_of(store, grant)
        .await
        .into_iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("ticket {id} is not stored"))
}

/// The threading decision a stored ticket records, if any; never an
/// address nor the subject.
async fn thread_rule<S: TicketStore>(store: &S, grant: &str, id: &str) -> Option<String> {
    let t = stored(store, grant, id).await;
    let rules: Vec<&str> = t
        .applied_rules
        .iter()
        .filter(|r| r.rule == THREAD_RULE)
        .map(|r| r.decision.as_str())
        .collect();
    assert!(rules.len() <= 1, "one threading rule at most: {rules:?}");
    assert!(t.applied_rules.len() <= MAX_APPLIED_RULES);
    let rule = rules.first().map(|r| r.to_string());
    if let Some(r) = &rule {
        assert!(
            !r.contains('@') && !r.to_lowercase().contains("order"),
            "no address or subject in {r}"
        );
    }
    rule
}

/// A reply carrying the ticket's reference, by its requester or a cc
/// participant, joins it (whatever its subject says otherwise).
pub async fn reference_by_a_participant_appends<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = opened(store, &grant).await;
    let tag = reference::tag(&first.id);
    let by_ann = mail(
        &grant,
        "m2",
        ANN,
        &format!("Re: Something else {tag}"),
        T0 + 60,
    );
    assert_eq!(
        write(store, &by_ann).await,
        appended(&first, Signal::TicketRef)
    );
    // Bob, in cc, months later: a reference has no window.
    let by_bob = mail(&grant, "m3", "BOB@Example.com", &tag, T0 + 90 * DAY);
    assert_eq!(
        write(store, &by_bob).await,
        appended(&first, Signal::TicketRef)
    );
    let t = only_ticket(store, &grant).await;
    assert_eq!(t.message_count, 3);
    assert_eq!(t.last_message_at, T0 + 90 * DAY);
}

/// A stranger quoting a ticket's reference opens a ticket of their own,
/// which says why; the referenced ticket is untouched.
pub async fn reference_by_a_stranger_opens_a_new_ticket<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = opened(store, &grant).await;
    let tag = reference::tag(&first.id);
    let mut eve = mail(&grant, "m2", EVE, &format!("Re: {SUBJECT} {tag}"), T0 + 60);
    // Asking for replies to go to Ann does not make Eve a participant.
    eve.requester = p(ANN);
    assert_eq!(write(store, &eve).await, created(&eve));
    assert_eq!(
        thread_rule(store, &grant, &eve.id).await.as_deref(),
        Some("new: sender is not a participant of the ticket_ref match")
    );
    assert_eq!(stored(store, &grant, &first.id).await.message_count, 1);
}

/// A reference to a ticket of another grant, or to no ticket, finds
/// nothing: the subject is looked at next.
pub async fn unknown_or_foreign_reference_falls_back_to_the_subject<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = opened(store, &grant).await;
    let other = unique_name("grant");
    let foreign = mail(&other, "f1", ANN, "Something else entirely", T0);
    write(store, &foreign).await;

    let unknown = reference::tag(&ticket_id(&grant, "no-such-message"));
    let m2 = mail(
        &grant,
        "m2",
        ANN,
        &format!("Re: {SUBJECT} {unknown}"),
        T0 + 60,
    );
    assert_eq!(write(store, &m2).await, appended(&first, Signal::Subject));
    let tag = reference::tag(&foreign.id);
    let m3 = mail(&grant, "m3", ANN, &format!("AW: {SUBJECT} {tag}"), T0 + 120);
    assert_eq!(write(store, &m3).await, appended(&first, Signal::Subject));
    assert_eq!(only_ticket(store, &other).await.message_count, 1);
}

/// Within the window, the requester's and a cc participant's messages
/// with the same normalised subject join the ticket.
pub async fn subject_within_the_window_by_participants_appends<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = opened(store, &grant).await;
    let by_ann = mail(
        &grant,
        "m2",
        ANN,
        "RE: re[2]: order 1234  NEVER arrived",
        T0 + DAY,
    );
    assert_eq!(
        write(store, &by_ann).await,
        appended(&first, Signal::Subject)
    );
    let by_bob = mail(
        &grant,
        "m3",
        BOB,
        "AW: WG: Order 1234 never arrived",
        T0 + 14 * DAY,
    );
    assert_eq!(
        write(store, &by_bob).await,
        appended(&first, Signal::Subject)
    );
    assert_eq!(only_ticket(store, &grant).await.message_count, 3);
}

/// A stranger with the same subject opens a new ticket, which says why.
pub async fn subject_by_a_stranger_opens_a_new_ticket<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = opened(store, &grant).await;
    let eve = mail(&grant, "m2", EVE, &format!("Re: {SUBJECT}"), T0 + 60);
    assert_eq!(write(store, &eve).await, created(&eve));
    assert_eq!(
        thread_rule(store, &grant, &eve.id).await.as_deref(),
        Some("new: sender is not a participant of the subject match")
    );
    assert_eq!(stored(store, &grant, &first.id).await.message_count, 1);
    // The stranger's ticket did not take the subject over: the requester's
    // next reply without headers still joins the first ticket.
    let reply = mail(&grant, "m3", ANN, &format!("Re: {SUBJECT}"), T0 + 120);
    assert_eq!(
        write(store, &reply).await,
        appended(&first, Signal::Subject),
        "the stranger took the subject over"
    );
    assert_eq!(stored(store, &grant, &first.id).await.message_count, 2);
}

/// The same subject from the requester after the window opens a new
/// ticket, which then is the one the subject leads to.
pub async fn subject_outside_the_window_opens_a_new_ticket<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = opened(store, &grant).await;
    let later = T0 + SUBJECT_WINDOW_S + 1;
    let again = mail(&grant, "m2", ANN, SUBJECT, later);
    assert_eq!(write(store, &again).await, created(&again));
    assert_eq!(
        thread_rule(store, &grant, &again.id).await.as_deref(),
        Some("new: the subject match is outside the window")
    );
    let reply = mail(&grant, "m3", ANN, &format!("Re: {SUBJECT}"), later + DAY);
    assert_eq!(
        write(store, &reply).await,
        appended(&again, Signal::Subject),
        "the newest ticket with the subject"
    );
    assert_eq!(stored(store, &grant, &first.id).await.message_count, 1);
}

/// Generic or short subjects never thread, even from the same requester.
pub async fn generic_subjects_never_thread<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    for (i, subject) in ["Help", "Re: help", "(no subject)", "", "Anfrage", "Hi"]
        .iter()
        .enumerate()
    {
        let t = mail(&grant, &format!("g{i}"), ANN, subject, T0 + i as i64);
        assert_eq!(write(store, &t).await, created(&t), "{subject:?}");
        assert_eq!(thread_rule(store, &grant, &t.id).await, None);
    }
    assert_eq!(tickets_of(store, &grant).await.len(), 6);
}

/// The thread id and header keys decide before the reference and the
/// subject, and are not subject to the participant check.
pub async fn header_keys_win_over_reference_and_subject<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = opened(store, &grant).await;
    let other = mail(&grant, "o1", ANN, "Invoice 99 is wrong", T0);
    write(store, &other).await;

    let mut by_thread = mail(&grant, "m2", ANN, "Re: Invoice 99 is wrong", T0 + 60);
    by_thread.thread_id = Some("th-1".into());
    assert_eq!(
        write(store, &by_thread).await,
        appended(&first, Signal::ThreadId)
    );
    let tag = reference::tag(&other.id);
    let mut by_key = mail(&grant, "m3", EVE, &format!("Re: Invoice 99 {tag}"), T0 + 90);
    by_key.thread_keys = vec!["m3@mail.example.com".into(), "m1@mail.example.com".into()];
    assert_eq!(
        write(store, &by_key).await,
        appended(&first, Signal::MessageId)
    );
    assert_eq!(stored(store, &grant, &other.id).await.message_count, 1);
}

/// Redelivered, a message appended by subject or by reference, and one a
/// refused candidate made a ticket of, are already recorded; nothing
/// moves. A message appended by subject brings its own thread id and keys
/// along, so its replies follow by header.
pub async fn redelivery_is_idempotent<S: TicketStore>(store: &S) {
    let grant = unique_name("grant");
    let first = opened(store, &grant).await;
    let mut by_subject = mail(&grant, "m2", BOB, &format!("Re: {SUBJECT}"), T0 + 60);
    by_subject.thread_id = Some("th-bob".into());
    by_subject.thread_keys = vec!["m2@mail.example.com".into()];
    let by_ref = mail(&grant, "m3", ANN, &reference::tag(&first.id), T0 + 70);
    let eve = mail(&grant, "m4", EVE, SUBJECT, T0 + 80);
    assert_eq!(
        write(store, &by_subject).await,
        appended(&first, Signal::Subject)
    );
    assert_eq!(
        write(store, &by_ref).await,
        appended(&first, Signal::TicketRef)
    );
    assert_eq!(write(store, &eve).await, created(&eve));
    for _ in 0..2 {
        for m in [&by_subject, &by_ref] {
            assert_eq!(
                write(store, m).await,
                TicketWrite::AlreadyRecorded {
                    ticket_id: first.id.clone()
                },
                "{}",
                m.message_id
            );
        }
        assert_eq!(
            write(store, &eve).await,
            TicketWrite::AlreadyRecorded {
                ticket_id: eve.id.clone()
            }
        );
    }
    let t = stored(store, &grant, &first.id).await;
    assert_eq!((t.message_count, t.message_ids.len()), (3, 3));
    assert_eq!(stored(store, &grant, &eve.id).await.message_count, 1);

    let mut follow = mail(&grant, "m5", BOB, "Something unrelated", T0 + 100);
    follow.thread_id = Some("th-bob".into());
    assert_eq!(
        write(store, &follow).await,
        appended(&first, Signal::ThreadId)
    );
    let mut by_key = mail(&grant, "m6", BOB, "Something unrelated", T0 + 110);
    by_key.thread_keys = vec!["m2@mail.example.com".into()];
    assert_eq!(
        write(store, &by_key).await,
        appended(&first, Signal::MessageId)
    );
}

/// Every sequential threading behaviour.
pub async fn threading_contract<S: TicketStore>(store: &S) {
    reference_by_a_participant_appends(store).await;
    reference_by_a_stranger_opens_a_new_ticket(store).await;
    unknown_or_foreign_reference_falls_back_to_the_subject(store).await;
    subject_within_the_window_by_participants_appends(store).await;
    subject_by_a_stranger_opens_a_new_ticket(store).await;
    subject_outside_the_window_opens_a_new_ticket(store).await;
    generic_subjects_never_thread(store).await;
    header_keys_win_over_reference_and_subject(store).await;
    redelivery_is_idempotent(store).await;
}

/// `n` messages of the requester with one new subject and no headers,
/// written at once (spread over `stores`): one ticket, one `Created`, the
/// others `Appended` by subject; then all again: all already recorded.
pub async fn concurrent_new_subject_one_ticket<S: TicketStore + 'static>(
    stores: &[Arc<S>],
    n: usize,
) {
    assert!(!stores.is_empty(), "at least one store");
    let grant = unique_name("grant");
    let messages: Vec<Ticket> = (0..n)
        .map(|i| {
            let subject = format!("{}{SUBJECT}", "Re: ".repeat(i % 3));
            mail(&grant, &format!("c{i:03}"), ANN, &subject, T0 + i as i64)
        })
        .collect();
    for round in 0..2 {
        let results = crate::contract::write_at_once(stores, &messages).await;
        let t = only_ticket(&*stores[0], &grant).await;
        let count = |f: &dyn Fn(&TicketWrite) -> bool| results.iter().filter(|w| f(w)).count();
        if round == 0 {
            assert_eq!(
                count(&|w| matches!(w, TicketWrite::Created { .. })),
                1,
                "{results:?}"
            );
            assert_eq!(
                count(&|w| matches!(
                    w,
                    TicketWrite::Appended {
                        signal: Signal::Subject,
                        ..
                    }
                )),
                n - 1,
                "{results:?}"
            );
        } else {
            assert_eq!(
                count(&|w| matches!(w, TicketWrite::AlreadyRecorded { .. })),
                n,
                "{results:?}"
            );
        }
        assert!(results.iter().all(|w| w.ticket_id() == t.id), "{results:?}");
        assert_eq!(t.message_count as usize, n);
    }
}

/// Every concurrent threading behaviour (8 writers spread over `stores`).
pub async fn threading_concurrency_contract<S: TicketStore + 'static>(stores: &[Arc<S>]) {
    concurrent_new_subject_one_ticket(stores, 8).await;
}
