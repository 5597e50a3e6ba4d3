//! Acknowledgement records (#12) with the DynamoDB adapter's semantics:
//! `ack_ledger` rows keyed like its items, each operation one `BEGIN
//! IMMEDIATE` transaction instead of a conditional write.

use rusqlite::OptionalExtension;
use triage_core::acknowledgement::AckLedger;
use triage_core::ports::StoreError;

use crate::SqliteStore;
use crate::error::Ctx;

const INSERT_ONCE: &str = "INSERT OR IGNORE INTO ack_ledger (key, expires_at) VALUES (?1, ?2)";
const SELECT_WINDOW: &str = "SELECT window_start, slots FROM ack_ledger WHERE key = ?1";
const UPSERT_WINDOW: &str = "INSERT INTO ack_ledger (key, window_start, slots, expires_at) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO UPDATE SET window_start = ?2, slots = ?3, \
     expires_at = max(expires_at, ?4)";

impl AckLedger for SqliteStore {
    async fn record_once(&self, key: &str, expires_at_s: i64) -> Result<bool, StoreError> {
        let key = key.to_string();
        let inserted = self
            .db
            .write(format!("record {key}"), move |tx| {
                tx.execute(INSERT_ONCE, (&key, expires_at_s))
                    .ctx(|| format!("record {key}"))
            })
            .await?;
        Ok(inserted == 1)
    }

    async fn take_sender_slot(
        &self,
        key: &str,
        limit: u32,
        now_s: i64,
        window_s: i64,
    ) -> Result<bool, StoreError> {
        let key = key.to_string();
        let taken = self
            .db
            .write(format!("sender slot {key}"), move |tx| {
                let ctx = || format!("sender slot {key}");
                let current: Option<(i64, i64)> = tx
                    .query_row(SELECT_WINDOW, [&key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .ctx(ctx)?;
                let (start, slots) = match current {
                    Some((start, slots)) if now_s < start.saturating_add(window_s) => {
                        (start, slots)
                    }
                    _ => (now_s, 0),
                };
                if slots >= i64::from(limit) {
                    return Ok(false);
                }
                tx.execute(
                    UPSERT_WINDOW,
                    (&key, start, slots + 1, start.saturating_add(window_s)),
                )
                .ctx(ctx)?;
                Ok(true)
            })
            .await?;
        Ok(taken)
    }
}
