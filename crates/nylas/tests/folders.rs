//! `folder_roles` and the per-grant cache, against a loopback mock of the Nylas API.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use triage_core::ports::{FetchError, FolderRole, MessageSource};
use triage_nylas::{CachedFolders, NylasConfig};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn folders_path() -> String {
    format!("/v3/grants/{GRANT}/folders")
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/json")
}

fn folder(id: &str, name: &str, attributes: Option<&[&str]>) -> serde_json::Value {
    let mut f = serde_json::json!({
        "id": id,
        "grant_id": GRANT,
        "object": "folder",
        "name": name,
        "system_folder": attributes.is_some(),
        "total_count": 3,
        "unread_count": 1,
    });
    if let Some(attrs) = attributes {
        f["attributes"] = serde_json::json!(attrs);
    }
    f
}

fn page(folders: Vec<serde_json::Value>, next_cursor: Option<&str>) -> String {
    serde_json::json!({
        "request_id": "req-folders",
        "data": folders,
        "next_cursor": next_cursor,
    })
    .to_string()
}

/// Two pages: Microsoft-style folders with attributes, then Google labels without.
async fn mount_two_pages(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(folders_path()))
        .and(query_param_is_missing("page_token"))
        .and(header("authorization", "Bearer nyk_test_key"))
        .respond_with(json(page(
            vec![
                folder("AAMkAGI2TG93AAA=", "Inbox", Some(&["\\Inbox"])),
                folder("AQMkADAwATM0MDAAMS1iNT", "Sent Items", Some(&["\\Sent"])),
                folder("AQMkADAwATM0MDAAMS1iNj", "Drafts", Some(&["\\Drafts"])),
                folder(
                    "AQMkADAwATM0MDAAMS1iNk",
                    "Deleted Items",
                    Some(&["\\Trash"]),
                ),
                folder("AQMkADAwATM0MDAAMS1iNl", "Junk Email", Some(&["\\Junk"])),
                folder("AQMkADAwATM0MDAAMS1iNm", "Projects", Some(&[])),
            ],
            Some("cursor/page+2="),
        )))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(folders_path()))
        .and(query_param("page_token", "cursor/page+2="))
        .respond_with(json(page(
            vec![
                folder("SENT", "SENT", None),
                folder("DRAFT", "DRAFT", None),
                folder("SPAM", "SPAM", None),
                folder("Label_12", "Customers", None),
            ],
            None,
        )))
        .mount(server)
        .await;
}

fn expected_roles() -> HashMap<String, FolderRole> {
    [
        ("AAMkAGI2TG93AAA=", FolderRole::Inbox),
        ("AQMkADAwATM0MDAAMS1iNT", FolderRole::Sent),
        ("AQMkADAwATM0MDAAMS1iNj", FolderRole::Drafts),
        ("AQMkADAwATM0MDAAMS1iNk", FolderRole::Trash),
        ("AQMkADAwATM0MDAAMS1iNl", FolderRole::Spam),
        ("AQMkADAwATM0MDAAMS1iNm", FolderRole::Other),
        ("SENT", FolderRole::Sent),
        ("DRAFT", FolderRole::Drafts),
        ("SPAM", FolderRole::Spam),
        ("Label_12", FolderRole::Other),
    ]
    .into_iter()
    .map(|(id, role)| (id.to_string(), role))
    .collect()
}

