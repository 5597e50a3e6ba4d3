//! `triage dlq`: look at the dead-letter queue and move its messages back.
//!
//! `--queue sqs`: the SQS DLQ (`--dlq-url` or `DLQ_URL`). Inspecting
//! receives with `VisibilityTimeout=0`, so nothing is deleted or hidden;
//! redriving receives, sends body and message attributes to the main queue
//! (`--queue-url` or `QUEUE_URL`), and deletes from the DLQ only what the
//! main queue accepted. `--queue local`: the dead-letter table of the
//! embedded SQLite queue (`--db`).
//!
//! Only ids, counts and failure reasons are printed; never a body.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::ExitCode;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use clap::Subcommand;
use serde_json::json;
use triage_core::logsafe::{Escaped, escape};
use triage_sqlite::{RedriveSelection, SqliteDb, SqliteQueue};

use crate::runtime::QueueKind;

/// Message attributes shown for each sampled message (ids and types only).
const ID_ATTRIBUTES: [&str; 4] = ["notification_id", "grant_id", "message_id", "type"];

/// Message attributes that may carry a failure reason: the worker's own
/// (`triage-reason`, set when it dead-letters a message itself), then
/// common ones. SQS's own redrive (after `maxReceiveCount`) says nothing,
/// so a message moved by it has no reason here; it is in the worker's logs.
const REASON_ATTRIBUTES: [&str; 5] = [
    triage_core::redelivery::attributes::REASON,
    "failure_reason",
    "last_error",
    "error",
    "reason",
];

/// How long a message received for redrive stays hidden in the DLQ: if the
/// send or the delete fails, it reappears after this.
const REDRIVE_VISIBILITY_S: i32 = 60;

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
) -> Result<ExitCode, String> {
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
            let client = sqs_client().await;
            let dlq = url_or_env(dlq_url, "--dlq-url", "DLQ_URL")?;
            inspect_sqs(&client, &dlq, limit, json).await
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
            let client = sqs_client().await;
            let dlq = url_or_env(dlq_url, "--dlq-url", "DLQ_URL")?;
            let target = url_or_env(queue_url, "--queue-url", "QUEUE_URL")?;
            redrive_sqs(&client, &dlq, &target, dry_run, max, json).await
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
        (_, QueueKind::Memory) => Err(
            "--queue memory lives inside one `triage serve` process and keeps no dead letters \
             (it drops and logs them); use --queue local or --queue sqs"
                .into(),
        ),
    }
}

fn url_or_env(flag: Option<String>, name: &str, env: &str) -> Result<String, String> {
    flag.or_else(|| std::env::var(env).ok())
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| format!("{name} is not given and {env} is not set"))
}

fn refuse_urls_for_local(flags: &[(&str, &Option<String>)]) -> Result<(), String> {
    match flags.iter().find(|(_, v)| v.is_some()) {
        Some((name, _)) => Err(format!(
            "{name} names an SQS queue: add --queue sqs (the default is the local queue in --db)"
        )),
        None => Ok(()),
    }
}

fn local_queue(db: &Path) -> Result<SqliteQueue, String> {
    if !db.exists() {
        return Err(format!(
            "no local database at {} (give --db, or --queue sqs for the SQS DLQ)",
            db.display()
        ));
    }
    SqliteDb::open(db)
        .map(SqliteQueue::new)
        .map_err(|e| format!("cannot open {}: {e}", db.display()))
}

async fn sqs_client() -> Client {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Client::new(&sdk)
}

fn sqs_error<E: std::error::Error>(what: &str, e: E) -> String {
    format!("{what}: {}", DisplayErrorContext(e))
}

fn to_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// One sampled or redriven message: ids, never the body.
#[derive(Debug, Clone, serde::Serialize)]
struct Sample {
    sqs_message_id: String,
    notification_id: Option<String>,
    grant_id: Option<String>,
    message_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    receive_count: Option<u32>,
    sent_at_ms: Option<i64>,
    reason: Option<String>,
}

