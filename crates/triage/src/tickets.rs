//! `triage tickets`: list tickets as a table or JSON lines, page by page
//! (so `--limit 0`, every ticket, holds one page in memory, not the store).

use triage_core::listing::{Cursor, MAX_PAGE_BYTES, MAX_PAGE_TICKETS, list_page};
use triage_core::logsafe::escape_capped;
use triage_core::ports::TicketFilter;

use crate::error::CliError;
use crate::runtime::AnyTickets;

/// Which tickets, and how many (`None`: all of them).
pub struct Query {
    pub queue: Option<String>,
    pub priority: Option<String>,
    pub status: Option<String>,
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
            priority: q.priority.clone(),
            status: q.status.clone(),
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
                    cell(&t.priority, 20),
                    cell(&t.status, 20),
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
