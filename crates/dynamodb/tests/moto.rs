//! The DynamoDB stores against moto on loopback (started by infra/test.sh, or
//! `eval "$(infra/local/up.sh)"`). Each test creates its own tables and runs
//! the shared contract (`triage_testkit::contract`) plus DynamoDB specifics.
//! Without `AWS_ENDPOINT_URL` these tests fail, they never skip.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use triage_core::ports::{
    ClaimOutcome, DedupeKey, IdempotencyStore, StoreError, TicketFilter, TicketStore,
};
use triage_dynamodb::{DynamoIdempotency, DynamoTickets, with_short_timeouts};
use triage_testkit::contract::{self, DAY_S, PipelineSpec, ThreadBy, now_ms, times};
use triage_testkit::{moto_config, unique_name};

/// A fresh table with hash key `pk` (S), on demand, TTL on `expires_at`.
async fn create_table(client: &Client, prefix: &str) -> String {
    triage_testkit::create_dynamo_table(client, prefix).await
}

struct Env {
    sdk: aws_config::SdkConfig,
    client: Client,
    idem: Arc<DynamoIdempotency>,
    tickets: Arc<DynamoTickets>,
}

impl Env {
    /// Drop the test's tables (moto keeps everything in memory).
    async fn cleanup(self) {
        for table in [self.idem.table(), self.tickets.table()] {
            let _ = self.client.delete_table().table_name(table).send().await;
        }
    }

    /// `n` ticket stores built independently on the same table: like `n`
    /// Lambda instances (no shared in-process single flight).
    fn processes(&self, n: usize) -> Vec<Arc<DynamoTickets>> {
        (0..n)
            .map(|_| Arc::new(DynamoTickets::new(&self.sdk, self.tickets.table())))
            .collect()
    }
}

/// Fresh tables on moto. The SDK's default timeouts, not the short ones:
/// one moto process serves every test at once and can stall past 1 s.
async fn env() -> Env {
    let sdk = moto_config().await;
    let client = Client::new(&sdk);
    let idem_table = create_table(&client, "idem").await;
    let ticket_table = create_table(&client, "tickets").await;
    Env {
        idem: Arc::new(DynamoIdempotency::new(&sdk, idem_table)),
        tickets: Arc::new(DynamoTickets::new(&sdk, ticket_table)),
        client,
        sdk,
    }
}

