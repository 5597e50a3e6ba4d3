//! `triage rules diff`: a dry run for a rules change. Every message of the
//! inputs is decided twice, touching no store: with the rules in use (the
//! `RULES_FILE` / `RULES_TOML` of the environment, else the compiled-in
//! default) and with the proposed file (`--rules`). Only the messages whose
//! category, queue, priority or skip decision would change are printed,
//! with the evidence of both sides.

use std::path::PathBuf;

use serde_json::json;
use triage_core::classify::Rules;

use crate::classify::{Decision, decide};
use crate::input::{expand, load, messages};

/// One side of a change, as printed.
fn summary(d: &Decision) -> (String, Vec<String>) {
    match d {
        Decision::Skip(reason) => (format!("skip ({})", reason.code()), Vec::new()),
        Decision::Ticket(c) => (
            format!(
                "category={} queue={} priority={}",
                c.category,
                c.queue,
                c.priority.as_str()
            ),
            c.applied_rules
                .iter()
                .map(|r| format!("{}: {}", r.rule, r.decision))
                .collect(),
        ),
    }
}

fn same(a: &Decision, b: &Decision) -> bool {
    match (a, b) {
        (Decision::Skip(x), Decision::Skip(y)) => x.code() == y.code(),
        (Decision::Ticket(x), Decision::Ticket(y)) => {
            x.category == y.category && x.queue == y.queue && x.priority == y.priority
        }
        _ => false,
    }
}

/// What a diff found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub messages: usize,
    pub changed: usize,
    pub unreadable: usize,
}

/// Decide every message of `paths` with `current` and `proposed`; print the
/// changes (one line, or one JSON object, each) and a summary.
pub fn run(
    paths: &[PathBuf],
    current: &Rules,
    proposed: &Rules,
    support_addresses: &[String],
    json_out: bool,
) -> Result<Counts, crate::input::InputError> {
    let mut counts = Counts::default();
    for path in expand(paths)? {
        let name = crate::input::shown(&path);
        let msgs = match load(&path)
            .map_err(|e| e.to_string())
            .and_then(|i| messages(&i))
        {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {name}: {e}");
                counts.unreadable += 1;
                continue;
            }
        };
        let many = msgs.len() > 1;
        for (i, (msg, format, origin)) in msgs.iter().enumerate() {
            counts.messages += 1;
            let before = decide(msg, *format, *origin, current, support_addresses);
            let after = decide(msg, *format, *origin, proposed, support_addresses);
            if same(&before, &after) {
                continue;
            }
            counts.changed += 1;
            let label = if many {
                format!("{name}#{i}")
            } else {
                name.clone()
            };
            let (was, was_why) = summary(&before);
            let (now, now_why) = summary(&after);
            if json_out {
                println!(
                    "{}",
                    json!({"input": label, "before": was, "after": now,
                           "before_rules": was_why, "after_rules": now_why})
                );
            } else {
                println!("{label}: {was}  ->  {now}");
                println!("    before: [{}]", was_why.join("; "));
                println!("    after:  [{}]", now_why.join("; "));
            }
        }
    }
    if !json_out {
        println!(
            "{} message(s), {} would change, {} unreadable input(s)",
            counts.messages, counts.changed, counts.unreadable
        );
    }
    Ok(counts)
}
