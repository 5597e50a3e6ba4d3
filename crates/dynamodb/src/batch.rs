//! `BatchGetItem` by `pk`, with DynamoDB's limits handled once: at most 100
//! keys per request, and `UnprocessedKeys` asked again with a short
//! jittered backoff until [`BATCH_GET_ROUNDS`], then `Throttled`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::AsyncSleep;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use triage_core::ports::StoreError;

use crate::attr::Item;
use crate::error::map_sdk_error;

/// Keys per `BatchGetItem` request (DynamoDB's maximum).
pub(crate) const BATCH_GET_MAX: usize = 100;
/// Rounds of `UnprocessedKeys` before giving up as throttled.
pub(crate) const BATCH_GET_ROUNDS: usize = 6;

/// The items of `table` whose `pk` is one of `pks` (deduplicated by the
/// caller), with only `projection`; `what` names the operation in errors.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    pks: &[&String],
    projection: &str,
    consistent: bool,
    what: &str,
) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    for chunk in pks.chunks(BATCH_GET_MAX) {
        let keys: Vec<_> = chunk
            .iter()
            .map(|pk| HashMap::from([("pk".to_string(), AttributeValue::S((*pk).clone()))]))
            .collect();
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(consistent)
            .projection_expression(projection)
            .build()
            .map_err(|_| StoreError::Rejected(format!("{what}: bad batch request")))?;
        let mut rounds = 0;
        loop {
            let out = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| map_sdk_error(what, &e))?;
            if let Some(found) = out.responses.and_then(|mut r| r.remove(table)) {
                items.extend(found);
            }
            match out
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .filter(|k| !k.keys().is_empty())
            {
                None => break,
                Some(rest) => {
                    rounds += 1;
                    if rounds >= BATCH_GET_ROUNDS {
                        return Err(StoreError::Throttled(format!(
                            "{what}: keys left unprocessed"
                        )));
                    }
                    backoff(client, rounds).await;
                    request = rest;
                }
            }
        }
    }
    Ok(items)
}

/// 10 ms doubling to 160 ms, with jitter, on the client's own sleep.
pub(crate) async fn backoff(client: &Client, attempt: usize) {
    let base = 10u64 << attempt.min(4);
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0),
    ) % base.max(1);
    if let Some(sleep) = client.config().sleep_impl() {
        sleep.sleep(Duration::from_millis(base + jitter)).await;
    }
}
