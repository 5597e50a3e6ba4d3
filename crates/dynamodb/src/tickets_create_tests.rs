//! Creating without a transaction, against moto: claims an interrupted
//! create left behind, claims of a writer still at work, abandoned claims,
//! and undoing the claims of a lost race. These need moto
//! (AWS_ENDPOINT_URL) and fail without it.

use triage_testkit::contract::sample_ticket;
use triage_testkit::{moto_config, unique_name};

use super::super::*;
use super::*;

async fn store() -> DynamoTickets {
    let sdk = moto_config().await;
    let client = Client::new(&sdk);
    let table = triage_testkit::create_dynamo_table(&client, "claims").await;
    DynamoTickets::from_client(client, table)
}

impl DynamoTickets {
    /// `ticket_id` of item `pk`, if it exists.
    async fn target_of(&self, pk: &str) -> Option<String> {
        self.read_target(pk, "test").await.unwrap()
    }

    async fn drop_claims_table(&self) {
        let _ = self
            .client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await;
    }
}

fn threaded(g: &str, mid: &str, at: i64) -> Ticket {
    let mut t = sample_ticket(g, mid, Some("th"), at);
    t.thread_keys = vec![format!("{mid}@x.io")];
    t
}

/// A create interrupted after its claims (the process died before the
/// ticket item): the redelivery finds the claims its own and creates.
#[tokio::test]
async fn claims_of_an_interrupted_create_are_reused() {
    let st = store().await;
    let g = unique_name("g");
    let m1 = threaded(&g, "m1", 100);
    let keys = Keys::of(&m1);
    let now = triage_clock::now_ms();
    let thread = keys.thread.clone().unwrap();
    assert!(
        st.claim(&thread, "thread", &m1.id, None, true, now)
            .await
            .unwrap()
    );
    assert!(
        st.claim(&keys.msgids[0], "msgid", &m1.id, None, true, now)
            .await
            .unwrap()
    );
    assert_eq!(
        st.write(&m1).await.unwrap(),
        TicketWrite::Created {
            ticket_id: m1.id.clone()
        }
    );
    assert_eq!(st.target_of(&thread).await, Some(m1.id.clone()));
    st.drop_claims_table().await;
}

/// Another writer's fresh claim names a ticket not written yet: the write
/// waits for it, and gives up as transient (the message is redelivered)
/// rather than open a second ticket for the thread.
#[tokio::test]
async fn a_fresh_claim_of_another_writer_is_waited_for() {
    let st = store().await;
    let g = unique_name("g");
    let m1 = threaded(&g, "m1", 100);
    let m2 = threaded(&g, "m2", 200);
    let thread = Keys::of(&m1).thread.unwrap();
    let now = triage_clock::now_ms();
    assert!(
        st.claim(&thread, "thread", &m1.id, None, true, now)
            .await
            .unwrap()
    );
    let e = st.write(&m2).await.unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
    assert!(
        !st.ticket_exists(&Keys::of(&m2).ticket, "test")
            .await
            .unwrap(),
        "no second ticket"
    );
    // The first writer finishes; the retry appends.
    assert!(matches!(
        st.write(&m1).await.unwrap(),
        TicketWrite::Created { .. }
    ));
    assert_eq!(
        st.write(&m2).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: m1.id.clone(),
            signal: Signal::ThreadId
        }
    );
    st.drop_claims_table().await;
}

/// A claim older than [`ABANDONED_AFTER_MS`] whose ticket never came is
/// taken over by the thread's next message; the dead writer's message,
/// redelivered, appends to the ticket that took over.
#[tokio::test]
async fn an_abandoned_claim_is_taken_over() {
    let st = store().await;
    let g = unique_name("g");
    let m1 = threaded(&g, "m1", 100);
    let m2 = threaded(&g, "m2", 200);
    let thread = Keys::of(&m1).thread.unwrap();
    let long_ago = triage_clock::now_ms() - ABANDONED_AFTER_MS - 1_000;
    assert!(
        st.claim(&thread, "thread", &m1.id, None, true, long_ago)
            .await
            .unwrap()
    );
    assert_eq!(
        st.write(&m2).await.unwrap(),
        TicketWrite::Created {
            ticket_id: m2.id.clone()
        }
    );
    assert_eq!(st.target_of(&thread).await, Some(m2.id.clone()));
    assert_eq!(
        st.write(&m1).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: m2.id.clone(),
            signal: Signal::ThreadId
        }
    );
    st.drop_claims_table().await;
}

