//! The local half of event delivery end to end: tickets written to SQLite
//! put their events in the outbox in the same transaction, and the
//! dispatcher delivers them to wiremock destinations, retrying, dead-
//! lettering and redriving as the core's rules say.

use std::collections::HashMap;

use triage_core::classify::Rules;
use triage_core::dispatch::{EventOutbox, MAX_RETRY_MS};
use triage_core::events::TicketEvent;
use triage_core::ports::TicketStore;
use triage_core::routing::DestinationKind;
use triage_core::ticket::TicketWrite;
use triage_destinations::{Endpoint, HttpDestinations};
use triage_dispatch::{Dispatcher, drain_once};
use triage_sqlite::SqliteDb;
use triage_testkit::contract::sample_ticket;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOW_MS: i64 = 1_764_547_200_000;

const RULES: &str = r#"
[destinations.chat]
type = "slack"
url_var = "CHAT_URL"

[destinations.hook]
type = "webhook"
url_var = "HOOK_URL"
signing_secret_var = "HOOK_SECRET"

[routes]
default = ["chat", "hook"]
"#;

fn dispatcher(server: &MockServer) -> Dispatcher<HttpDestinations> {
    let rules = Rules::from_toml(RULES).unwrap();
    let mut endpoints = HashMap::new();
    endpoints.insert(
        "chat".to_string(),
        Endpoint::new(
            DestinationKind::Slack,
            &format!("{}/chat", server.uri()),
            None,
        )
        .unwrap(),
    );
    endpoints.insert(
        "hook".to_string(),
        Endpoint::new(
            DestinationKind::Webhook,
            &format!("{}/hook", server.uri()),
            Some(b"k".to_vec()),
        )
        .unwrap(),
    );
    Dispatcher::new(
        rules.routing().clone(),
        HttpDestinations::new(endpoints).unwrap(),
    )
}

async fn mount(server: &MockServer, at: &str, status: u16, times: Option<u64>) {
    let mut mock = Mock::given(method("POST"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status));
    if let Some(n) = times {
        mock = mock.up_to_n_times(n);
    }
    mock.mount(server).await;
}

async fn received(server: &MockServer, at: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == at)
        .collect()
}

#[tokio::test]
async fn an_event_written_before_a_crash_is_delivered_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("triage.db");
    let ticket = sample_ticket("g1", "m1", Some("th1"), NOW_MS / 1_000);
    {
        // The worker writes the ticket, then the process dies before any
        // dispatch: the event is in the same committed transaction.
        let store = SqliteDb::open(&file).unwrap().store();
        let w = store.write(&ticket).await.unwrap();
        assert!(matches!(w, TicketWrite::Created { .. }));
    }
    let store = SqliteDb::open(&file).unwrap().store();
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1);

    let server = MockServer::start().await;
    mount(&server, "/chat", 200, None).await;
    mount(&server, "/hook", 200, None).await;
    let report = drain_once(&store, &dispatcher(&server), NOW_MS)
        .await
        .unwrap();
    assert_eq!((report.done, report.retrying, report.dead), (1, 0, 0));
    assert_eq!(store.outbox_counts().await.unwrap().pending, 0);

    let hooks = received(&server, "/hook").await;
    assert_eq!(hooks.len(), 1);
    let event: TicketEvent = serde_json::from_slice(&hooks[0].body).unwrap();
    assert_eq!(event.ticket_id, ticket.id);
    assert_eq!(
        hooks[0].headers.get("webhook-id").unwrap(),
        event.id.as_str()
    );
    assert_eq!(received(&server, "/chat").await.len(), 1);

    // A redelivered message makes no second event; an appended one does.
    assert!(matches!(
        store.write(&ticket).await.unwrap(),
        TicketWrite::AlreadyRecorded { .. }
    ));
    assert_eq!(store.outbox_counts().await.unwrap().pending, 0);
    let reply = sample_ticket("g1", "m2", Some("th1"), NOW_MS / 1_000 + 60);
    assert!(matches!(
        store.write(&reply).await.unwrap(),
        TicketWrite::Appended { .. }
    ));
    drain_once(&store, &dispatcher(&server), NOW_MS)
        .await
        .unwrap();
    let hooks = received(&server, "/hook").await;
    let added: TicketEvent = serde_json::from_slice(&hooks[1].body).unwrap();
    assert_eq!(added.kind.as_str(), "message.added");
    assert_eq!(added.ticket_id, ticket.id);
}