async fn get(
    client: &Client,
    table: &str,
    pk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

// ---------------------------------------------------------------- contract

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn idempotency_contract() {
    let e = env().await;
    contract::idempotency_contract(&*e.idem).await;
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn acknowledgement_ledger_contract() {
    let e = env().await;
    let ledger = triage_dynamodb::DynamoAckLedger::new(&e.sdk, e.idem.table());
    triage_testkit::ack_contract::ack_ledger_contract(&ledger).await;
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn reconciliation_store_contract() {
    let e = env().await;
    triage_testkit::reconcile_contract::reconcile_store_contract(&*e.idem).await;
    e.cleanup().await;
}

#[ignore = "moto evaluates a conditional PutItem and writes it without a lock: under concurrency two claims of one new key can both pass attribute_not_exists (seen once in CI, 2 winners of 8); DynamoDB makes the condition and the write atomic. The same contract runs on SQLite and memory; run with --ignored against an isolated DynamoDB API, e.g. DynamoDB Local at AWS_ENDPOINT_URL"]
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn idempotency_concurrent_claims() {
    let e = env().await;
    contract::idempotency_concurrency_contract(std::slice::from_ref(&e.idem)).await;
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_contract() {
    let e = env().await;
    contract::tickets_contract(&*e.tickets).await;
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn threading_contract() {
    let e = env().await;
    triage_testkit::threading_contract::threading_contract(&*e.tickets).await;
    e.cleanup().await;
}

/// One new subject written by 8 tasks of one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn threading_concurrency_one_process() {
    let e = env().await;
    triage_testkit::threading_contract::threading_concurrency_contract(std::slice::from_ref(
        &e.tickets,
    ))
    .await;
    e.cleanup().await;
}

/// One new subject written by 8 independent stores: the race goes through
/// the subject pointer's condition in the create's claims.
#[ignore = "moto applies conditional writes without a lock: two conditional puts of one new key can both pass and concurrent updates of one item can lose an ADD (about 1 run in 8 here); DynamoDB makes each condition and its write atomic. Run with --ignored against an isolated DynamoDB API, e.g. DynamoDB Local at AWS_ENDPOINT_URL"]
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn threading_concurrency_8_processes() {
    let e = env().await;
    triage_testkit::threading_contract::threading_concurrency_contract(&e.processes(8)).await;
    e.cleanup().await;
}

/// 8 tasks of one process: the in-process single flight orders them.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_concurrency_one_process() {
    let e = env().await;
    contract::tickets_concurrency_contract(std::slice::from_ref(&e.tickets)).await;
    e.cleanup().await;
}

/// 8 tasks on 8 independent stores: the races go through DynamoDB's
/// conditional writes.
#[ignore = "moto applies conditional writes without a lock: two conditional puts of one new key can both pass and concurrent updates of one item can lose an ADD (about 1 run in 8 here); DynamoDB makes each condition and its write atomic. Run with --ignored against an isolated DynamoDB API, e.g. DynamoDB Local at AWS_ENDPOINT_URL"]
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_concurrent_new_thread_8_processes_by_thread_id() {
    let e = env().await;
    contract::concurrent_new_thread_one_ticket(&e.processes(8), 8, ThreadBy::ThreadId).await;
    e.cleanup().await;
}

#[ignore = "moto applies conditional writes without a lock: two conditional puts of one new key can both pass and concurrent updates of one item can lose an ADD (about 1 run in 8 here); DynamoDB makes each condition and its write atomic. Run with --ignored against an isolated DynamoDB API, e.g. DynamoDB Local at AWS_ENDPOINT_URL"]
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_concurrent_new_thread_8_processes_by_thread_key() {
    let e = env().await;
    contract::concurrent_new_thread_one_ticket(&e.processes(8), 8, ThreadBy::ThreadKey).await;
    e.cleanup().await;
}

#[ignore = "moto applies conditional writes without a lock: two conditional puts of one new key can both pass and concurrent updates of one item can lose an ADD (about 1 run in 8 here); DynamoDB makes each condition and its write atomic. Run with --ignored against an isolated DynamoDB API, e.g. DynamoDB Local at AWS_ENDPOINT_URL"]
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn tickets_concurrent_duplicates_8_processes() {
    let e = env().await;
    contract::concurrent_duplicates_count_once(&e.processes(8), 8).await;
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn pipeline_8_workers_100_messages_3_deliveries() {
    let e = env().await;
    let report = contract::pipeline_exactly_once(
        std::slice::from_ref(&e.idem),
        std::slice::from_ref(&e.tickets),
        PipelineSpec::default(),
    )
    .await;
    eprintln!("{report:?}");
    assert_eq!(report.created, 100);
    assert!(report.crashes > 0, "the crash path ran");
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn pipeline_threads_of_five() {
    let e = env().await;
    let spec = PipelineSpec {
        workers: 8,
        threads: 20,
        messages_per_thread: 5,
        deliveries: 3,
        crash_every: 5,
    };
    let report = contract::pipeline_exactly_once(
        std::slice::from_ref(&e.idem),
        std::slice::from_ref(&e.tickets),
        spec,
    )
    .await;
    eprintln!("{report:?}");
    assert_eq!(report.appended, 80);
    e.cleanup().await;
}

/// Workers spread over 4 independent stores (4 "Lambda instances").
#[ignore = "moto applies conditional writes without a lock: two conditional puts of one new key can both pass and concurrent updates of one item can lose an ADD (about 1 run in 8 here); DynamoDB makes each condition and its write atomic. Run with --ignored against an isolated DynamoDB API, e.g. DynamoDB Local at AWS_ENDPOINT_URL"]
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn pipeline_threads_of_three_4_processes() {
    let e = env().await;
    let spec = PipelineSpec {
        workers: 8,
        threads: 10,
        messages_per_thread: 3,
        deliveries: 3,
        crash_every: 4,
    };
    let report =
        contract::pipeline_exactly_once(std::slice::from_ref(&e.idem), &e.processes(4), spec).await;
    eprintln!("{report:?}");
    assert_eq!(report.appended, 20);
    e.cleanup().await;
}

// ---------------------------------------------------------------- DynamoDB specifics

/// The claim's conditional failure carries the old item (ALL_OLD): the
/// outcome comes back without a second read, and the stored record has the
/// documented layout.
#[tokio::test]
async fn claim_reads_old_item_from_the_conditional_failure() {
    let e = env().await;
    let key = DedupeKey {
        grant_id: unique_name("g"),
        message_id: "m1".into(),
    };
    let now = now_ms();
    let t = times(now, 60_000, DAY_S);
    assert_eq!(e.idem.claim(&key, t).await.unwrap(), ClaimOutcome::Claimed);

    let item = get(&e.client, e.idem.table(), &key.as_key()).await.unwrap();
    assert_eq!(item["status"], AttributeValue::S("IN_PROGRESS".into()));
    assert_eq!(
        item["lease_until_ms"],
        AttributeValue::N(t.lease_until_ms.to_string())
    );
    assert_eq!(
        item["expires_at"],
        AttributeValue::N(t.expires_at_s.to_string())
    );
    assert_eq!(item["updated_at_ms"], AttributeValue::N(now.to_string()));

    // The raw API: moto (like DynamoDB) returns the item in the error.
    let err = e
        .client
        .put_item()
        .table_name(e.idem.table())
        .item("pk", AttributeValue::S(key.as_key()))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        )
        .send()
        .await
        .unwrap_err();
    let ccf = err.into_service_error();
    assert!(ccf.is_conditional_check_failed_exception());
    if let aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) =
        ccf
    {
        assert_eq!(
            c.item().unwrap()["status"],
            AttributeValue::S("IN_PROGRESS".into())
        );
    }

    e.idem
        .complete(&key, "created:t_abc", now / 1000 + DAY_S)
        .await
        .unwrap();
    let item = get(&e.client, e.idem.table(), &key.as_key()).await.unwrap();
    assert_eq!(item["status"], AttributeValue::S("COMPLETED".into()));
    assert_eq!(item["outcome"], AttributeValue::S("created:t_abc".into()));
    assert_eq!(
        e.idem
            .claim(&key, times(now + 1, 60_000, DAY_S))
            .await
            .unwrap(),
        ClaimOutcome::Completed {
            outcome: "created:t_abc".into()
        }
    );
    e.cleanup().await;
}

/// `complete` on a record that vanished (released, or TTL-deleted) records
/// the outcome anyway; it never fails the finished work.
#[tokio::test]
async fn complete_after_record_vanished_records_outcome() {
    let e = env().await;
    let key = DedupeKey {
        grant_id: unique_name("g"),
        message_id: "m1".into(),
    };
    let now = now_ms();
    e.idem
        .complete(&key, "created:t_x", now / 1000 + DAY_S)
        .await
        .unwrap();
    assert_eq!(
        e.idem.claim(&key, times(now, 60_000, DAY_S)).await.unwrap(),
        ClaimOutcome::Completed {
            outcome: "created:t_x".into()
        }
    );
    e.cleanup().await;
}

/// Item layout of tickets and pointers.
#[tokio::test]
async fn ticket_items_have_the_documented_layout() {
    let e = env().await;
    let grant = unique_name("g");
    let mut first = contract::sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    first.thread_keys = vec![
        "root@example.com".into(),
        "root@example.com".into(),
        " ".into(),
    ];
    e.tickets.write(&first).await.unwrap();
    let second = contract::sample_ticket(&grant, "m2", Some("th1"), 1_700_000_050);
    e.tickets.write(&second).await.unwrap();

    let table = e.tickets.table();
    let item = get(&e.client, table, &format!("ticket#{}", first.id))
        .await
        .unwrap();
    for field in [
        "id",
        "grant_id",
        "message_id",
        "thread_id",
        "subject",
        "requester",
        "to",
        "cc",
        "category",
        "queue",
        "priority",
        "status",
        "received_at",
        "created_at",
        "last_message_at",
        "message_count",
        "message_ids",
        "snippet",
        "attachments",
        "applied_rules",
        "thread_keys",
        "sender",
    ] {
        assert!(
            item.contains_key(field),
            "ticket item lacks {field}: {item:?}"
        );
    }
    assert!(!item.contains_key("expires_at"), "tickets have no TTL");
    assert_eq!(item["message_count"], AttributeValue::N("2".into()));
    assert_eq!(
        item["message_ids"],
        AttributeValue::L(vec![
            AttributeValue::S("m1".into()),
            AttributeValue::S("m2".into())
        ])
    );
    assert_eq!(
        item["last_message_at"],
        AttributeValue::N("1700000050".into())
    );
    let AttributeValue::M(requester) = &item["requester"] else {
        panic!("requester is not a map: {:?}", item["requester"]);
    };
    assert_eq!(
        requester["email"],
        AttributeValue::S("ann@example.com".into())
    );
    assert!(
        matches!(&item["attachments"], AttributeValue::L(l) if matches!(&l[0], AttributeValue::M(_)))
    );

    let pointer = |pk: String| {
        let client = e.client.clone();
        async move { get(&client, table, &pk).await }
    };
    let thread = pointer(format!("thread#{grant}#th1")).await.unwrap();
    assert_eq!(thread["ticket_id"], AttributeValue::S(first.id.clone()));
    let msgid = pointer(format!("msgid#{grant}#root@example.com"))
        .await
        .unwrap();
    assert_eq!(msgid["ticket_id"], AttributeValue::S(first.id.clone()));
    assert!(
        pointer(format!("msgid#{grant}#")).await.is_none(),
        "blank keys are skipped"
    );
    let pin = pointer(format!("seen#{grant}#m2")).await.unwrap();
    assert_eq!(pin["ticket_id"], AttributeValue::S(first.id.clone()));
    assert_eq!(pin["thread_signal"], AttributeValue::S("thread_id".into()));
    // One subject pointer per new ticket whose subject threads, keyed by a
    // digest of the normalised subject (no subject text in keys).
    for t in [&first, &second] {
        let key = triage_core::threading::subject_key(&t.subject).unwrap();
        let subject = pointer(format!("subject#{grant}#{key}")).await;
        let expected = (t.id == first.id).then(|| AttributeValue::S(first.id.clone()));
        assert_eq!(subject.map(|s| s["ticket_id"].clone()), expected);
    }
    e.cleanup().await;
}

/// A ticket write that would exceed DynamoDB's 400 KB item limit is a
/// permanent error (Rejected), and the message says which ticket.
#[tokio::test]
async fn oversized_ticket_is_rejected() {
    let e = env().await;
    let grant = unique_name("g");
    let mut t = contract::sample_ticket(&grant, "m1", Some("th1"), 1_700_000_000);
    t.snippet = "x".repeat(500 * 1024);
    let err = e.tickets.write(&t).await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err:?}");
    assert!(err.to_string().contains(&t.id), "{err}");
    assert!(
        !err.to_string().contains("xxxx"),
        "no item content in errors: {err}"
    );
    e.cleanup().await;
}

/// A missing table is a permanent error, not a retryable one.
#[tokio::test]
async fn missing_table_is_rejected() {
    let sdk = moto_config().await;
    let idem = DynamoIdempotency::new(&sdk, unique_name("no-such-table"));
    let key = DedupeKey {
        grant_id: "g".into(),
        message_id: "m".into(),
    };
    let err = idem
        .claim(&key, times(now_ms(), 1_000, DAY_S))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err:?}");
    assert!(
        err.to_string().contains("ResourceNotFoundException"),
        "{err}"
    );

    let tickets = DynamoTickets::new(&sdk, unique_name("no-such-table"));
    let err = tickets.list(&TicketFilter::default()).await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected(_)), "{err:?}");
}

/// Nothing answering at the endpoint is transient (Unavailable), and the
/// short timeouts bound the wait.
#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sdk = moto_config()
        .await
        .to_builder()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    let sdk = with_short_timeouts(&sdk);
    let idem = DynamoIdempotency::new(&sdk, "t");
    let started = std::time::Instant::now();
    let err = idem
        .claim(
            &DedupeKey {
                grant_id: "g".into(),
                message_id: "m".into(),
            },
            times(now_ms(), 1_000, DAY_S),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// Listing pages through a table bigger than one Scan page (1 MB).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_paginates() {
    let e = env().await;
    let grant = unique_name("g");
    // One after the other: moto applies conditional writes without a lock
    // (see the ignored tests below); this test is about paging, the race
    // tests are elsewhere.
    for i in 0..60 {
        let mut t = contract::sample_ticket(&grant, &format!("m{i}"), None, 1_700_000_000 + i);
        t.snippet = "y".repeat(30 * 1024);
        e.tickets.write(&t).await.unwrap();
    }
    let all = contract::tickets_of(&*e.tickets, &grant).await;
    assert_eq!(all.len(), 60);
    assert_eq!(all[0].created_at, 1_700_000_059);
    e.cleanup().await;
}