fn string_attribute(m: &Message, name: &str) -> Option<String> {
    m.message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .map(str::to_owned)
}

fn system_attribute(m: &Message, name: MessageSystemAttributeName) -> Option<&str> {
    m.attributes()
        .and_then(|a| a.get(&name))
        .map(String::as_str)
}

fn sample_of(m: &Message) -> Sample {
    let [notification_id, grant_id, message_id, kind] =
        ID_ATTRIBUTES.map(|name| string_attribute(m, name));
    Sample {
        sqs_message_id: m.message_id().unwrap_or_default().to_owned(),
        notification_id,
        grant_id,
        message_id,
        kind,
        receive_count: system_attribute(m, MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok()),
        sent_at_ms: system_attribute(m, MessageSystemAttributeName::SentTimestamp)
            .and_then(|v| v.parse().ok()),
        reason: REASON_ATTRIBUTES
            .iter()
            .find_map(|name| string_attribute(m, name)),
    }
}

/// `ApproximateNumberOfMessages` and `...NotVisible` of a queue.
async fn counts(client: &Client, url: &str) -> Result<(u64, u64), String> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| sqs_error(&format!("reading the attributes of {url}"), e))?;
    let get = |name: QueueAttributeName| {
        out.attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    ))
}

async fn inspect_sqs(
    client: &Client,
    dlq: &str,
    limit: usize,
    json: bool,
) -> Result<ExitCode, String> {
    let (count, in_flight) = counts(client, dlq).await?;
    let mut samples: Vec<Sample> = Vec::new();
    let mut seen = HashSet::new();
    // With visibility 0 a receive may return messages already seen; stop
    // after a round brings nothing new.
    let rounds = limit.div_ceil(10) * 3 + 2;
    for _ in 0..rounds {
        if samples.len() >= limit {
            break;
        }
        let out = client
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(to_i32((limit - samples.len()).min(10)))
            .visibility_timeout(0)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sqs_error(&format!("receiving from {dlq}"), e))?;
        let mut new = 0;
        for m in out.messages() {
            let id = m.message_id().unwrap_or_default().to_owned();
            if samples.len() < limit && seen.insert(id) {
                samples.push(sample_of(m));
                new += 1;
            }
        }
        if new == 0 {
            break;
        }
    }
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

