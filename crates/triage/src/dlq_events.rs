//! `triage dlq inspect --events` / `redrive --events`: ticket events the
//! local dispatcher gave up on (dead in the embedded outbox). Shows ids,
//! attempts, the destinations that already have each event and the
//! reason; never the event's content. Redriving makes them pending again;
//! a running `triage serve` delivers them to the destinations that lack
//! them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use serde_json::json;
use triage_core::logsafe::escape;
use triage_sqlite::{SqliteDb, SqliteStore};

use crate::error::CliError;

/// Dead events read to count reasons.
const REASON_SCAN: usize = 10_000;

fn store(db: &Path) -> Result<SqliteStore, CliError> {
    if !db.exists() {
        return Err(CliError::NoDatabase {
            path: db.to_path_buf(),
            hint: "give --db",
        });
    }
    SqliteDb::open(db)
        .map(|d| d.store())
        .map_err(|source| CliError::OpenDatabase {
            path: db.to_path_buf(),
            source,
        })
}

pub async fn inspect(db: &Path, limit: usize, json: bool) -> Result<ExitCode, CliError> {
    let store = store(db)?;
    let counts = store.outbox_counts().await?;
    let dead = store.dead_events(REASON_SCAN).await?;
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for d in &dead {
        *reasons.entry(escape(&d.reason)).or_default() += 1;
    }
    let samples: Vec<_> = dead
        .iter()
        .take(limit)
        .map(|d| {
            json!({
                "event_id": escape(&d.event_id),
                "ticket_id": escape(&d.ticket_id),
                "attempts": d.attempts,
                "delivered": d.delivered.iter().map(|n| escape(n)).collect::<Vec<_>>(),
                "reason": escape(&d.reason),
            })
        })
        .collect();
    if json {
        println!(
            "{}",
            json!({"outbox": "local", "dead": counts.dead, "pending": counts.pending,
                   "reasons": reasons, "samples": samples})
        );
    } else {
        println!(
            "events: {} dead, {} waiting to be delivered",
            counts.dead, counts.pending
        );
        for (reason, n) in &reasons {
            println!("  {n:>6}  {reason}");
        }
        for s in &samples {
            println!(
                "  {}  ticket {}  attempts {}  delivered to {}",
                s["event_id"].as_str().unwrap_or(""),
                s["ticket_id"].as_str().unwrap_or(""),
                s["attempts"],
                s["delivered"]
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn redrive(
    db: &Path,
    dry_run: bool,
    max: Option<u64>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let store = store(db)?;
    let dead = store.outbox_counts().await?.dead;
    let would = max.map_or(dead, |m| m.min(dead));
    let moved = if dry_run {
        0
    } else {
        store.redrive_events(max).await?
    };
    if json {
        println!(
            "{}",
            json!({"outbox": "local", "dry_run": dry_run, "dead": dead,
                   "would_redrive": if dry_run { would } else { 0 }, "redriven": moved})
        );
    } else if dry_run {
        println!("events: {dead} dead; would redrive {would}");
    } else {
        println!("events: redrove {moved} of {dead} dead; `triage serve` delivers them");
    }
    Ok(ExitCode::SUCCESS)
}
