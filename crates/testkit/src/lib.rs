//! Shared test support. Tests that talk to SQS, DynamoDB or Secrets Manager
//! use a real AWS-API server (moto) on loopback, started by `infra/test.sh`.
//! When it is not there they fail with a message that says how to run them;
//! they never skip silently.

pub mod ack_contract;
pub mod contract;
pub mod proxy;
pub mod reconcile_contract;
pub mod threading_contract;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

const HOW_TO_RUN: &str = "this test needs moto on loopback: run the suite with `infra/test.sh` \
     (it installs moto in .venv and starts it), or start it yourself with \
     `eval \"$(infra/local/up.sh)\"` and re-run cargo test";

/// The moto endpoint from `AWS_ENDPOINT_URL`. Panics (fails the test) with
/// instructions when it is unset or not answering.
pub fn moto_endpoint() -> String {
    let url = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => panic!("AWS_ENDPOINT_URL is not set: {HOW_TO_RUN}"),
    };
    let hostport = url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    if std::net::TcpStream::connect(&hostport).is_err() {
        panic!("nothing answers at AWS_ENDPOINT_URL={url}: {HOW_TO_RUN}");
    }
    url
}

/// AWS config pointed at moto, with fixed test credentials and region.
pub async fn moto_config() -> aws_config::SdkConfig {
    config_for(&moto_endpoint()).await
}

/// The messages moto's SES recorded (`ses.Message` of `/moto-api/data.json`:
/// `source`, `destinations`, `subject`, `body`). That endpoint walks every
/// service's state and can fail while other tests change it, so it is read
/// again until it answers (for up to a minute).
pub async fn moto_ses_messages() -> Vec<serde_json::Value> {
    let url = format!("{}/moto-api/data.json", moto_endpoint());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let state = match reqwest::get(&url).await {
            Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
            _ => None,
        };
        if let Some(state) = state {
            return state["ses"]["Message"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "moto's /moto-api/data.json did not answer with JSON for a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A name no other test in this run uses (queues, tables, secrets).
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// `fixtures/<rel>` at the repository root (copied into the repository with
/// the licences that came with them, so a fresh clone needs nothing beside it).
pub fn fixture(rel: &str) -> PathBuf {
    let path = repo_root().join("fixtures").join(rel);
    if !path.exists() {
        panic!("fixture {} is missing from the repository", path.display());
    }
    path
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// AWS config for an arbitrary endpoint (fault tests: closed ports, black holes).
pub async fn config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "triage-testkit",
        ))
        .load()
        .await
}

/// A fresh SQS queue named `prefix` plus a unique suffix; returns its URL.
pub async fn create_sqs_queue(client: &aws_sdk_sqs::Client, prefix: &str) -> String {
    let name = unique_name(prefix);
    client
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create queue {name}: {e}"))
        .queue_url()
        .unwrap_or_else(|| panic!("queue {name} has no URL"))
        .to_string()
}

/// A fresh DynamoDB table as the stack creates them: hash key `pk` (S), on
/// demand, TTL on `expires_at`. Returns its (unique) name.
pub async fn create_dynamo_table(client: &aws_sdk_dynamodb::Client, prefix: &str) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    let name = unique_name(prefix);
    let key = |b: Result<KeySchemaElement, _>| b.expect("valid key schema");
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("valid attribute definition"),
        )
        .key_schema(key(KeySchemaElement::builder()
            .attribute_name("pk")
            .key_type(KeyType::Hash)
            .build()))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
    client
        .update_time_to_live()
        .table_name(&name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .expect("valid TTL specification"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("enable TTL on {name}: {e:?}"));
    name
}
