//! Powertools-style idempotency records in DynamoDB.
//!
//! One item per message, `pk` = [`DedupeKey::as_key`] (`grant_id#message_id`):
//!
//! | attribute        | type | meaning                                              |
//! |------------------|------|------------------------------------------------------|
//! | `pk`             | S    | `grant_id#message_id`                                |
//! | `status`         | S    | `IN_PROGRESS` or `COMPLETED`                         |
//! | `lease_until_ms` | N    | unix ms; after it another worker may take over       |
//! | `expires_at`     | N    | unix seconds; the table's TTL attribute              |
//! | `outcome`        | S    | when `COMPLETED`: e.g. `created:t_...`               |
//! | `updated_at_ms`  | N    | unix ms of the last write                            |
//!
//! * `claim` is one conditional `PutItem`:
//!   `attribute_not_exists(pk) OR expires_at < :now_s OR
//!   (#status = :in_progress AND lease_until_ms < :now_ms)`, with
//!   `ReturnValuesOnConditionCheckFailure = ALL_OLD`: when the condition
//!   fails, the existing record comes back inside the error, so deciding
//!   between `Completed` and `InProgress` costs no second read. A record whose
//!   TTL has passed counts as absent (TTL deletion is lazy).
//! * `complete` is an `UpdateItem` conditioned on the record existing. If the
//!   record vanished meanwhile (released by hand, or deleted by TTL), the
//!   full `COMPLETED` record is put instead, unless a new claim already took
//!   the key (then that claim's worker finishes it).
//! * `release` deletes the record only while it is `IN_PROGRESS`; a missing
//!   or `COMPLETED` record is left alone and is not an error.

use triage_clock::now_ms;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use triage_core::ports::{ClaimOutcome, ClaimTimes, DedupeKey, IdempotencyStore, StoreError};

use crate::attr::{Item, get_i64, get_s};
use crate::error::map_sdk_error;

/// Status of a record whose work is running under a lease.
pub const STATUS_IN_PROGRESS: &str = "IN_PROGRESS";
/// Status of a record whose work is done.
pub const STATUS_COMPLETED: &str = "COMPLETED";

/// How many times `claim` retries when the record it conflicted with
/// disappeared before it could be read (only without `ALL_OLD` support).
const CLAIM_ATTEMPTS: usize = 3;

/// Idempotency records in one DynamoDB table (hash key `pk` S, TTL attribute
/// `expires_at`).
#[derive(Debug, Clone)]
pub struct DynamoIdempotency {
    client: Client,
    table: String,
}

impl DynamoIdempotency {
    /// A store on `table`, with a client built from `sdk` (region,
    /// credentials, endpoint, timeouts: see [`crate::with_short_timeouts`]).
    pub fn new(sdk: &SdkConfig, table: impl Into<String>) -> Self {
        Self::from_client(Client::new(sdk), table)
    }

    /// A store on `table` sharing an existing client.
    pub fn from_client(client: Client, table: impl Into<String>) -> Self {
        DynamoIdempotency {
            client,
            table: table.into(),
        }
    }

    /// The client (reconciliation's reads share it).
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Decide what a failed claim condition means from the existing record.
    fn outcome_of_existing(&self, key: &str, item: &Item) -> Result<ClaimOutcome, StoreError> {
        match get_s(item, "status") {
            Some(STATUS_COMPLETED) => Ok(ClaimOutcome::Completed {
                outcome: get_s(item, "outcome").unwrap_or_default().to_string(),
            }),
            Some(STATUS_IN_PROGRESS) => Ok(ClaimOutcome::InProgress {
                lease_until_ms: get_i64(item, "lease_until_ms").unwrap_or(0),
            }),
            _ => Err(StoreError::Rejected(format!(
                "claim {key} in {}: record has no valid status",
                self.table
            ))),
        }
    }

    /// Consistent read of a record; used only when a conditional failure
    /// did not carry the old item.
    async fn read(&self, key: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| map_sdk_error(&format!("read {key} in {}", self.table), &e))?;
        Ok(out.item)
    }
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

impl IdempotencyStore for DynamoIdempotency {
    async fn claim(&self, key: &DedupeKey, times: ClaimTimes) -> Result<ClaimOutcome, StoreError> {
        let pk = key.as_key();
        let what = format!("claim {pk} in {}", self.table);
        for _ in 0..CLAIM_ATTEMPTS {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&pk))
                .item("status", s(STATUS_IN_PROGRESS))
                .item("lease_until_ms", n(times.lease_until_ms))
                .item("expires_at", n(times.expires_at_s))
                .item("updated_at_ms", n(times.now_ms))
                .condition_expression(
                    "attribute_not_exists(pk) OR expires_at < :now_s \
                     OR (#status = :in_progress AND lease_until_ms < :now_ms)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":now_s", n(times.now_ms.div_euclid(1000)))
                .expression_attribute_values(":now_ms", n(times.now_ms))
                .expression_attribute_values(":in_progress", s(STATUS_IN_PROGRESS))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let err = match result {
                Ok(_) => {
                    tracing::debug!(key = %pk, "idempotency record claimed");
                    return Ok(ClaimOutcome::Claimed);
                }
                Err(e) => e,
            };
            let old = match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(ccf)) => ccf.item().cloned(),
                _ => return Err(map_sdk_error(&what, &err)),
            };
            let old = match old {
                Some(item) => Some(item),
                // Real DynamoDB always returns the item here (the condition
                // can only fail when it exists); be safe with emulators.
                None => self.read(&pk).await?,
            };
            match old {
                Some(item) => {
                    let outcome = self.outcome_of_existing(&pk, &item)?;
                    tracing::debug!(key = %pk, ?outcome, "idempotency record exists");
                    return Ok(outcome);
                }
                // Gone between the put and the read (released): try again.
                None => continue,
            }
        }
        Err(StoreError::Unavailable(format!(
            "{what}: record kept changing under the claim"
        )))
    }

    async fn complete(
        &self,
        key: &DedupeKey,
        outcome: &str,
        expires_at_s: i64,
    ) -> Result<(), StoreError> {
        let pk = key.as_key();
        let now = now_ms();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .update_expression(
                "SET #status = :completed, outcome = :outcome, expires_at = :exp, \
                 updated_at_ms = :now",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":completed", s(STATUS_COMPLETED))
            .expression_attribute_values(":outcome", s(outcome))
            .expression_attribute_values(":exp", n(expires_at_s))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => return Ok(()),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {}
                _ => {
                    return Err(map_sdk_error(
                        &format!("complete {pk} in {}", self.table),
                        &e,
                    ));
                }
            },
        }
        // The record vanished under us. The work is done: record it, unless a
        // new claim took the key meanwhile.
        tracing::warn!(key = %pk, "idempotency record missing at complete; putting it");
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("status", s(STATUS_COMPLETED))
            .item("outcome", s(outcome))
            .item("expires_at", n(expires_at_s))
            .item("updated_at_ms", n(now))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(map_sdk_error(
                    &format!("complete {pk} in {}", self.table),
                    &e,
                )),
            },
        }
    }

    async fn release(&self, key: &DedupeKey) -> Result<(), StoreError> {
        let pk = key.as_key();
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s(STATUS_IN_PROGRESS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                // Missing, or already COMPLETED: nothing to release.
                Some(DeleteItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(map_sdk_error(
                    &format!("release {pk} in {}", self.table),
                    &e,
                )),
            },
        }
    }
}