async fn inspect_local(queue: &SqliteQueue, limit: usize, json: bool) -> Result<ExitCode, String> {
    let count = queue.dlq_depth().await.map_err(|e| e.to_string())?;
    let scanned = queue
        .dlq_list(LOCAL_REASON_SCAN)
        .await
        .map_err(|e| e.to_string())?;
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
#[derive(Debug, Default)]
struct Moved {
    moved: u64,
    /// The main queue refused them; they reappear in the DLQ.
    send_failed: u64,
    /// Sent, but still in the DLQ: they will be moved (and deduplicated) again.
    delete_failed: u64,
}

async fn redrive_sqs(
    client: &Client,
    dlq: &str,
    target: &str,
    dry_run: bool,
    max: Option<u64>,
    json: bool,
) -> Result<ExitCode, String> {
    if dlq.trim_end_matches('/') == target.trim_end_matches('/') {
        return Err("the DLQ and the target queue are the same queue".into());
    }
    let (count, _) = counts(client, dlq).await?;
    // Also proves the target exists before anything is received.
    counts(client, target).await?;
    let fifo = dlq.ends_with(".fifo");
    if dry_run {
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

    let limit = max.unwrap_or(u64::MAX);
    let mut done = Moved::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut empty_rounds = 0;
    'outer: while done.moved < limit {
        let want = usize::try_from((limit - done.moved).min(10)).unwrap_or(10);
        let out = client
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(to_i32(want))
            .visibility_timeout(REDRIVE_VISIBILITY_S)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sqs_error(&format!("receiving from {dlq}"), e))?;
        let messages = out.messages();
        if messages.is_empty() {
            empty_rounds += 1;
            if empty_rounds >= 2 {
                break;
            }
            continue;
        }
        empty_rounds = 0;
        let mut batch: Vec<&Message> = Vec::new();
        for m in messages {
            let id = m.message_id().unwrap_or_default().to_owned();
            // A message seen before came back (a failed delete): stop rather than loop.
            if !seen.insert(id) {
                break 'outer;
            }
            batch.push(m);
        }
        let outcome = move_batch(client, target, dlq, &batch, fifo).await?;
        done.moved += outcome.moved;
        done.send_failed += outcome.send_failed;
        done.delete_failed += outcome.delete_failed;
        if outcome.send_failed > 0 || outcome.delete_failed > 0 {
            break;
        }
    }
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

/// Send a batch to the target, then delete from the DLQ what was accepted.
async fn move_batch(
    client: &Client,
    target: &str,
    dlq: &str,
    batch: &[&Message],
    fifo: bool,
) -> Result<Moved, String> {
    let mut entries = Vec::with_capacity(batch.len());
    let mut handles: HashMap<String, String> = HashMap::new();
    for (i, m) in batch.iter().enumerate() {
        let entry_id = format!("m{i}");
        let mut e = SendMessageBatchRequestEntry::builder()
            .id(&entry_id)
            .message_body(m.body().unwrap_or_default())
            .set_message_attributes(m.message_attributes().cloned());
        if fifo {
            e = e
                .set_message_group_id(
                    system_attribute(m, MessageSystemAttributeName::MessageGroupId)
                        .map(str::to_owned),
                )
                .set_message_deduplication_id(
                    system_attribute(m, MessageSystemAttributeName::MessageDeduplicationId)
                        .map(str::to_owned)
                        .or_else(|| m.message_id().map(str::to_owned)),
                );
        }
        entries.push(e.build().map_err(|e| format!("send entry: {e}"))?);
        handles.insert(entry_id, m.receipt_handle().unwrap_or_default().to_owned());
    }
    let sent = client
        .send_message_batch()
        .queue_url(target)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| sqs_error(&format!("sending to {target}"), e))?;
    for f in sent.failed() {
        tracing::warn!(
            entry = f.id(),
            code = f.code(),
            sender_fault = f.sender_fault(),
            "redrive: the target refused a message"
        );
    }
    let send_failed = sent.failed().len() as u64;
    let mut deletes = Vec::new();
    for ok in sent.successful() {
        if let Some(handle) = handles.get(ok.id()) {
            deletes.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(ok.id())
                    .receipt_handle(handle)
                    .build()
                    .map_err(|e| format!("delete entry: {e}"))?,
            );
        }
    }
    if deletes.is_empty() {
        return Ok(Moved {
            moved: 0,
            send_failed,
            delete_failed: 0,
        });
    }
    let to_delete = deletes.len() as u64;
    let deleted = match client
        .delete_message_batch()
        .queue_url(dlq)
        .set_entries(Some(deletes))
        .send()
        .await
    {
        Ok(out) => {
            for f in out.failed() {
                tracing::warn!(
                    entry = f.id(),
                    code = f.code(),
                    "redrive: delete from the DLQ failed"
                );
            }
            out.successful().len() as u64
        }
        Err(e) => {
            tracing::warn!(error = %DisplayErrorContext(e), "redrive: delete from the DLQ failed");
            0
        }
    };
    Ok(Moved {
        moved: deleted,
        send_failed,
        delete_failed: to_delete - deleted.min(to_delete),
    })
}

async fn redrive_local(
    queue: &SqliteQueue,
    dry_run: bool,
    max: Option<u64>,
    json: bool,
) -> Result<ExitCode, String> {
    let selection = match max {
        None => RedriveSelection::All,
        Some(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            let ids = queue
                .dlq_list(n)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|d| d.id)
                .collect();
            RedriveSelection::Ids(ids)
        }
    };
    let count = queue.dlq_depth().await.map_err(|e| e.to_string())?;
    let redriven = queue
        .dlq_redrive(selection, dry_run)
        .await
        .map_err(|e| e.to_string())?;
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
