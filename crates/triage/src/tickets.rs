//! `triage tickets`: list tickets as a table or JSON lines.

use triage_core::ports::{TicketFilter, TicketStore};

use crate::runtime::AnyTickets;

pub async fn run(
    store: &AnyTickets,
    queue: Option<String>,
    priority: Option<String>,
    status: Option<String>,
    limit: usize,
    json: bool,
) -> Result<(), String> {
    let filter = TicketFilter {
        queue,
        priority,
        status,
        limit: (limit > 0).then_some(limit),
    };
    let list = store.list(&filter).await.map_err(|e| e.to_string())?;
    if json {
        for t in &list {
            println!("{}", serde_json::to_string(t).map_err(|e| e.to_string())?);
        }
        return Ok(());
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "id", "queue", "category", "priority", "status", "msgs", "subject",
    ]);
    for t in &list {
        let subject: String = t.subject.chars().take(60).collect();
        table.add_row(vec![
            t.id.clone(),
            t.queue.clone(),
            t.category.clone(),
            t.priority.clone(),
            t.status.clone(),
            t.message_count.to_string(),
            subject,
        ]);
    }
    println!("{table}");
    println!("{} ticket(s)", list.len());
    Ok(())
}
