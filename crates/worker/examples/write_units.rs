//! DynamoDB request units per processed email, through the real worker
//! handler with the DynamoDB stores on moto.
//!
//! ```text
//! python3 bench/gen_notifications.py DIR 2000 --seed 1
//! eval "$(infra/local/up.sh)"
//! cargo run --release -q -p triage-worker --example write_units -- DIR [--remember-completed N]
//! ```
//!
//! (`bench/write_units.sh` does all of it.) Every file of `DIR` is a Nylas
//! v3 webhook body (`deltas[]`); it is parsed as ingest does (default
//! policy: the SQS size limit, so a message too large for the queue becomes
//! a reference envelope) and each queued message goes through
//! `Worker::process` one at a time, with no Nylas API (messages are made
//! from the notification's copy; a reference envelope fails permanently).
//! One metered DynamoDB client ([`Meter`]) serves both stores; the units
//! of each message (the difference of the meter's readings around it) are
//! attributed to its outcome. moto reports placeholder consumed capacity,
//! so units are computed from item sizes (see `triage_dynamodb::capacity`).
//!
//! The memory of completed idempotency records is off by default
//! (`--remember-completed 0`): a duplicate delivery is measured as it costs
//! when it reaches another Lambda instance. Prints counts and units only,
//! nothing from the messages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use triage_core::classify::Rules;
use triage_core::ingest::IngestPolicy;
use triage_core::provider::{self, Authenticated};
use triage_dynamodb::capacity::{Meter, Usage};
use triage_dynamodb::{DynamoIdempotency, DynamoTickets};
use triage_nylas::{CachedFolders, NylasClient};
use triage_worker::{Worker, WorkerSettings};

/// Units of the messages that ended one way.
#[derive(Debug, Default)]
struct Tally {
    messages: u64,
    total: Usage,
    max_write_units: u64,
}

impl Tally {
    fn add(&mut self, u: Usage) {
        self.messages += 1;
        self.total.write_units += u.write_units;
        self.total.read_half_units += u.read_half_units;
        self.total.calls += u.calls;
        self.max_write_units = self.max_write_units.max(u.write_units);
    }

    fn row(&self, name: &str) -> String {
        let n = self.messages.max(1) as f64;
        format!(
            "| {name} | {} | {:.2} | {} | {:.2} | {:.2} |",
            self.messages,
            self.total.write_units as f64 / n,
            self.max_write_units,
            self.total.read_units() / n,
            self.total.calls as f64 / n,
        )
    }
}

struct Args {
    dir: PathBuf,
    remember_completed: usize,
}

fn args() -> Result<Args, String> {
    let usage = "usage: write_units DIR [--remember-completed N]";
    let mut it = std::env::args().skip(1);
    let mut dir = None;
    let mut remember_completed = 0;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--remember-completed" => {
                remember_completed = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| usage.to_string())?;
            }
            "-h" | "--help" => return Err(usage.to_string()),
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            _ => return Err(usage.to_string()),
        }
    }
    Ok(Args {
        dir: dir.ok_or_else(|| usage.to_string())?,
        remember_completed,
    })
}

fn files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let files = match files(&args.dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };

    let meter = Arc::new(Meter::default());
    let client = meter.client(&triage_testkit::moto_config().await);
    let idempotency_table = triage_testkit::create_dynamo_table(&client, "wu-idem").await;
    let tickets_table = triage_testkit::create_dynamo_table(&client, "wu-tickets").await;
    let settings = WorkerSettings {
        remember_completed: args.remember_completed,
        ..WorkerSettings::default()
    };
    let worker = Worker::new(
        DynamoIdempotency::from_client(client.clone(), idempotency_table),
        DynamoTickets::from_client(client, tickets_table),
        None::<CachedFolders<NylasClient>>,
        Rules::default(),
        settings,
    );

    let Some(nylas) = provider::by_name("nylas") else {
        eprintln!("no nylas provider");
        std::process::exit(1);
    };
    let policy = IngestPolicy::default();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut all = Tally::default();
    let mut refused_files = 0u64;
    let started = Instant::now();
    for path in &files {
        let body = match std::fs::read(path) {
            Ok(b) => b,
            Err(_) => {
                refused_files += 1;
                continue;
            }
        };
        let prepared = match nylas.parse(
            &policy,
            &body,
            &Authenticated::unsigned(),
            triage_clock::now_ms(),
        ) {
            Ok(p) => p,
            Err(_) => {
                refused_files += 1;
                continue;
            }
        };
        for queued in &prepared.messages {
            let before = meter.usage();
            let deadline = Instant::now() + Duration::from_secs(30);
            let (_, result) = worker
                .process(&queued.body, triage_clock::now_ms(), deadline)
                .await;
            let used = meter.usage() - before;
            let name = match &result {
                Ok(outcome) => outcome.code().to_string(),
                Err(failure) => format!("failed: {}", failure.code()),
            };
            tallies.entry(name).or_default().add(used);
            all.add(used);
        }
    }

    println!(
        "{} files ({} refused), {} queued messages, processed one at a time in {:.1} s; remember_completed = {}",
        files.len(),
        refused_files,
        all.messages,
        started.elapsed().as_secs_f64(),
        args.remember_completed,
    );
    println!();
    println!("| outcome | messages | WRU mean | WRU max | RRU mean | calls mean |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut rows: Vec<(&String, &Tally)> = tallies.iter().collect();
    rows.sort_by(|a, b| b.1.messages.cmp(&a.1.messages).then(a.0.cmp(b.0)));
    for (name, tally) in rows {
        println!("{}", tally.row(name));
    }
    println!("{}", all.row("**all**"));
    println!();
    let n = all.messages.max(1) as f64;
    println!(
        "Totals: {} WRU, {:.1} RRU, {} calls; {:.2} WRU and {:.2} RRU per message overall.",
        all.total.write_units,
        all.total.read_units(),
        all.total.calls,
        all.total.write_units as f64 / n,
        all.total.read_units() / n,
    );
}
