//! `triage stats`: the KPIs of `triage_core::kpi` read from the embedded
//! store in one read transaction. Offline figures: it scans the tables
//! (tickets: the newest 10,000 for the time spread), so it is a command,
//! not something a request path calls.

use std::collections::BTreeMap;

use rusqlite::Connection;
use triage_core::kpi::{MailboxLedger, PipelineStats, Spread};

use crate::SqliteStore;
use crate::error::{Ctx, SqliteError};

/// Idempotency records per grant, status and outcome kind (`created`,
/// `appended`, `skipped`, ...: the outcome up to its first `:`).
const RECORDS: &str = "SELECT grant_id, status, \
     substr(coalesce(outcome, ''), 1, instr(coalesce(outcome, '') || ':', ':') - 1), count(*) \
     FROM idempotency WHERE expires_at >= ?1 GROUP BY 1, 2, 3";
/// Messages per grant in a queue table (attributes: JSON `[name, value]` pairs).
fn per_grant(table: &str) -> String {
    format!(
        "SELECT coalesce((SELECT json_extract(a.value, '$[1]') FROM json_each(q.attributes) a \
         WHERE json_extract(a.value, '$[0]') = 'grant_id'), ''), count(*) FROM {table} q GROUP BY 1"
    )
}
const TICKETS: &str = "SELECT count(*) FROM tickets";
/// Tickets beyond the first that hold one message, as the message that
/// opened them or among their `message_ids`.
const DUPLICATE_TICKETS: &str = "SELECT coalesce(sum(c - 1), 0) FROM \
     (SELECT count(DISTINCT id) AS c FROM \
       (SELECT t.id, t.grant_id, t.message_id AS m FROM tickets t \
        UNION SELECT t.id, t.grant_id, j.value FROM tickets t, json_each(t.message_ids) j) \
      GROUP BY grant_id, m HAVING c > 1)";
const DEAD_REASONS: &str = "SELECT reason, count(*) FROM queue_dead_letters \
     GROUP BY reason ORDER BY 2 DESC, 1 LIMIT 5";
const DEAD_EVENTS: &str = "SELECT count(*) FROM outbox WHERE status = 'dead'";
const MESSAGE_TO_TICKET: &str = "SELECT (created_at - received_at) * 1000 FROM tickets \
     WHERE received_at > 0 ORDER BY created_at DESC LIMIT 10000";

fn ledger(ledgers: &mut BTreeMap<String, MailboxLedger>, grant: String) -> &mut MailboxLedger {
    ledgers
        .entry(grant.clone())
        .or_insert_with(|| MailboxLedger {
            grant_id: grant,
            ..MailboxLedger::default()
        })
}

fn u(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl SqliteStore {
    /// The pipeline's KPIs at `now_ms`.
    pub async fn stats(&self, now_ms: i64) -> Result<PipelineStats, SqliteError> {
        self.db
            .read("stats", move |conn| read(conn, now_ms.div_euclid(1000)))
            .await
    }
}

fn read(conn: &Connection, now_s: i64) -> Result<PipelineStats, SqliteError> {
    let ctx = || "stats".to_string();
    let mut ledgers: BTreeMap<String, MailboxLedger> = BTreeMap::new();
    {
        let mut st = conn.prepare(RECORDS).ctx(ctx)?;
        let rows = st
            .query_map([now_s], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .ctx(ctx)?;
        for row in rows {
            let (grant, status, kind, n) = row.ctx(ctx)?;
            let l = ledger(&mut ledgers, grant);
            if status == crate::idempotency::STATUS_COMPLETED {
                l.triaged += u(n);
                match kind.as_str() {
                    "created" | "appended" => l.tickets += u(n),
                    "skipped" => l.skipped += u(n),
                    _ => {}
                }
            } else {
                l.in_progress += u(n);
            }
        }
    }
    for (table, dead) in [("queue_messages", false), ("queue_dead_letters", true)] {
        let mut st = conn.prepare(&per_grant(table)).ctx(ctx)?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .ctx(ctx)?;
        for row in rows {
            let (grant, n) = row.ctx(ctx)?;
            let l = ledger(&mut ledgers, grant);
            if dead {
                l.dead += u(n);
            } else {
                l.queued += u(n);
            }
        }
    }
    let count = |sql: &str| -> Result<u64, SqliteError> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(u)
            .ctx(ctx)
    };
    let dead_reasons = {
        let mut st = conn.prepare(DEAD_REASONS).ctx(ctx)?;
        st.query_map([], |r| Ok((r.get::<_, String>(0)?, u(r.get::<_, i64>(1)?))))
            .ctx(ctx)?
            .collect::<Result<Vec<_>, _>>()
            .ctx(ctx)?
    };
    let spread = {
        let mut st = conn.prepare(MESSAGE_TO_TICKET).ctx(ctx)?;
        st.query_map([], |r| r.get::<_, i64>(0))
            .ctx(ctx)?
            .map(|v| v.map(u))
            .collect::<Result<Vec<_>, _>>()
            .ctx(ctx)?
    };
    let mailboxes: Vec<MailboxLedger> = ledgers.into_values().collect();
    Ok(PipelineStats {
        dead_letters: mailboxes.iter().map(|l| l.dead).sum(),
        mailboxes,
        tickets: count(TICKETS)?,
        duplicate_tickets: count(DUPLICATE_TICKETS)?,
        dead_reasons,
        dead_events: count(DEAD_EVENTS)?,
        message_to_ticket: Spread::of(spread),
        ..PipelineStats::default()
    }
    .finish())
}
