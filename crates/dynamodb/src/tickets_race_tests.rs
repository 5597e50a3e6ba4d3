//! Deterministic interleavings of the create race, against moto: the create
//! transaction is run as a worker whose lookup went stale would run it
//! (another worker committed in between). These need moto (AWS_ENDPOINT_URL)
//! and fail without it.

use triage_testkit::contract::sample_ticket;
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
    assert_eq!(st.create(&m2, &keys).await.unwrap(), Create::PointerTaken);
    assert!(!st.exists(&keys.ticket).await, "cancelled: no ticket");
    assert!(!st.exists(&keys.msgids[0]).await, "cancelled: no pointer");

    assert_eq!(
        st.write(&m2).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: m1.id.clone()
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
    assert_eq!(st.create(&m2, &keys).await.unwrap(), Create::PointerTaken);
    assert!(!st.exists(keys.thread.as_deref().unwrap()).await);

    assert_eq!(
        st.write(&m2).await.unwrap(),
        TicketWrite::Appended {
            ticket_id: m1.id.clone()
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
        st.create(&m1, &Keys::of(&m1)).await.unwrap(),
        Create::TicketExists
    );
    let mut lone = sample_ticket(&g, "lone", None, 100);
    st.write(&lone).await.unwrap();
    lone.subject = "changed".into();
    assert_eq!(
        st.create(&lone, &Keys::of(&lone)).await.unwrap(),
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
    st.put_once(&keys.msgids[0], "msgid", &m1.id, false)
        .await
        .unwrap();
    assert_eq!(st.create(&m1, &keys).await.unwrap(), Create::Created);
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
            ticket_id: m1.id.clone()
        }
    );
    st.drop_table().await;
}
