//! `triage stats`: the pipeline's KPIs (`triage_core::kpi`) from the
//! embedded store: received vs triaged per mailbox, tickets, duplicate
//! tickets per 1,000 (must be 0), dead letters and their reasons, dead
//! events, and the message-to-ticket spread. In AWS the same figures are
//! EMF metrics on the dashboard.

use std::path::Path;
use std::process::ExitCode;

use crate::error::CliError;
use crate::runtime::{self, StoreKind};

pub async fn run(db_path: &Path, store: StoreKind, json: bool) -> Result<ExitCode, CliError> {
    if store != StoreKind::Sqlite {
        return Err(CliError::Usage(
            "stats reads the embedded store; in AWS the same figures are on the \
                    dashboard (MailboxReceived, MailboxTriaged, TimeToTicketMs, \
                    WebhookLatencyMs, DeadLettered, Duplicates)",
        ));
    }
    let db = runtime::open_db(db_path, true)?.ok_or(CliError::DatabaseNotOpen)?;
    let stats = db.store().stats(triage_clock::now_ms()).await?;
    if json {
        let value = serde_json::to_value(&stats)?;
        println!("{value}");
    } else {
        println!(
            "{:<40} {:>9} {:>9} {:>8} {:>8} {:>6} {:>6} {:>6}",
            "mailbox (grant)", "received", "triaged", "tickets", "skipped", "queued", "dead", "gap"
        );
        for l in &stats.mailboxes {
            let name = triage_core::logsafe::escape_capped(&l.grant_id, 40);
            println!(
                "{:<40} {:>9} {:>9} {:>8} {:>8} {:>6} {:>6} {:>6}",
                name,
                l.received(),
                l.triaged,
                l.tickets,
                l.skipped,
                l.queued,
                l.dead,
                l.gap()
            );
        }
        println!(
            "tickets {}; duplicate tickets {} ({:.3} per 1,000 messages; must be 0)",
            stats.tickets, stats.duplicate_tickets, stats.duplicates_per_thousand
        );
        let s = stats.message_to_ticket;
        println!(
            "message date to ticket (newest {}): p50 {} ms, p95 {} ms, max {} ms",
            s.count, s.p50_ms, s.p95_ms, s.max_ms
        );
        println!(
            "dead letters {}; dead events {}",
            stats.dead_letters, stats.dead_events
        );
        for (reason, n) in &stats.dead_reasons {
            println!(
                "  {n:>6}  {}",
                triage_core::logsafe::escape_capped(reason, 200)
            );
        }
    }
    Ok(if stats.duplicate_tickets == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
