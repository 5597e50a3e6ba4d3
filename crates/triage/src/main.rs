//! `triage`: inbox-triage on one machine.
//!
//! The same ingest and worker handlers as the Lambdas, with an embedded
//! SQLite store and durable queue by default, or DynamoDB and SQS.

mod app;
mod auth;
mod body_deadline;
mod classify;
mod conn_deadline;
mod dlq;
mod dlq_events;
mod error;
mod events;
mod http_server;
mod inbox_dir;
mod input;
mod limits;
mod logfmt;
mod memqueue;
mod output;
mod reconcile;
mod replay;
mod rules_diff;
mod rules_eval;
mod runtime;
mod serve;
mod stats;
mod tickets;
mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use triage_core::ticket::{Priority, TicketStatus};
use triage_ingest::IngestState;
use triage_secrets::SecretResolver;
use triage_worker::Worker;

use crate::error::CliError;
use crate::output::Printer;
use crate::runtime::{QueueKind, StoreKind};

#[derive(Parser)]
#[command(
    name = "triage",
    version,
    about = "Turn a shared support inbox into routed, deduplicated tickets, on one machine.",
    long_about = "Runs the inbox-triage pipeline locally: the webhook endpoint, the queue and the \
                  worker, with the same handlers as the AWS Lambdas. Tickets live in an embedded \
                  SQLite file unless --store dynamodb / --queue sqs point it at AWS or moto.\n\n\
                  Configuration comes from the environment or a .env file in the current directory.",
    after_help = "Examples:\n  triage                      # same as `triage serve`\n  triage replay events/nylas/ # feed the sample notifications through the pipeline\n  triage classify fixtures/email/normal --json\n  triage tickets --ticket-queue billing"
)]
struct Cli {
    /// The embedded SQLite database (tickets, dedupe records, local queue).
    #[arg(
        long,
        global = true,
        env = "TRIAGE_DB",
        default_value = ".triage/triage.db"
    )]
    db: PathBuf,
    /// Where tickets and dedupe records live.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "TRIAGE_STORE",
        default_value = "sqlite"
    )]
    store: StoreKind,
    /// Where notifications are queued between ingest and the worker.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "TRIAGE_QUEUE",
        default_value = "local"
    )]
    queue: QueueKind,
    /// A TOML rules file (default: the compiled-in rules, or RULES_FILE).
    #[arg(long, global = true)]
    rules: Option<PathBuf>,
    /// Print one JSON object per line instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the webhook endpoint and run the worker (the default).
    #[command(
        after_help = "Examples:\n  triage serve\n  triage serve --listen 127.0.0.1:8080 --json\n  curl -X POST http://127.0.0.1:3000/webhooks/nylas \\\n    -H \"X-Nylas-Signature: $(jq -r '.headers[\"x-nylas-signature\"]' events/apigw-message-created.json)\" \\\n    --data-binary \"$(jq -r .body events/apigw-message-created.json)\""
    )]
    Serve {
        /// Address to listen on.
        #[arg(long, env = "TRIAGE_LISTEN", default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// Print only the startup and shutdown lines, not one line per outcome.
        #[arg(long)]
        quiet: bool,
        /// Watch this folder for raw messages (`*.eml`): each becomes a
        /// ticket through the Amazon SES receiving path, without AWS.
        #[arg(long, env = "TRIAGE_INBOX_DIR", value_name = "DIR")]
        inbox: Option<PathBuf>,
    },
    /// Feed notification JSON, API Gateway event files, SQS event files or .eml files through the pipeline.
    #[command(
        after_help = "Examples:\n  triage replay events/nylas/\n  triage replay fixtures/email/normal/text-only.eml\n  triage replay --quiet big-dir/"
    )]
    Replay {
        /// Files or directories (every .json and .eml in them).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print only the summary table.
        #[arg(long)]
        quiet: bool,
    },
    /// Dry run: print the decision for each message, touching no store.
    #[command(
        after_help = "Examples:\n  triage classify fixtures/email/bounce/\n  triage classify --json events/nylas/message.created.json"
    )]
    Classify {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List tickets.
    #[command(after_help = "Examples:\n  triage tickets\n  triage tickets --priority high --json")]
    Tickets {
        /// Only tickets routed to this queue (`--queue` is the notification
        /// queue's kind: local, sqs or memory).
        #[arg(long = "ticket-queue", value_name = "QUEUE")]
        ticket_queue: Option<String>,
        /// Only tickets of this priority.
        #[arg(long, ignore_case = true, value_parser = tickets::priority_arg())]
        priority: Option<Priority>,
        /// Only tickets in this status.
        #[arg(long, ignore_case = true, value_parser = tickets::status_arg())]
        status: Option<TicketStatus>,
        /// At most this many, newest first (0: all).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Register the Nylas webhook, list destinations, send a test event, rotate the secret.
    #[command(
        after_help = "Examples:\n  triage webhooks register --url https://abc.execute-api.us-east-1.amazonaws.com/webhooks/nylas\n  triage webhooks list\n  triage webhooks rotate --id <webhook id>\n  triage webhooks rotate --finish"
    )]
    Webhooks {
        #[command(subcommand)]
        command: webhooks::WebhooksCommand,
    },
    /// Check a rules file against messages before using it.
    #[command(
        after_help = "Examples:\n  triage rules diff --rules new-rules.toml fixtures/email/normal/\n  triage --json rules diff --rules new-rules.toml events/nylas/"
    )]
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// The pipeline's KPIs from the embedded store: received vs triaged per mailbox, duplicates, dead letters.
    #[command(
        long_about = "Reads the embedded store and prints, per mailbox (grant), what reached the \
                      pipeline (received) against what the worker finished (triaged), tickets, \
                      skips, what is still queued or dead-lettered, and the gap; then duplicate \
                      tickets per 1,000 messages (an idempotency violation: must be 0; the exit \
                      status is non-zero otherwise), the message-date-to-ticket spread, dead \
                      letters with their most common reasons, and dead events.",
        after_help = "Examples:\n  triage stats\n  triage stats --json"
    )]
    Stats,
    /// Find mail whose notification never arrived: queue what the provider has and the pipeline never saw.
    #[command(
        long_about = "Asks Nylas which messages each grant received since the last run (a cursor per \
                      grant in the store, less 10 minutes of overlap; 2 hours back on the first \
                      run; or --since) and queues the ones with no idempotency record as \
                      reference envelopes, which the worker (`triage serve`) fetches and triages \
                      like any notification. Also reports webhooks Nylas marks failing, failed \
                      or paused. Needs NYLAS_API_KEY (or NYLAS_API_KEY_ARN); NYLAS_API_URI picks \
                      the region.",
        after_help = "Examples:\n  triage reconcile\n  triage reconcile --since 2h --dry-run\n  triage reconcile --grant 3f2a... --json\n  triage reconcile --reactivate"
    )]
    Reconcile {
        #[command(flatten)]
        args: reconcile::ReconcileArgs,
    },
    /// Inspect the dead-letter queue (never bodies) and redrive it to the main queue.
    #[command(
        after_help = "Examples:\n  triage dlq inspect\n  triage --queue sqs dlq inspect --dlq-url \"$DLQ_URL\"\n  triage --queue sqs dlq redrive --dry-run"
    )]
    Dlq {
        #[command(subcommand)]
        command: dlq::DlqCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Which messages a proposed rules file (--rules) would decide differently from the rules in use, and why.
    #[command(
        long_about = "Decides every message of the inputs twice, touching no store: with the rules in \
                      use (RULES_FILE or RULES_TOML from the environment, else the compiled-in \
                      default) and with the proposed file given as --rules. Prints only the \
                      messages whose category, queue, priority or skip decision would change, \
                      with the rules and keywords behind both decisions, then a count. Reads the \
                      same inputs as `triage classify`. Exits non-zero when an input cannot be \
                      read, or when --rules is missing or invalid.",
        after_help = "Examples:\n  triage rules diff --rules new-rules.toml fixtures/email/normal/\n  triage --json rules diff --rules new-rules.toml events/nylas/ events/inbound/"
    )]
    Diff {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Precision and recall per category on a labelled set, for the rules in use (or --rules) and the cookbook's keyword rule.
    #[command(
        long_about = "Classifies every message of a labelled set (JSON Lines: subject, body, \
                      category, optional language and type) with the rules in use (--rules, \
                      else RULES_FILE / RULES_TOML, else the compiled-in default) and with the \
                      Nylas cookbook's substring rule, and prints precision and recall per \
                      category for both, the accuracy, the share of incident and problem \
                      messages given any category but general, and how often the detected \
                      language matched the label. Touches no store. Exits non-zero when the set \
                      cannot be read or a line is not a labelled message.",
        after_help = "Examples:\n  triage rules eval eval/support-mail.jsonl\n  triage --json rules eval --rules new-rules.toml eval/support-mail.jsonl"
    )]
    Eval {
        /// The labelled set (JSON Lines).
        set: PathBuf,
        /// Also list the messages the rules got wrong: id, label, decision and the rules' evidence.
        #[arg(long)]
        misses: bool,
    },
}

fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: piped logs stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.fmt_fields(logfmt::EscapedFields::default()).init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is fine; a broken one is reported.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: .env: {e}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    init_tracing(cli.json);
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let command = cli.command.unwrap_or(Command::Serve {
        listen: std::env::var("TRIAGE_LISTEN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000))),
        quiet: false,
        inbox: std::env::var_os("TRIAGE_INBOX_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
    });
    match command {
        Command::Classify { paths } => {
            let settings = app::processing()?.settings;
            let rules = app::rules(cli.rules.as_deref())?;
            let unreadable = classify::run(&paths, &rules, &settings.support_addresses, cli.json)?;
            Ok(if unreadable == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Tickets {
            ticket_queue,
            priority,
            status,
            limit,
        } => {
            let db = runtime::open_db(&cli.db, cli.store == StoreKind::Sqlite)?;
            let (_, store) = runtime::stores(cli.store, db.as_ref()).await?;
            let query = tickets::Query {
                queue: ticket_queue,
                priority,
                status,
                limit: (limit > 0).then_some(limit),
            };
            tickets::run(&store, query, cli.json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            listen,
            quiet,
            inbox,
        } => {
            let limits = limits::Limits::from_env()?;
            let token = auth::ApiToken::from_env()?;
            let printer = Arc::new(Printer::new(cli.json, quiet));
            let rules = app::rules(cli.rules.as_deref())?;
            let (ingest, worker, tickets, events) =
                build(&cli.db, cli.store, cli.queue, rules, true, inbox.as_deref()).await?;
            serve::run(serve::ServeParts {
                listen,
                ingest,
                worker,
                tickets,
                printer,
                limits,
                token,
                events,
                inbox,
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { paths, quiet } => {
            let printer = Arc::new(Printer::new(cli.json, quiet));
            let rules = app::rules(cli.rules.as_deref())?;
            let (ingest, worker, _, _) =
                build(&cli.db, cli.store, cli.queue, rules, false, None).await?;
            let fed = replay::run(&paths, ingest, worker, printer.clone()).await?;
            let dead = printer.dead_lettered();
            eprintln!(
                "\nqueued {}  refused {}  unreadable {}  dead-lettered {}\n{}",
                fed.queued,
                fed.refused,
                fed.unreadable,
                dead,
                printer.summary()
            );
            if dead > 0 {
                eprintln!("replay: dead-lettered {dead} (see triage dlq inspect)");
            }
            if fed.refused + fed.unreadable > 0 {
                eprintln!(
                    "replay: refused {}, unreadable {} (reasons above)",
                    fed.refused, fed.unreadable
                );
            }
            Ok(if fed.unreadable + fed.refused + dead == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Webhooks { command } => webhooks::run(command, cli.json).await,
        Command::Dlq { command } => dlq::run(command, cli.queue, &cli.db, cli.json).await,
        Command::Stats => stats::run(&cli.db, cli.store, cli.json).await,
        Command::Rules {
            command: RulesCommand::Diff { paths },
        } => {
            let proposed_path = cli.rules.as_deref().ok_or(CliError::Usage(
                "rules diff compares a proposed rules file: give it with --rules FILE",
            ))?;
            let current = app::rules(None)?;
            let proposed = app::rules(Some(proposed_path))?;
            let settings = app::processing()?.settings;
            let counts = rules_diff::run(
                &paths,
                &current,
                &proposed,
                &settings.support_addresses,
                cli.json,
            )?;
            Ok(if counts.unreadable == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Rules {
            command: RulesCommand::Eval { set, misses },
        } => {
            let rules = app::rules(cli.rules.as_deref())?;
            let eval = rules_eval::evaluate(&set, &rules)?;
            if misses {
                rules_eval::print_misses(&eval, cli.json);
            }
            rules_eval::print(&eval, cli.json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile { args } => {
            reconcile::run(args, &cli.db, cli.store, cli.queue, cli.json).await
        }
    }
}

async fn build(
    db_path: &std::path::Path,
    store: StoreKind,
    queue: QueueKind,
    rules: triage_core::classify::Rules,
    dispatch_events: bool,
    inbox: Option<&std::path::Path>,
) -> Result<
    (
        IngestState<runtime::AnyQueue>,
        Arc<runtime::LocalWorker>,
        runtime::AnyTickets,
        Option<events::LocalEvents>,
    ),
    CliError,
> {
    let queue_kind = queue;
    let needs_db = store == StoreKind::Sqlite || queue == QueueKind::Local;
    let db = runtime::open_db(db_path, needs_db)?;
    let (idempotency, tickets, ledger) = runtime::stores_and_ledger(store, db.as_ref()).await?;
    if queue == QueueKind::Memory {
        eprintln!(
            "triage: --queue memory: notifications are queued in this process only; a 200 is not durable (load tests and demos)"
        );
    }
    let queue = runtime::queue(queue, db.as_ref()).await?;
    let resolver = SecretResolver::new();
    let (endpoints, composed) = app::endpoints().await?;
    for name in &composed.on_test_secret {
        let variable = triage_ingest::compose::PROVIDER_SECRETS
            .iter()
            .find(|p| p.provider.name() == *name)
            .map_or("its secret", |p| p.variable);
        eprintln!(
            "triage: {variable} is not set: {name} deliveries signed with the documented test secret are accepted (events/README.md)"
        );
    }
    let processing = app::processing()?;
    let source = app::source(&processing, &resolver).await?;
    if source.is_none() {
        eprintln!(
            "triage: NYLAS_API_KEY is not set: fetching is off, messages are classified from the notification alone"
        );
    }
    // Only `serve` delivers events; other commands leave them in the outbox.
    let events = if dispatch_events {
        events::LocalEvents::compose(
            db.as_ref(),
            store == StoreKind::Sqlite,
            rules.routing(),
            &resolver,
        )
        .await?
    } else {
        None
    };
    let acks =
        triage_worker::compose::acknowledgements(&rules, &processing, &resolver, ledger, None)
            .await
            .map_err(app::AppError::from)?;
    if acks.policy.enabled {
        eprintln!(
            "triage: acknowledgements are on: new tickets get one reply (at most {} per sender per day; Nylas grants through the API, other providers through SES from ACK_FROM_ADDRESS)",
            acks.policy.per_sender_per_day
        );
    }
    let worker = Arc::new(
        Worker::new(
            idempotency,
            tickets.clone(),
            source,
            rules,
            processing.settings,
        )
        .with_acknowledgements(acks)
        .with_raw_mail(inbox.map(inbox_dir::FolderRawMail::new)),
    );
    let ingest = IngestState {
        policy: app::ingest_policy(queue_kind)?,
        endpoints,
        queue,
    };
    Ok((ingest, worker, tickets, events))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap's own consistency checks over every subcommand (duplicate ids,
    /// a global flag colliding with a subcommand's, bad defaults).
    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `debug_assert` does not see a global flag whose id a subcommand
    /// reuses with another type (`--queue` on `tickets` aborted every
    /// invocation): parse every documented form.
    #[test]
    fn every_documented_invocation_parses() {
        use clap::Parser;
        let forms: &[&[&str]] = &[
            &["triage"],
            &["triage", "serve", "--listen", "127.0.0.1:8080", "--json"],
            &["triage", "serve", "--store", "dynamodb", "--queue", "sqs"],
            &["triage", "--queue", "memory", "serve", "--quiet"],
            &["triage", "replay", "events/", "--quiet"],
            &["triage", "classify", "--json", "fixtures/email/bounce/"],
            &["triage", "tickets"],
            &["triage", "tickets", "--ticket-queue", "billing"],
            &[
                "triage",
                "tickets",
                "--priority",
                "high",
                "--status",
                "new",
                "--limit",
                "0",
            ],
            &[
                "triage",
                "--queue",
                "local",
                "tickets",
                "--ticket-queue",
                "billing",
                "--json",
            ],
            &["triage", "dlq", "inspect"],
            &["triage", "--queue", "sqs", "dlq", "redrive", "--dry-run"],
            &["triage", "webhooks", "list"],
        ];
        for argv in forms {
            if let Err(e) = Cli::try_parse_from(*argv) {
                panic!("{argv:?}: {e}");
            }
        }
    }
}
