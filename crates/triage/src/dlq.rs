//! `triage dlq`: look at the dead-letter queue and move its messages back.
//!
//! `--queue sqs`: the SQS DLQ (`--dlq-url` or `DLQ_URL`), through the SQS
//! adapter's `dead_letters` (inspecting hides nothing; redriving deletes
//! from the DLQ only what the main queue, `--queue-url` or `QUEUE_URL`,
//! accepted). `--queue local`: the dead-letter table of the embedded SQLite
//! queue (`--db`). This module only chooses and prints.
//!
//! Only ids, counts and failure reasons are printed; never a body.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use triage_core::logsafe::{Escaped, escape};
use triage_sqlite::{RedriveSelection, SqliteDb, SqliteQueue};
use triage_sqs::dead_letters::{self, DlqError, REDRIVE_VISIBILITY_S, Sample, SqsDeadLetters};

use crate::error::CliError;
use crate::runtime::QueueKind;

/// Dead letters read to count reasons (local).
const LOCAL_REASON_SCAN: usize = 10_000;

#[derive(Subcommand)]
pub enum DlqCommand {
    /// Show the dead-letter queue: message count, failure reasons and sample ids, never bodies.
    #[command(
        long_about = "Shows how many messages sit in the dead-letter queue, the failure reasons \
                      carried with them, and the ids of a sample (SQS message id, notification_id, \
                      grant_id, message_id), never a body.\n\n\
                      --queue sqs: the SQS DLQ at --dlq-url (or DLQ_URL). The count is \
                      ApproximateNumberOfMessages; the sample is received with VisibilityTimeout 0, \
                      so nothing is deleted or hidden (each message's ApproximateReceiveCount \
                      grows by one). SQS does not record why a message was dead-lettered: look \
                      the sampled ids up in the worker's logs.\n\n\
                      --queue local (default): the dead-letter table of the embedded queue (--db), \
                      with the reason recorded for each message.",
        after_help = "Examples:\n  triage dlq inspect\n  triage dlq inspect --events\n  triage --queue sqs dlq inspect --dlq-url https://sqs.us-east-1.amazonaws.com/123456789012/inbox-triage-dlq\n  triage --queue sqs --json dlq inspect --limit 50"
    )]
    Inspect {
        /// The SQS dead-letter queue (default: DLQ_URL). Needs --queue sqs.
        #[arg(long)]
        dlq_url: Option<String>,
        /// Most messages sampled.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Ticket events the local dispatcher gave up on (the outbox in --db),
        /// instead of dead notifications.
        #[arg(long)]
        events: bool,
    },
    /// Move dead-lettered messages back to the main queue (after fixing the cause).
    #[command(
        long_about = "Moves dead-lettered messages back to the main queue, where the worker \
                      processes them again (its idempotency records make that safe).\n\n\
                      --queue sqs: receives from --dlq-url (or DLQ_URL), sends each body with its \
                      message attributes to --queue-url (or QUEUE_URL), and deletes from the DLQ \
                      only what the main queue accepted. A message whose send or delete failed \
                      reappears in the DLQ after 60 s. --dry-run counts \
                      (ApproximateNumberOfMessages) and moves nothing.\n\n\
                      --queue local (default): the embedded queue's dead letters, in one \
                      transaction; a running `triage serve` picks them up.",
        after_help = "Examples:\n  triage dlq redrive --dry-run\n  triage dlq redrive --events\n  triage dlq redrive --max 100\n  triage --queue sqs dlq redrive --dlq-url \"$DLQ_URL\" --queue-url \"$QUEUE_URL\""
    )]
    Redrive {
        /// The SQS dead-letter queue (default: DLQ_URL). Needs --queue sqs.
        #[arg(long)]
        dlq_url: Option<String>,
        /// The SQS queue to move messages to (default: QUEUE_URL). Needs --queue sqs.
        #[arg(long)]
        queue_url: Option<String>,
        /// Count what would move; move nothing.
        #[arg(long)]
        dry_run: bool,
        /// Move at most this many messages.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        max: Option<u64>,
        /// Dead ticket events of the outbox in --db: make them pending again,
        /// for the destinations that do not have them yet.
        #[arg(long)]
        events: bool,
    },
}

