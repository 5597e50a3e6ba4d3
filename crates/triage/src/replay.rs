//! `triage replay`: feed files through the pipeline and summarise.

use std::path::PathBuf;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;
use triage_core::envelope::QueuedMessage;
use triage_core::ingest::IngestPolicy;
use triage_core::ports::NotificationQueue;
use triage_core::provider::{self, Authenticated, Provider, nylas};
use triage_ingest::IngestState;

use crate::error::CliError;
use crate::input::{Input, expand, load};
use crate::output::Printer;
use crate::runtime::{AnyQueue, LocalWorker, LoopMode, now_ms, worker_loop};

/// Counts of the feeding phase.
#[derive(Debug, Default)]
pub struct Fed {
    pub queued: u64,
    pub refused: u64,
    pub unreadable: u64,
}

/// Queue what each file holds. API Gateway events go through the ingest
/// handler (signature checked); other files are queued without one.
pub async fn feed(
    paths: &[PathBuf],
    ingest: &IngestState<AnyQueue>,
    bar: &ProgressBar,
) -> Result<Fed, CliError> {
    let files = expand(paths)?;
    bar.set_length(files.len() as u64);
    let mut fed = Fed::default();
    for path in files {
        bar.inc(1);
        let name = crate::input::shown(&path);
        let input = match load(&path) {
            Ok(i) => i,
            Err(e) => {
                bar.suspend(|| eprintln!("error: {e}"));
                fed.unreadable += 1;
                continue;
            }
        };
        let result = match input {
            Input::ApiGateway(req) => {
                let reply = triage_ingest::handle_request(ingest, *req).await;
                if reply.status == 200 {
                    Ok(reply.queued as u64)
                } else {
                    Err(format!(
                        "ingest answered {}: {}",
                        reply.status,
                        triage_core::logsafe::escape_capped(&reply.body, 300)
                    ))
                }
            }
            Input::Delivery { provider, body } => match provider::by_name(provider) {
                Some(p) => queue_delivery(p, &body, &ingest.policy, &ingest.queue).await,
                None => Err("unknown provider".to_string()),
            },
            Input::Envelopes(bodies) => {
                let msgs: Vec<QueuedMessage> = bodies
                    .into_iter()
                    .enumerate()
                    .map(|(i, body)| QueuedMessage {
                        entry_id: format!("r{i}"),
                        body,
                        attributes: Vec::new(),
                        refetch: false,
                    })
                    .collect();
                let n = msgs.len() as u64;
                ingest
                    .queue
                    .send_all(&msgs)
                    .await
                    .map(|_| n)
                    .map_err(|e| e.to_string())
            }
            Input::Message(m, format) => {
                let notification = synthetic_notification(&m, format);
                queue_delivery(
                    &nylas::Nylas,
                    notification.as_bytes(),
                    &ingest.policy,
                    &ingest.queue,
                )
                .await
            }
        };
        match result {
            Ok(n) => fed.queued += n,
            Err(e) => {
                bar.suspend(|| eprintln!("refused: {name}: {e}"));
                fed.refused += 1;
            }
        }
    }
    Ok(fed)
}

/// Queue a saved delivery body through its provider's parsing (no
/// signature: a file carries none).
async fn queue_delivery(
    provider: &dyn Provider,
    bytes: &[u8],
    policy: &IngestPolicy,
    queue: &AnyQueue,
) -> Result<u64, String> {
    let body = crate::input::decoded(bytes)?;
    let prepared = provider
        .parse(policy, &body, &Authenticated::unsigned(), now_ms())
        .map_err(|e| e.to_string())?;
    let n = prepared.messages.len() as u64;
    queue
        .send_all(&prepared.messages)
        .await
        .map(|_| n)
        .map_err(|e| e.to_string())
}

/// Wrap a message (from a `.eml` or API JSON) in a v3 notification so it
/// takes the same path as a webhook delivery.
fn synthetic_notification(m: &triage_core::Message, format: triage_core::BodyFormat) -> String {
    let mut m = m.clone();
    if m.grant_id.is_empty() {
        m.grant_id = "local".to_string();
    }
    if m.id.is_empty() {
        m.id = format!(
            "local-{}",
            short_digest(&serde_json::to_string(&m).unwrap_or_default())
        );
    }
    let ty = match format {
        triage_core::BodyFormat::Markdown => "message.created.cleaned",
        _ => "message.created",
    };
    serde_json::json!({
        "specversion": "1.0",
        "type": ty,
        "source": "/local/replay",
        "id": format!("replay-{}", m.id),
        "time": now_ms() / 1000,
        "data": {"object": m},
    })
    .to_string()
}

fn short_digest(s: &str) -> String {
    // A stable id for messages without one: the ticket id function hashes.
    triage_core::ticket::ticket_id("local", s)
        .trim_start_matches("t_")
        .to_string()
}

/// Feed the files, then run the worker until the queue is empty.
pub async fn run(
    paths: &[PathBuf],
    ingest: IngestState<AnyQueue>,
    worker: Arc<LocalWorker>,
    printer: Arc<Printer>,
) -> Result<Fed, CliError> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix("reading");
    let fed = feed(paths, &ingest, &bar).await?;
    bar.finish_and_clear();

    let work = ProgressBar::new(fed.queued);
    work.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    work.set_prefix("working");
    let tick = work.clone();
    let on_done: Arc<dyn Fn() + Send + Sync> = Arc::new(move || tick.inc(1));
    let (_stop_tx, stop_rx) = watch::channel(false);
    worker_loop(
        worker,
        ingest.queue.clone(),
        printer,
        stop_rx,
        LoopMode::UntilEmpty,
        Some(on_done),
    )
    .await;
    work.finish_and_clear();
    Ok(fed)
}
