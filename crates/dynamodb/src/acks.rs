//! Records of acknowledgements sent (#12), in the idempotency table (its
//! `pk` and its TTL attribute `expires_at`), so no table is added:
//!
//! | `pk`                     | attributes                                   |
//! |--------------------------|----------------------------------------------|
//! | `ack#<ticket id>`        | `expires_at`: once per ticket                |
//! | `ack-sender#<digest>`    | `window_start` (s), `slots` (N), `expires_at` |
//!
//! The sender key is a digest of the address: no item names a person.
//! Both are conditional writes: `record_once` is a put with
//! `attribute_not_exists(pk)`; `take_sender_slot` first starts a new window
//! (`attribute_not_exists(pk) OR window_start <= :cutoff`), else takes a
//! slot in the current one (`slots < :limit`). Losing either race answers
//! "already" / "no slot left": a concurrent duplicate is refused, never sent.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use triage_core::acknowledgement::AckLedger;
use triage_core::ports::StoreError;

use crate::error::map_sdk_error;

/// Acknowledgement records in one table.
#[derive(Debug, Clone)]
pub struct DynamoAckLedger {
    client: Client,
    table: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl DynamoAckLedger {
    /// Records in `table` (the idempotency table: hash key `pk`, TTL on
    /// `expires_at`).
    pub fn new(sdk: &SdkConfig, table: impl Into<String>) -> Self {
        DynamoAckLedger {
            client: Client::new(sdk),
            table: table.into(),
        }
    }
}

impl AckLedger for DynamoAckLedger {
    async fn record_once(&self, key: &str, expires_at_s: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("expires_at", n(expires_at_s))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(map_sdk_error(
                    &format!("record {key} in {}", self.table),
                    &e,
                )),
            },
        }
    }

    async fn take_sender_slot(
        &self,
        key: &str,
        limit: u32,
        now_s: i64,
        window_s: i64,
    ) -> Result<bool, StoreError> {
        let what = || format!("sender slot {key} in {}", self.table);
        let expires = now_s.saturating_add(window_s);
        let fresh = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression("SET window_start = :now, slots = :one, expires_at = :exp")
            .condition_expression("attribute_not_exists(pk) OR window_start <= :cutoff")
            .expression_attribute_values(":now", n(now_s))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(expires))
            .expression_attribute_values(":cutoff", n(now_s.saturating_sub(window_s)))
            .send()
            .await;
        match fresh {
            Ok(_) => return Ok(true),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {}
                _ => return Err(map_sdk_error(&what(), &e)),
            },
        }
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression("ADD slots :one")
            .condition_expression("attribute_exists(pk) AND slots < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .send()
            .await;
        match taken {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(map_sdk_error(&what(), &e)),
            },
        }
    }
}