pub async fn run(
    command: DlqCommand,
    queue: QueueKind,
    db: &Path,
    json: bool,
) -> Result<ExitCode, CliError> {
    match (command, queue) {
        (
            DlqCommand::Inspect {
                dlq_url,
                limit,
                events: true,
            },
            _,
        ) => {
            refuse_urls_for_local(&[("--dlq-url", &dlq_url)])?;
            crate::dlq_events::inspect(db, limit, json).await
        }
        (
            DlqCommand::Redrive {
                dlq_url,
                queue_url,
                dry_run,
                max,
                events: true,
            },
            _,
        ) => {
            refuse_urls_for_local(&[("--dlq-url", &dlq_url), ("--queue-url", &queue_url)])?;
            crate::dlq_events::redrive(db, dry_run, max, json).await
        }
        (DlqCommand::Inspect { dlq_url, limit, .. }, QueueKind::Sqs) => {
            let dlq = url_or_env(dlq_url, "--dlq-url", "DLQ_URL")?;
            inspect_sqs(&sqs_dead_letters(dlq).await, limit, json).await
        }
        (DlqCommand::Inspect { dlq_url, limit, .. }, QueueKind::Local) => {
            refuse_urls_for_local(&[("--dlq-url", &dlq_url)])?;
            inspect_local(&local_queue(db)?, limit, json).await
        }
        (
            DlqCommand::Redrive {
                dlq_url,
                queue_url,
                dry_run,
                max,
                ..
            },
            QueueKind::Sqs,
        ) => {
            let dlq = url_or_env(dlq_url, "--dlq-url", "DLQ_URL")?;
            let target = url_or_env(queue_url, "--queue-url", "QUEUE_URL")?;
            redrive_sqs(&sqs_dead_letters(dlq).await, &target, dry_run, max, json).await
        }
        (
            DlqCommand::Redrive {
                dlq_url,
                queue_url,
                dry_run,
                max,
                ..
            },
            QueueKind::Local,
        ) => {
            refuse_urls_for_local(&[("--dlq-url", &dlq_url), ("--queue-url", &queue_url)])?;
            redrive_local(&local_queue(db)?, dry_run, max, json).await
        }
        (_, QueueKind::Memory) => Err(CliError::Usage(
            "--queue memory lives inside one `triage serve` process and keeps no dead letters \
             (it drops and logs them); use --queue local or --queue sqs",
        )),
    }
}

fn url_or_env(
    flag: Option<String>,
    name: &'static str,
    env: &'static str,
) -> Result<String, CliError> {
    flag.or_else(|| std::env::var(env).ok())
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or(CliError::MissingQueueUrl { flag: name, env })
}

