//! Reconciliation's ports (#13) on the idempotency table.
//!
//! - Cursors: one item per provider and grant, `pk` =
//!   `reconcile#<provider>#<grant>`, `cursor_s` (N), `updated_at_ms` (N), no
//!   `expires_at` (kept). Grant ids never start with `reconcile#`, so these
//!   keys never meet a message's `grant#message`.
//! - Known: `BatchGetItem` (100 keys a request, eventually consistent: a
//!   record written a moment ago and missed only queues a duplicate the
//!   worker drops) of the messages' records; known = an item whose
//!   `expires_at` has not passed.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::AttributeValue;
use triage_clock::now_ms;
use triage_core::ports::{DedupeKey, StoreError};
use triage_core::reconcile::{KnownMessages, ReconcileCursors};

use crate::attr::{get_i64, get_s};
use crate::error::map_sdk_error;
use crate::idempotency::DynamoIdempotency;

fn cursor_pk(provider: &str, grant: &str) -> String {
    format!("reconcile#{provider}#{grant}")
}

impl ReconcileCursors for DynamoIdempotency {
    async fn cursor(&self, provider: &str, grant: &str) -> Result<Option<i64>, StoreError> {
        let pk = cursor_pk(provider, grant);
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(pk.clone()))
            .consistent_read(true)
            .projection_expression("cursor_s")
            .send()
            .await
            .map_err(|e| map_sdk_error(&format!("read {pk} in {}", self.table()), &e))?;
        Ok(out.item.as_ref().and_then(|i| get_i64(i, "cursor_s")))
    }

    async fn set_cursor(
        &self,
        provider: &str,
        grant: &str,
        cursor_s: i64,
    ) -> Result<(), StoreError> {
        let pk = cursor_pk(provider, grant);
        self.client()
            .put_item()
            .table_name(self.table())
            .item("pk", AttributeValue::S(pk.clone()))
            .item("cursor_s", AttributeValue::N(cursor_s.to_string()))
            .item("updated_at_ms", AttributeValue::N(now_ms().to_string()))
            .send()
            .await
            .map_err(|e| map_sdk_error(&format!("write {pk} in {}", self.table()), &e))?;
        Ok(())
    }
}

impl KnownMessages for DynamoIdempotency {
    async fn known(&self, keys: &[DedupeKey], now_s: i64) -> Result<Vec<bool>, StoreError> {
        let table = self.table().to_string();
        let what = format!("known messages in {table}");
        let mut live: HashSet<String> = HashSet::new();
        let pks: Vec<String> = keys.iter().map(DedupeKey::as_key).collect();
        let unique: Vec<&String> = {
            let mut seen = HashSet::new();
            pks.iter().filter(|k| seen.insert(k.as_str())).collect()
        };
        let items = crate::batch::batch_get(
            self.client(),
            &table,
            &unique,
            "pk, expires_at",
            false,
            &what,
        )
        .await?;
        for item in &items {
            let unexpired = get_i64(item, "expires_at").is_none_or(|t| t >= now_s);
            if let (Some(pk), true) = (get_s(item, "pk"), unexpired) {
                live.insert(pk.to_string());
            }
        }
        Ok(pks.iter().map(|pk| live.contains(pk)).collect())
    }
}
