//! `triage classify`: a dry run with no store.

use std::path::PathBuf;

use serde_json::json;
use triage_core::classify::{BODY_SCAN_BYTES, Rules};
use triage_core::filters::{FilterContext, skip_reason};
use triage_core::text::visible_text_head;

use triage_core::classify::Classification;
use triage_core::filters::SkipReason;
use triage_core::message::{BodyFormat, Message};
use triage_core::provider::Origin;

use crate::input::{expand, load, messages};

/// What the worker would do with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Skip(SkipReason),
    Ticket(Classification),
}

/// The worker's decision for `msg` under `rules`, touching no store: the
/// filters, then the classification of the visible text.
pub fn decide(
    msg: &Message,
    format: BodyFormat,
    origin: Origin,
    rules: &Rules,
    support_addresses: &[String],
) -> Decision {
    let ctx = FilterContext {
        support_addresses,
        folder_roles: None,
        origin,
        allow_historic: false,
        list_mailboxes: rules.list_mailboxes(),
    };
    match skip_reason(msg, &ctx) {
        Some(reason) => Decision::Skip(reason),
        None => {
            // As the worker reads it.
            let text =
                visible_text_head(msg.body.as_deref().unwrap_or(""), format, BODY_SCAN_BYTES);
            Decision::Ticket(rules.classify(msg, &text))
        }
    }
}

/// Classify every input; print one line (or JSON object) per message.
/// Returns the number of inputs that could not be read.
pub fn run(
    paths: &[PathBuf],
    rules: &Rules,
    support_addresses: &[String],
    json_out: bool,
) -> Result<usize, crate::input::InputError> {
    let files = expand(paths)?;
    let mut unreadable = 0;
    for path in files {
        let name = crate::input::shown(&path);
        let input = match load(&path) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("error: {e}");
                unreadable += 1;
                continue;
            }
        };
        let msgs = match messages(&input) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {name}: {e}");
                unreadable += 1;
                continue;
            }
        };
        let many = msgs.len() > 1;
        for (i, (msg, format, origin)) in msgs.iter().enumerate() {
            let label = if many {
                format!("{name}#{i}")
            } else {
                name.clone()
            };
            let line = match decide(msg, *format, *origin, rules, support_addresses) {
                Decision::Skip(reason) => {
                    if json_out {
                        json!({"input": label, "decision": "skip", "reason": reason.code(),
                               "detail": format!("{reason:?}"),
                               "category": null, "queue": null, "priority": null, "applied_rules": []})
                        .to_string()
                    } else {
                        format!("{label}: skip ({}: {reason:?})", reason.code())
                    }
                }
                Decision::Ticket(c) => {
                    if json_out {
                        json!({"input": label, "decision": "ticket", "reason": null,
                               "category": c.category, "queue": c.queue,
                               "priority": c.priority.as_str(), "applied_rules": c.applied_rules})
                        .to_string()
                    } else {
                        let rules: Vec<String> = c
                            .applied_rules
                            .iter()
                            .map(|r| format!("{}: {}", r.rule, r.decision))
                            .collect();
                        format!(
                            "{label}: ticket  category={} queue={} priority={}  [{}]",
                            c.category,
                            c.queue,
                            c.priority.as_str(),
                            rules.join("; ")
                        )
                    }
                }
            };
            println!("{line}");
        }
    }
    Ok(unreadable)
}