#[tokio::test]
async fn follows_pagination_and_maps_attributes() {
    let server = MockServer::start().await;
    mount_two_pages(&server).await;
    let roles = client(test_config(&server))
        .folder_roles(GRANT, in_secs(5))
        .await
        .expect("folders");
    assert_eq!(roles, expected_roles());
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn cache_answers_the_second_call_without_a_request() {
    let server = MockServer::start().await;
    mount_two_pages(&server).await;
    let cached = CachedFolders::new(client(test_config(&server)));

    let first = cached.folder_roles(GRANT, in_secs(5)).await.expect("first");
    assert_eq!(request_count(&server).await, 2);
    let second = cached
        .folder_roles(GRANT, in_secs(5))
        .await
        .expect("second");
    assert_eq!(first, second);
    assert_eq!(
        request_count(&server).await,
        2,
        "second call hit the server"
    );
    assert_eq!(cached.len(), 1);

    // Invalidation makes the next call fetch again.
    cached.invalidate(GRANT);
    let third = cached.folder_roles(GRANT, in_secs(5)).await.expect("third");
    assert_eq!(third, first);
    assert_eq!(request_count(&server).await, 4);
}

#[tokio::test]
async fn cache_does_not_keep_failures() {
    let server = MockServer::start().await;
    Mock::given(path(folders_path()))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(folders_path()))
        .respond_with(json(page(vec![folder("SENT", "SENT", None)], None)))
        .with_priority(2)
        .mount(&server)
        .await;
    let cached = CachedFolders::new(client(NylasConfig {
        max_attempts: 1,
        ..test_config(&server)
    }));
    let first = cached.folder_roles(GRANT, in_secs(5)).await;
    assert!(matches!(first, Err(FetchError::Transient(_))), "{first:?}");
    assert!(cached.is_empty());
    let second = cached
        .folder_roles(GRANT, in_secs(5))
        .await
        .expect("second");
    assert_eq!(second.get("SENT"), Some(&FolderRole::Sent));
}

#[tokio::test]
async fn cache_ttl_expires_entries() {
    let server = MockServer::start().await;
    Mock::given(path(folders_path()))
        .respond_with(json(page(vec![folder("INBOX", "INBOX", None)], None)))
        .mount(&server)
        .await;
    let cached =
        CachedFolders::new(client(test_config(&server))).with_ttl(Duration::from_millis(50));
    cached.folder_roles(GRANT, in_secs(5)).await.expect("first");
    cached.folder_roles(GRANT, in_secs(5)).await.expect("hit");
    assert_eq!(request_count(&server).await, 1);
    tokio::time::sleep(Duration::from_millis(60)).await;
    cached
        .folder_roles(GRANT, in_secs(5))
        .await
        .expect("refresh");
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn endless_cursors_are_bounded() {
    let server = MockServer::start().await;
    // Every page names a new cursor: the client must stop at max_folder_pages.
    Mock::given(path(folders_path()))
        .and(query_param_is_missing("page_token"))
        .respond_with(json(page(vec![folder("INBOX", "INBOX", None)], Some("c1"))))
        .mount(&server)
        .await;
    for n in 1..10 {
        let next = format!("c{}", n + 1);
        Mock::given(path(folders_path()))
            .and(query_param("page_token", format!("c{n}")))
            .respond_with(json(page(vec![], Some(&next))))
            .mount(&server)
            .await;
    }
    let nylas = client(NylasConfig {
        max_folder_pages: 3,
        ..test_config(&server)
    });
    let result = nylas.folder_roles(GRANT, in_secs(5)).await;
    assert!(
        matches!(result, Err(FetchError::Permanent(_))),
        "{result:?}"
    );
    assert_eq!(request_count(&server).await, 3);
}

#[tokio::test]
async fn repeated_cursor_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(path(folders_path()))
        .respond_with(json(page(
            vec![folder("INBOX", "INBOX", None)],
            Some("same"),
        )))
        .mount(&server)
        .await;
    let result = client(test_config(&server))
        .folder_roles(GRANT, in_secs(5))
        .await;
    assert!(
        matches!(result, Err(FetchError::Permanent(_))),
        "{result:?}"
    );
    assert_eq!(request_count(&server).await, 2);
}

#[tokio::test]
async fn unknown_grant_and_auth_failures_are_permanent() {
    for status in [404, 401] {
        let server = MockServer::start().await;
        Mock::given(path(folders_path()))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let result = client(test_config(&server))
            .folder_roles(GRANT, in_secs(5))
            .await;
        assert!(
            matches!(&result, Err(FetchError::Permanent(m)) if m.contains(&status.to_string())),
            "{status}: {result:?}"
        );
        assert_eq!(request_count(&server).await, 1);
    }
}

#[tokio::test]
async fn folder_pages_retry_like_messages() {
    let server = MockServer::start().await;
    Mock::given(path(folders_path()))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(folders_path()))
        .respond_with(json(page(vec![folder("TRASH", "TRASH", None)], None)))
        .with_priority(2)
        .mount(&server)
        .await;
    let roles = client(test_config(&server))
        .folder_roles(GRANT, in_secs(5))
        .await
        .expect("folders");
    assert_eq!(roles.get("TRASH"), Some(&FolderRole::Trash));
    assert_eq!(request_count(&server).await, 2);
}