fn refuse_urls_for_local(flags: &[(&'static str, &Option<String>)]) -> Result<(), CliError> {
    match flags.iter().find(|(_, v)| v.is_some()) {
        Some(&(flag, _)) => Err(CliError::SqsUrlWithLocalQueue { flag }),
        None => Ok(()),
    }
}

fn local_queue(db: &Path) -> Result<SqliteQueue, CliError> {
    if !db.exists() {
        return Err(CliError::NoDatabase {
            path: db.to_path_buf(),
            hint: "give --db, or --queue sqs for the SQS DLQ",
        });
    }
    SqliteDb::open(db)
        .map(SqliteQueue::new)
        .map_err(|source| CliError::OpenDatabase {
            path: db.to_path_buf(),
            source,
        })
}

async fn sqs_dead_letters(dlq: String) -> SqsDeadLetters {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    SqsDeadLetters::new(aws_sdk_sqs::Client::new(&sdk), dlq)
}

async fn inspect_sqs(
    dead: &SqsDeadLetters,
    limit: usize,
    json: bool,
) -> Result<ExitCode, CliError> {
    let dlq = dead.url();
    let (count, in_flight) = dead.counts().await?;
    let samples = dead.sample(limit).await?;
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for s in &samples {
        if let Some(r) = &s.reason {
            *reasons.entry(r.clone()).or_default() += 1;
        }
    }
    if json {
        println!(
            "{}",
            json!({
                "queue": "sqs",
                "dlq_url": dlq,
                "count": count,
                "in_flight": in_flight,
                "reasons": reasons,
                "reasons_from": "sample",
                "sample": samples,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("DLQ {dlq}");
    println!("count: {count} (ApproximateNumberOfMessages), in flight: {in_flight}");
    print_reasons(
        &reasons,
        "in the sample's message attributes; SQS does not record why: look the ids up in the worker's logs",
    );
    print_sample_table(&samples);
    Ok(ExitCode::SUCCESS)
}

fn print_reasons(reasons: &BTreeMap<String, u64>, none_hint: &str) {
    if reasons.is_empty() {
        println!("failure reasons: none {none_hint}");
        return;
    }
    println!("failure reasons:");
    for (reason, n) in reasons {
        println!("  {n:>5}  {}", Escaped(reason));
    }
}

fn print_sample_table(samples: &[Sample]) {
    if samples.is_empty() {
        println!("sample: none");
        return;
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "sqs message id",
        "notification_id",
        "grant_id",
        "message_id",
        "type",
        "receives",
    ]);
    for s in samples {
        let cell = |v: &Option<String>| escape(v.as_deref().unwrap_or_default());
        table.add_row(vec![
            escape(&s.sqs_message_id),
            cell(&s.notification_id),
            cell(&s.grant_id),
            cell(&s.message_id),
            cell(&s.kind),
            s.receive_count.map(|n| n.to_string()).unwrap_or_default(),
        ]);
    }
    println!("sample ({}):", samples.len());
    println!("{table}");
}

async fn inspect_local(
    queue: &SqliteQueue,
    limit: usize,
    json: bool,
) -> Result<ExitCode, CliError> {
    let count = queue.dlq_depth().await?;
    let scanned = queue.dlq_list(LOCAL_REASON_SCAN).await?;
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for d in &scanned {
        *reasons.entry(d.reason.clone()).or_default() += 1;
    }
    let samples: Vec<_> = scanned
        .iter()
        .take(limit)
        .map(|d| {
            let attr = |name: &str| {
                d.attributes
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            };
            json!({
                "dead_letter_id": d.id,
                "notification_id": attr("notification_id"),
                "grant_id": attr("grant_id"),
                "message_id": attr("message_id"),
                "type": attr("type"),
                "receive_count": d.receive_count,
                "dead_lettered_at_ms": d.dead_lettered_at_ms,
                "reason": d.reason,
            })
        })
        .collect();
    if json {
        println!(
            "{}",
            json!({
                "queue": "local",
                "count": count,
                "reasons": reasons,
                "reasons_from": if (scanned.len() as u64) < count { "oldest" } else { "all" },
                "sample": samples,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("local dead letters: {count}");
    print_reasons(&reasons, "");
    if (scanned.len() as u64) < count {
        println!("  (reasons of the {} oldest)", scanned.len());
    }
    if samples.is_empty() {
        println!("sample: none");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "id",
        "notification_id",
        "grant_id",
        "message_id",
        "receives",
        "reason",
    ]);
    let cell = |v: &serde_json::Value, k: &str| match &v[k] {
        serde_json::Value::String(s) => escape(s),
        serde_json::Value::Null => String::new(),
        other => escape(&other.to_string()),
    };
    for s in &samples {
        table.add_row(vec![
            cell(s, "dead_letter_id"),
            cell(s, "notification_id"),
            cell(s, "grant_id"),
            cell(s, "message_id"),
            cell(s, "receive_count"),
            cell(s, "reason"),
        ]);
    }
    println!("sample ({}):", samples.len());
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

/// What an SQS redrive did.
async fn redrive_sqs(
    dead: &SqsDeadLetters,
    target: &str,
    dry_run: bool,
    max: Option<u64>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let dlq = dead.url();
    if dlq.trim_end_matches('/') == target.trim_end_matches('/') {
        return Err(DlqError::SameQueue.into());
    }
    let (count, _) = dead.counts().await?;
    if dry_run {
        // Also proves the target exists.
        dead_letters::counts(dead.client(), target).await?;
        let would = max.map_or(count, |m| m.min(count));
        if json {
            println!(
                "{}",
                json!({"queue": "sqs", "dry_run": true, "dlq_url": dlq, "queue_url": target,
                       "count": count, "would_move": would, "moved": 0})
            );
        } else {
            println!(
                "dry run: would move {would} of {count} message(s) (ApproximateNumberOfMessages) \
                 from {dlq} to {target}; nothing moved"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let done = dead.redrive(target, max).await?;
    let failed = done.send_failed + done.delete_failed;
    if json {
        println!(
            "{}",
            json!({"queue": "sqs", "dry_run": false, "dlq_url": dlq, "queue_url": target,
                   "moved": done.moved, "send_failed": done.send_failed,
                   "delete_failed": done.delete_failed})
        );
    } else {
        println!("moved {} message(s) from {dlq} to {target}", done.moved);
        if done.send_failed > 0 {
            println!(
                "{} message(s) were refused by {target} and stay in the DLQ (visible again in \
                 {REDRIVE_VISIBILITY_S} s)",
                done.send_failed
            );
        }
        if done.delete_failed > 0 {
            println!(
                "{} message(s) were sent but could not be deleted from the DLQ: they will be \
                 moved again later, and the worker deduplicates them",
                done.delete_failed
            );
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn redrive_local(
    queue: &SqliteQueue,
    dry_run: bool,
    max: Option<u64>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let selection = match max {
        None => RedriveSelection::All,
        Some(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            let ids = queue.dlq_list(n).await?.into_iter().map(|d| d.id).collect();
            RedriveSelection::Ids(ids)
        }
    };
    let count = queue.dlq_depth().await?;
    let redriven = queue.dlq_redrive(selection, dry_run).await?;
    let n = redriven.len();
    if json {
        println!(
            "{}",
            json!({"queue": "local", "dry_run": dry_run, "count": count,
                   "would_move": if dry_run { n } else { 0 },
                   "moved": if dry_run { 0 } else { n }})
        );
    } else if dry_run {
        println!(
            "dry run: would move {n} of {count} dead letter(s) back to the local queue; nothing moved"
        );
    } else {
        println!("moved {n} dead letter(s) back to the local queue");
    }
    Ok(ExitCode::SUCCESS)
}