#[tokio::test]
async fn a_failing_destination_is_retried_alone_after_its_retry_after() {
    let store = SqliteDb::open_in_memory().unwrap().store();
    store
        .write(&sample_ticket("g1", "m1", None, NOW_MS / 1_000))
        .await
        .unwrap();
    let server = MockServer::start().await;
    mount(&server, "/chat", 200, None).await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount(&server, "/hook", 200, None).await;
    let d = dispatcher(&server);

    let first = drain_once(&store, &d, NOW_MS).await.unwrap();
    assert_eq!(first.retrying, 1);
    // One line per delivery, with ids and the outcome, never content.
    let mut lines: Vec<(String, &str, Option<String>)> = first
        .lines
        .iter()
        .map(|l| (l.destination.clone(), l.outcome.as_str(), l.reason.clone()))
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            ("chat".to_string(), "delivered", None),
            (
                "hook".to_string(),
                "retry",
                Some("transient: HTTP 429".to_string())
            ),
        ]
    );
    assert!(
        first
            .lines
            .iter()
            .all(|l| l.kind == "ticket.created" && l.event_id.starts_with("evt_"))
    );
    // Not due before the destination's Retry-After.
    assert!(store.due(NOW_MS + 29_000, 10).await.unwrap().is_empty());
    let due = store.due(NOW_MS + 30_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].delivered, ["chat"]);
    assert_eq!(due[0].attempts, 1);

    let second = drain_once(&store, &d, NOW_MS + 30_000).await.unwrap();
    assert_eq!(second.done, 1);
    assert_eq!(
        received(&server, "/chat").await.len(),
        1,
        "chat had it already"
    );
    assert_eq!(received(&server, "/hook").await.len(), 2);
}

#[tokio::test]
async fn a_refused_event_is_dead_lettered_with_its_reason_and_redriven_to_the_others_only() {
    let store = SqliteDb::open_in_memory().unwrap().store();
    store
        .write(&sample_ticket("g1", "m1", None, NOW_MS / 1_000))
        .await
        .unwrap();
    let server = MockServer::start().await;
    mount(&server, "/chat", 200, None).await;
    mount(&server, "/hook", 404, Some(1)).await;
    mount(&server, "/hook", 200, None).await;
    let d = dispatcher(&server);

    let r = drain_once(&store, &d, NOW_MS).await.unwrap();
    assert_eq!(r.dead, 1);
    let dead = store.dead_events(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].delivered, ["chat"]);
    assert!(
        dead[0].reason.contains("hook: permanent: HTTP 404"),
        "{}",
        dead[0].reason
    );
    // Dead events are not due, however late.
    assert!(
        store
            .due(NOW_MS + MAX_RETRY_MS as i64 * 10, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(store.redrive_events(None).await.unwrap(), 1);
    let r = drain_once(&store, &d, NOW_MS + 1).await.unwrap();
    assert_eq!(r.done, 1);
    assert_eq!(received(&server, "/chat").await.len(), 1);
    assert_eq!(received(&server, "/hook").await.len(), 2);
    assert_eq!(store.outbox_counts().await.unwrap(), Default::default());
}

#[tokio::test]
async fn events_with_no_destination_are_settled_at_once() {
    let store = SqliteDb::open_in_memory().unwrap().store();
    store
        .write(&sample_ticket("g1", "m1", None, NOW_MS / 1_000))
        .await
        .unwrap();
    let d = Dispatcher::new(
        Rules::default_rules().routing().clone(),
        HttpDestinations::new(HashMap::new()).unwrap(),
    );
    assert_eq!(drain_once(&store, &d, NOW_MS).await.unwrap().done, 1);
    assert_eq!(store.outbox_counts().await.unwrap().pending, 0);
}
