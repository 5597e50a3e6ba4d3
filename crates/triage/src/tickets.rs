//! `triage tickets`: list tickets as a table or JSON lines, page by page
//! (so `--limit 0`, every ticket, holds one page in memory, not the store).

use clap::builder::{PossibleValuesParser, TypedValueParser};
use triage_core::listing::{Cursor, MAX_PAGE_BYTES, MAX_PAGE_TICKETS, list_page};
use triage_core::logsafe::escape_capped;
use triage_core::ports::TicketFilter;
use triage_core::ticket::{PRIORITY_NAMES, Priority, TicketStatus, parse_priority};

use crate::error::CliError;
use crate::runtime::AnyTickets;

/// `--priority`: one of the priority names (clap lists them in the help and
/// refuses any other value with its usual error).
pub fn priority_arg() -> impl TypedValueParser<Value = Priority> {
    PossibleValuesParser::new(PRIORITY_NAMES).try_map(|name| parse_priority(&name))
}

/// `--status`: one of the status names, as [`priority_arg`].
pub fn status_arg() -> impl TypedValueParser<Value = TicketStatus> {
    PossibleValuesParser::new(TicketStatus::NAMES).try_map(|name| name.parse::<TicketStatus>())
}

/// Which tickets, and how many (`None`: all of them).
pub struct Query {
    pub queue: Option<String>,
    pub priority: Option<Priority>,
    pub status: Option<TicketStatus>,
    pub limit: Option<usize>,
}

pub async fn run(store: &AnyTickets, q: Query, json: bool) -> Result<(), CliError> {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "id", "queue", "category", "priority", "status", "msgs", "subject",
    ]);
    let mut listed = 0usize;
    let mut after = None;
    loop {
        let want = q.limit.map_or(MAX_PAGE_TICKETS, |l| {
            l.saturating_sub(listed).min(MAX_PAGE_TICKETS)
        });
        if want == 0 {
            break;
        }
        let filter = TicketFilter {
            queue: q.queue.clone(),
            priority: q.priority,
            status: q.status,
            limit: None,
            after: after.take(),
        };
        let page = list_page(store, &filter, want, MAX_PAGE_BYTES).await?;
        for t in &page.tickets {
            if json {
                println!("{}", serde_json::to_string(t)?);
            } else {
                // Subjects, and queues named by `support+queue@` aliases,
                // come from mail: escaped so they cannot drive the terminal.
                let cell = |s: &str, max: usize| escape_capped(s, max);
                table.add_row(vec![
                    cell(&t.id, 40),
                    cell(&t.queue, 40),
                    cell(&t.category, 40),
                    t.priority.as_str().to_string(),
                    t.status.to_string(),
                    t.message_count.to_string(),
                    cell(&t.subject, 60),
                ]);
            }
        }
        listed += page.tickets.len();
        match (page.next_cursor, page.tickets.last()) {
            (Some(_), Some(last)) => after = Some(Cursor::after(last)),
            _ => break,
        }
    }
    if !json {
        println!("{table}");
        println!("{listed} ticket(s)");
    }
    Ok(())
}