/// A create that loses a race on a later pointer undoes its claims: a new
/// pointer is deleted, a taken-over one names its old ticket again.
#[tokio::test]
async fn a_lost_race_undoes_its_claims() {
    let st = store().await;
    let g = unique_name("g");
    let mut other = sample_ticket(&g, "other", None, 50);
    other.thread_keys = vec!["shared@x.io".into()];
    st.write(&other).await.unwrap();

    let mut m2 = threaded(&g, "m2", 200);
    m2.thread_keys = vec!["m2@x.io".into(), "shared@x.io".into()];
    let keys = Keys::of(&m2);
    let thread = keys.thread.clone().unwrap();
    let long_ago = triage_clock::now_ms() - ABANDONED_AFTER_MS - 1_000;
    assert!(
        st.claim(&thread, "thread", "t_dead", None, true, long_ago)
            .await
            .unwrap()
    );
    let abandoned = Abandoned::from([(thread.clone(), "t_dead".to_string())]);
    assert_eq!(
        st.create_taking_over(&m2, &keys, &Found::new(), true, &abandoned)
            .await
            .unwrap(),
        Create::PointerTaken
    );
    assert_eq!(st.target_of(&thread).await.as_deref(), Some("t_dead"));
    assert_eq!(st.target_of(&keys.msgids[0]).await, None);
    assert_eq!(st.target_of(&keys.msgids[1]).await, Some(other.id.clone()));
    assert!(!st.ticket_exists(&keys.ticket, "test").await.unwrap());
    st.drop_claims_table().await;
}

/// A message older than the thread's newest is appended without moving
/// `last_message_at`; one newer moves it in the same update.
#[tokio::test]
async fn an_older_message_appends_without_moving_the_time() {
    let st = store().await;
    let g = unique_name("g");
    let m1 = threaded(&g, "m1", 500);
    st.write(&m1).await.unwrap();
    let old = threaded(&g, "m0", 100);
    assert!(matches!(
        st.write(&old).await.unwrap(),
        TicketWrite::Appended { .. }
    ));
    let new = threaded(&g, "m2", 900);
    assert!(matches!(
        st.write(&new).await.unwrap(),
        TicketWrite::Appended { .. }
    ));
    let item = st
        .read_item(
            &Keys::of(&m1).ticket,
            "last_message_at, message_count",
            "test",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(crate::attr::get_i64(&item, "last_message_at"), Some(900));
    assert_eq!(crate::attr::get_i64(&item, "message_count"), Some(3));
    st.drop_claims_table().await;
}

/// An interrupted create's claims, when the redelivery appends elsewhere
/// (threading decided differently), move to the ticket it appended to.
#[tokio::test]
async fn claims_of_an_interrupted_create_follow_an_append() {
    let st = store().await;
    let g = unique_name("g");
    let mut first = sample_ticket(&g, "first", None, 100);
    first.thread_keys = vec!["root@x.io".into()];
    st.write(&first).await.unwrap();
    let mut m2 = sample_ticket(&g, "m2", Some("th-2"), 200);
    m2.thread_keys = vec!["root@x.io".into()];
    let thread = Keys::of(&m2).thread.unwrap();
    let now = triage_clock::now_ms();
    assert!(
        st.claim(&thread, "thread", &m2.id, None, true, now)
            .await
            .unwrap()
    );
    assert_eq!(
        st.write(&m2).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: first.id.clone(),
            signal: Signal::MessageId
        }
    );
    assert_eq!(st.target_of(&thread).await, Some(first.id.clone()));
    st.drop_claims_table().await;
}
