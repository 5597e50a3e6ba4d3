//! Idempotency records, with the semantics of the DynamoDB adapter.
//!
//! One row per `(grant_id, message_id)` in `idempotency`; the conditional
//! writes of DynamoDB become a read and a write inside one
//! `BEGIN IMMEDIATE` transaction (SQLite's write lock makes them atomic,
//! across connections and processes alike):
//!
//! * `claim` takes the record when it is absent, when its `expires_at`
//!   (unix seconds) is before now (TTL deletion is lazy, so an expired row
//!   counts as absent), or when it is `IN_PROGRESS` with `lease_until_ms`
//!   before now. Otherwise the existing record answers: `Completed` with
//!   its outcome, or `InProgress` with the holder's lease end.
//! * `complete` sets `COMPLETED` + outcome + expiry, inserting the record
//!   when it vanished meanwhile (the work is done: record it).
//! * `release` deletes the record only while it is `IN_PROGRESS`.

use triage_core::ports::{ClaimOutcome, ClaimTimes, DedupeKey, IdempotencyStore, StoreError};

use crate::SqliteStore;
use crate::db::now_ms;
use crate::error::{Ctx, SqliteError};

/// Status of a record whose work runs under a lease.
pub const STATUS_IN_PROGRESS: &str = "IN_PROGRESS";
/// Status of a record whose work is done.
pub const STATUS_COMPLETED: &str = "COMPLETED";

pub(crate) const SELECT_RECORD: &str = "SELECT status, lease_until_ms, expires_at, outcome \
     FROM idempotency WHERE grant_id = ?1 AND message_id = ?2";

const UPSERT_CLAIM: &str = "INSERT INTO idempotency \
     (grant_id, message_id, status, lease_until_ms, expires_at, outcome, updated_at_ms) \
     VALUES (?1, ?2, 'IN_PROGRESS', ?3, ?4, NULL, ?5) \
     ON CONFLICT (grant_id, message_id) DO UPDATE SET \
     status = 'IN_PROGRESS', lease_until_ms = excluded.lease_until_ms, \
     expires_at = excluded.expires_at, outcome = NULL, updated_at_ms = excluded.updated_at_ms";

const UPSERT_COMPLETE: &str = "INSERT INTO idempotency \
     (grant_id, message_id, status, lease_until_ms, expires_at, outcome, updated_at_ms) \
     VALUES (?1, ?2, 'COMPLETED', 0, ?3, ?4, ?5) \
     ON CONFLICT (grant_id, message_id) DO UPDATE SET \
     status = 'COMPLETED', outcome = excluded.outcome, \
     expires_at = excluded.expires_at, updated_at_ms = excluded.updated_at_ms";

pub(crate) const DELETE_IN_PROGRESS: &str = "DELETE FROM idempotency \
     WHERE grant_id = ?1 AND message_id = ?2 AND status = 'IN_PROGRESS'";

pub(crate) const DELETE_EXPIRED: &str = "DELETE FROM idempotency WHERE expires_at < ?1";

impl SqliteStore {
    /// Delete idempotency records whose TTL (`expires_at`, unix seconds) is
    /// before `now_s`; returns how many. Optional housekeeping: expired
    /// records are already treated as absent.
    pub async fn purge_expired_idempotency(&self, now_s: i64) -> Result<usize, SqliteError> {
        self.db
            .write("purge expired idempotency records".into(), move |tx| {
                tx.execute(DELETE_EXPIRED, [now_s])
                    .ctx(|| "purge expired idempotency records".into())
            })
            .await
    }
}

impl IdempotencyStore for SqliteStore {
    async fn claim(&self, key: &DedupeKey, times: ClaimTimes) -> Result<ClaimOutcome, StoreError> {
        let pk = key.as_key();
        let key = key.clone();
        let context = format!("claim {pk}");
        let outcome = self
            .db
            .write(context.clone(), move |tx| {
                let existing = tx
                    .prepare_cached(SELECT_RECORD)
                    .and_then(|mut st| {
                        let mut rows = st.query((&key.grant_id, &key.message_id))?;
                        match rows.next()? {
                            Some(r) => Ok(Some((
                                r.get::<_, String>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, Option<String>>(3)?,
                            ))),
                            None => Ok(None),
                        }
                    })
                    .ctx(|| context.clone())?;
                let takeable = triage_core::ports::claimable(
                    existing
                        .as_ref()
                        .map(|(status, lease_until_ms, expires_at, _)| {
                            (status == STATUS_IN_PROGRESS, *lease_until_ms, *expires_at)
                        }),
                    times.now_ms,
                );
                if takeable {
                    tx.prepare_cached(UPSERT_CLAIM)
                        .and_then(|mut st| {
                            st.execute((
                                &key.grant_id,
                                &key.message_id,
                                times.lease_until_ms,
                                times.expires_at_s,
                                times.now_ms,
                            ))
                        })
                        .ctx(|| context.clone())?;
                    return Ok(ClaimOutcome::Claimed);
                }
                match existing {
                    Some((status, _, _, outcome)) if status == STATUS_COMPLETED => {
                        Ok(ClaimOutcome::Completed {
                            outcome: outcome.unwrap_or_default(),
                        })
                    }
                    Some((status, lease_until_ms, _, _)) if status == STATUS_IN_PROGRESS => {
                        Ok(ClaimOutcome::InProgress { lease_until_ms })
                    }
                    _ => Err(SqliteError::Corrupt {
                        context,
                        detail: "record has no valid status".into(),
                    }),
                }
            })
            .await?;
        tracing::debug!(key = %pk, ?outcome, "idempotency claim");
        Ok(outcome)
    }

    async fn complete(
        &self,
        key: &DedupeKey,
        outcome: &str,
        expires_at_s: i64,
    ) -> Result<(), StoreError> {
        let key = key.clone();
        let outcome = outcome.to_string();
        let context = format!("complete {}", key.as_key());
        self.db
            .write(context.clone(), move |tx| {
                tx.prepare_cached(UPSERT_COMPLETE)
                    .and_then(|mut st| {
                        st.execute((
                            &key.grant_id,
                            &key.message_id,
                            expires_at_s,
                            &outcome,
                            now_ms(),
                        ))
                    })
                    .ctx(|| context)?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn release(&self, key: &DedupeKey) -> Result<(), StoreError> {
        let key = key.clone();
        let context = format!("release {}", key.as_key());
        self.db
            .write(context.clone(), move |tx| {
                // Missing or COMPLETED: nothing to release, not an error.
                tx.prepare_cached(DELETE_IN_PROGRESS)
                    .and_then(|mut st| st.execute((&key.grant_id, &key.message_id)))
                    .ctx(|| context)?;
                Ok(())
            })
            .await?;
        Ok(())
    }
}
