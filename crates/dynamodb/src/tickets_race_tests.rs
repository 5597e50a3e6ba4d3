//! Deterministic interleavings of the create race, against moto: the create
//! transaction is run as a worker whose lookup went stale would run it
//! (another worker committed in between). These need moto (AWS_ENDPOINT_URL)
//! and fail without it.

use triage_testkit::contract::sample_ticket;
use triage_testkit::threading_contract::mail;
use triage_testkit::{moto_config, unique_name};

use super::*;

async fn store() -> DynamoTickets {
    let sdk = moto_config().await;
    let client = Client::new(&sdk);
    let table = triage_testkit::create_dynamo_table(&client, "race").await;
    DynamoTickets::from_client(client, table)
}

impl DynamoTickets {
    async fn exists(&self, pk: &str) -> bool {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .is_some()
    }

    async fn drop_table(&self) {
        let _ = self
            .client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await;
    }
}

/// Worker 2's lookup missed the thread pointer worker 1 just committed: its
/// transaction is cancelled on the thread pointer, writes nothing, and the
/// next round appends.
#[tokio::test]
async fn stale_lookup_on_thread_pointer_then_appends() {
    let st = store().await;
    let g = unique_name("g");
    let m1 = sample_ticket(&g, "m1", Some("th"), 100);
    let mut m2 = sample_ticket(&g, "m2", Some("th"), 200);
    m2.thread_keys = vec!["m2@x.io".into()];
    assert_eq!(
        st.write(&m1).await.unwrap(),
        TicketWrite::Created {
            ticket_id: m1.id.clone()
        }
    );

    let keys = Keys::of(&m2);
    assert_eq!(
        st.create(&m2, &keys, &Found::new(), true).await.unwrap(),
        Create::PointerTaken
    );
    assert!(!st.exists(&keys.ticket).await, "cancelled: no ticket");
    assert!(!st.exists(&keys.msgids[0]).await, "cancelled: no pointer");

    assert_eq!(
        st.write(&m2).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: m1.id.clone(),
            signal: Signal::ThreadId
        }
    );
    assert!(st.exists(&keys.msgids[0]).await, "append puts the pointer");
    st.drop_table().await;
}

/// Same with only a thread key in common (no provider thread id).
#[tokio::test]
async fn stale_lookup_on_key_pointer_then_appends() {
    let st = store().await;
    let g = unique_name("g");
    let mut m1 = sample_ticket(&g, "m1", None, 100);
    m1.thread_keys = vec!["root@x.io".into()];
    let mut m2 = sample_ticket(&g, "m2", Some("th-2"), 200);
    m2.thread_keys = vec!["m2@x.io".into(), "root@x.io".into()];
    st.write(&m1).await.unwrap();

    let keys = Keys::of(&m2);
    assert_eq!(
        st.create(&m2, &keys, &Found::new(), true).await.unwrap(),
        Create::PointerTaken
    );
    assert!(!st.exists(keys.thread.as_deref().unwrap()).await);

    assert_eq!(
        st.write(&m2).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: m1.id.clone(),
            signal: Signal::MessageId
        }
    );
    st.drop_table().await;
}

/// A redelivery of the opening message whose lookup went stale: the
/// transaction is cancelled on the ticket item itself -> already recorded.
#[tokio::test]
async fn stale_lookup_of_a_redelivery_is_already_recorded() {
    let st = store().await;
    let g = unique_name("g");
    let mut m1 = sample_ticket(&g, "m1", Some("th"), 100);
    m1.thread_keys = vec!["m1@x.io".into()];
    st.write(&m1).await.unwrap();
    assert_eq!(
        st.create(&m1, &Keys::of(&m1), &Found::new(), true)
            .await
            .unwrap(),
        Create::TicketExists
    );
    let mut lone = sample_ticket(&g, "lone", None, 100);
    st.write(&lone).await.unwrap();
    lone.subject = "changed".into();
    assert_eq!(
        st.create(&lone, &Keys::of(&lone), &Found::new(), true)
            .await
            .unwrap(),
        Create::TicketExists
    );
    st.drop_table().await;
}

/// A key pointer already pointing at the same ticket (e.g. put after an
/// earlier transaction) does not cancel the create.
#[tokio::test]
async fn own_key_pointer_does_not_cancel_create() {
    let st = store().await;
    let g = unique_name("g");
    let mut m1 = sample_ticket(&g, "m1", Some("th"), 100);
    m1.thread_keys = vec!["m1@x.io".into()];
    let keys = Keys::of(&m1);
    st.put_once(&keys.msgids[0], "msgid", &m1.id).await.unwrap();
    assert_eq!(
        st.create(&m1, &keys, &Found::new(), true).await.unwrap(),
        Create::Created
    );
    st.drop_table().await;
}

/// More thread keys than fit in one transaction: the rest are put after it.
#[tokio::test]
async fn keys_beyond_the_transaction_limit_are_put_after() {
    let st = store().await;
    let g = unique_name("g");
    let mut m1 = sample_ticket(&g, "m1", Some("th"), 100);
    m1.thread_keys = (0..TXN_KEY_POINTERS + 5)
        .map(|i| format!("k{i}@x.io"))
        .collect();
    assert!(matches!(
        st.write(&m1).await.unwrap(),
        TicketWrite::Created { .. }
    ));
    let mut last = sample_ticket(&g, "m2", None, 200);
    last.thread_keys = vec![format!("k{}@x.io", TXN_KEY_POINTERS + 4)];
    assert_eq!(
        st.write(&last).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: m1.id.clone(),
            signal: Signal::MessageId
        }
    );
    st.drop_table().await;
}

