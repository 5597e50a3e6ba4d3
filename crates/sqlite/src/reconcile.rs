//! Reconciliation's ports (#13) on the embedded store: the cursor of each
//! provider and grant in `reconcile_cursors`, and "known" read from the
//! idempotency records (an unexpired record in any state).

use rusqlite::OptionalExtension;
use triage_clock::now_ms;
use triage_core::ports::{DedupeKey, StoreError};
use triage_core::reconcile::{KnownMessages, ReconcileCursors};

use crate::SqliteStore;
use crate::error::Ctx;

pub(crate) const SELECT_CURSOR: &str =
    "SELECT cursor_s FROM reconcile_cursors WHERE provider = ?1 AND grant_id = ?2";
const UPSERT_CURSOR: &str = "INSERT INTO reconcile_cursors (provider, grant_id, cursor_s, \
     updated_at_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (provider, grant_id) DO UPDATE SET \
     cursor_s = ?3, updated_at_ms = ?4";
pub(crate) const SELECT_KNOWN: &str = "SELECT 1 FROM idempotency \
     WHERE grant_id = ?1 AND message_id = ?2 AND expires_at >= ?3";

impl ReconcileCursors for SqliteStore {
    async fn cursor(&self, provider: &str, grant: &str) -> Result<Option<i64>, StoreError> {
        let (provider, grant) = (provider.to_string(), grant.to_string());
        let context = format!("reconcile cursor {provider} {grant}");
        Ok(self
            .db
            .read(&context.clone(), move |conn| {
                conn.query_row(SELECT_CURSOR, (&provider, &grant), |r| r.get(0))
                    .optional()
                    .ctx(|| context)
            })
            .await?)
    }

    async fn set_cursor(
        &self,
        provider: &str,
        grant: &str,
        cursor_s: i64,
    ) -> Result<(), StoreError> {
        let (provider, grant) = (provider.to_string(), grant.to_string());
        let context = format!("set reconcile cursor {provider} {grant}");
        self.db
            .write(context.clone(), move |tx| {
                tx.execute(UPSERT_CURSOR, (&provider, &grant, cursor_s, now_ms()))
                    .ctx(|| context)
            })
            .await?;
        Ok(())
    }
}

impl KnownMessages for SqliteStore {
    async fn known(&self, keys: &[DedupeKey], now_s: i64) -> Result<Vec<bool>, StoreError> {
        let keys = keys.to_vec();
        Ok(self
            .db
            .read("known messages", move |conn| {
                let mut st = conn
                    .prepare_cached(SELECT_KNOWN)
                    .ctx(|| "known messages".to_string())?;
                keys.iter()
                    .map(|k| {
                        st.exists((&k.grant_id, &k.message_id, now_s))
                            .ctx(|| "known messages".to_string())
                    })
                    .collect()
            })
            .await?)
    }
}
