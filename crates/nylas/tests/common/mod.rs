//! Helpers shared by the integration tests: a client aimed at a loopback mock
//! server, with short timeouts and backoffs so the suite stays fast.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use triage_nylas::{NylasClient, NylasConfig};
use wiremock::MockServer;

pub const API_KEY: &str = "nyk_test_key";
pub const GRANT: &str = "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f";

/// `GET /v3/grants/{id}/messages/{id}` answer, as recorded from the API.
pub const MESSAGE_FIXTURE: &str = include_str!("../fixtures/get-message-response.json");

pub fn test_config(server: &MockServer) -> NylasConfig {
    NylasConfig {
        base_url: server.uri(),
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(500),
        max_attempts: 3,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..NylasConfig::new(API_KEY)
    }
}

pub fn client(config: NylasConfig) -> NylasClient {
    match NylasClient::new(config) {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    }
}

pub fn in_secs(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

pub async fn request_count(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}