/// A string attribute of item `pk`.
async fn attribute(st: &DynamoTickets, pk: &str, name: &str) -> Option<String> {
    let item = st
        .client
        .get_item()
        .table_name(&st.table)
        .key("pk", s(pk))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item?;
    get_s(&item, name).map(str::to_string)
}

const SUBJECT: &str = "Order 1234 never arrived";

/// Worker 2's lookup missed the subject pointer worker 1's new ticket just
/// took: its create is cancelled on that pointer, and the next round
/// decides on worker 1's ticket (the requester again: it appends).
#[tokio::test]
async fn stale_lookup_on_subject_pointer_then_appends() {
    let st = store().await;
    let g = unique_name("g");
    let m1 = mail(&g, "m1", "ann@example.com", SUBJECT, 100);
    let m2 = mail(&g, "m2", "ann@example.com", &format!("Re: {SUBJECT}"), 200);
    st.write(&m1).await.unwrap();
    let keys = Keys::of(&m2);
    assert_eq!(
        st.create(&m2, &keys, &Found::new(), true).await.unwrap(),
        Create::PointerTaken
    );
    assert!(!st.exists(&keys.ticket).await, "cancelled: no ticket");
    assert_eq!(
        st.write(&m2).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: m1.id.clone(),
            signal: Signal::Subject
        }
    );
    st.drop_table().await;
}

/// A create decided on a subject pointer that has moved on since (another
/// ticket with the subject was created meanwhile) is cancelled; decided
/// on the current one, it takes the pointer over.
#[tokio::test]
async fn subject_pointer_moved_since_the_lookup_cancels_create() {
    let st = store().await;
    let g = unique_name("g");
    let m1 = mail(&g, "m1", "ann@example.com", SUBJECT, 100);
    let e1 = mail(&g, "e1", "eve@evil.example", SUBJECT, 150);
    st.write(&m1).await.unwrap();
    assert_eq!(
        st.write(&e1).await.unwrap(),
        TicketWrite::Created {
            ticket_id: e1.id.clone()
        }
    );
    let keys = Keys::of(&e1);
    let pk = keys.subject.clone().unwrap();
    // A stranger's ticket does not take the subject over.
    assert_eq!(attribute(&st, &pk, "ticket_id").await, Some(m1.id.clone()));
    // The requester's mail after the window does.
    let later = 100 + triage_core::threading::SUBJECT_WINDOW_S + 1;
    let m2 = mail(&g, "m2", "ann@example.com", SUBJECT, later);
    st.write(&m2).await.unwrap();
    assert_eq!(attribute(&st, &pk, "ticket_id").await, Some(m2.id.clone()));
    let e1 = m2;
    let x = mail(&g, "x1", "xavier@example.net", SUBJECT, later + 50);
    let keys = Keys::of(&x);
    let saw = |id: &str| {
        Found::from([(
            pk.clone(),
            Pointer {
                ticket_id: id.to_string(),
                signal: None,
            },
        )])
    };
    assert_eq!(
        st.create(&x, &keys, &saw(&m1.id), true).await.unwrap(),
        Create::PointerTaken
    );
    assert_eq!(
        st.create(&x, &keys, &saw(&e1.id), true).await.unwrap(),
        Create::Created
    );
    assert_eq!(attribute(&st, &pk, "ticket_id").await, Some(x.id.clone()));
    st.drop_table().await;
}

/// An append records its signal on the pin and in the event the ticket
/// item carries; a redelivery that finds a pin but not the message on the
/// ticket (a crash between the two) appends with the pin's signal, or,
/// for a pin without one, the header signal.
#[tokio::test]
async fn pins_and_events_carry_the_signal() {
    let st = store().await;
    let g = unique_name("g");
    let mut m1 = mail(&g, "m1", "ann@example.com", SUBJECT, 100);
    m1.thread_id = Some("th".into());
    st.write(&m1).await.unwrap();
    let m2 = mail(&g, "m2", "ann@example.com", &format!("Re: {SUBJECT}"), 200);
    st.write(&m2).await.unwrap();
    let keys = Keys::of(&m2);
    assert_eq!(
        attribute(&st, &keys.seen, tickets_threading::SIGNAL_ATTRIBUTE)
            .await
            .as_deref(),
        Some("subject")
    );
    let event = attribute(&st, &keys_ticket(&m1), LAST_EVENT_ATTRIBUTE)
        .await
        .unwrap();
    assert!(event.contains(r#""thread_signal":"subject""#), "{event}");

    // Crashed after the pin: the pin's signal.
    let m3 = mail(&g, "m3", "ann@example.com", "Unrelated words here", 300);
    let keys = Keys::of(&m3);
    st.pin(&keys, &m3, m1.id.clone(), Signal::TicketRef)
        .await
        .unwrap();
    assert_eq!(
        st.write(&m3).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: m1.id.clone(),
            signal: Signal::TicketRef
        }
    );
    // A pin from before signals were kept, with the thread pointer.
    let mut m4 = mail(&g, "m4", "ann@example.com", "Unrelated words here", 400);
    m4.thread_id = Some("th".into());
    let keys = Keys::of(&m4);
    st.put_once(&keys.seen, "seen", &m1.id).await.unwrap();
    assert_eq!(
        st.write(&m4).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: m1.id.clone(),
            signal: Signal::ThreadId
        }
    );
    st.drop_table().await;
}

fn keys_ticket(t: &Ticket) -> String {
    Keys::of(t).ticket
}
