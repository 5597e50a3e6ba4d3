//! `triage serve`: the webhook endpoint, the queue and the worker on one
//! machine, with the same handlers as the Lambdas.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::Deserialize;
use tokio::sync::watch;
use triage_core::listing::{self, Cursor, DEFAULT_PAGE_TICKETS, MAX_PAGE_BYTES, MAX_PAGE_TICKETS};
use triage_core::ports::TicketFilter;
use triage_core::ticket::{TicketStatus, parse_priority};
use triage_ingest::IngestState;

use crate::auth::{ApiToken, TOKEN_VAR, require_token};
use crate::error::CliError;
use crate::limits::Limits;
use crate::output::Printer;
use crate::runtime::{AnyQueue, AnyTickets, LocalWorker, LoopMode, now_ms, worker_loop};

pub struct ServeParts {
    pub listen: SocketAddr,
    pub ingest: IngestState<AnyQueue>,
    pub worker: Arc<LocalWorker>,
    pub tickets: AnyTickets,
    pub printer: Arc<Printer>,
    pub limits: Limits,
    /// `TRIAGE_API_TOKEN`: required by the read API when set.
    pub token: Option<ApiToken>,
    /// The event outbox and its dispatcher (embedded store only).
    pub events: Option<crate::events::LocalEvents>,
    /// `--inbox DIR`: the watched folder of raw messages.
    pub inbox: Option<std::path::PathBuf>,
}

struct AppState {
    ingest: IngestState<AnyQueue>,
    tickets: AnyTickets,
}

#[derive(Deserialize)]
struct TicketQuery {
    queue: Option<String>,
    priority: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// `Retry-After` (seconds) on a 503 from the webhook (queue unavailable or
/// too slow): the provider retries on its own schedule; others may use it.
const WEBHOOK_RETRY_AFTER_S: &str = "5";

async fn webhook(
    State(app): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let mut reply = triage_ingest::handle(
        &app.ingest,
        &method,
        uri.path(),
        uri.query(),
        &headers,
        &body,
        now_ms(),
    )
    .await
    .into_response::<Body>();
    if reply.status() == StatusCode::SERVICE_UNAVAILABLE {
        reply.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(WEBHOOK_RETRY_AFTER_S),
        );
    }
    reply
}

async fn tickets(State(app): State<Arc<AppState>>, Query(q): Query<TicketQuery>) -> Response<Body> {
    let bad_request = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": "bad_request", "message": message})),
        )
            .into_response()
    };
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_PAGE_TICKETS,
        Some(Ok(n)) if (1..=MAX_PAGE_TICKETS).contains(&n) => n,
        Some(_) => return bad_request("limit must be a number from 1 to 1000"),
    };
    let after = match q.cursor.as_deref().map(Cursor::decode) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => return bad_request("cursor is not one this server gave out"),
    };
    // An unknown priority or status is refused, not matched against nothing.
    let priority = match q.priority.as_deref().map(parse_priority).transpose() {
        Ok(p) => p,
        Err(e) => return bad_request(&e.accepted()),
    };
    let status = match q
        .status
        .as_deref()
        .map(str::parse::<TicketStatus>)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return bad_request(&e.accepted()),
    };
    let filter = TicketFilter {
        queue: q.queue,
        priority,
        status,
        limit: None,
        after,
    };
    match listing::list_page(&app.tickets, &filter, limit, MAX_PAGE_BYTES).await {
        Ok(page) => axum::Json(page).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"error": "store_unavailable", "message": e.to_string()})),
        )
            .into_response(),
    }
}

async fn healthz(State(app): State<Arc<AppState>>) -> Response<Body> {
    let pending = app.ingest.queue.pending().await;
    axum::Json(serde_json::json!({"status": "ok", "queue_pending": pending})).into_response()
}

async fn not_found() -> Response<Body> {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"error": "not_found", "message": "no such route"})),
    )
        .into_response()
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled: `run` calls it
/// before it binds, so a signal sent as soon as "listening" is printed is
/// a clean shutdown, never the default action (the process killed).
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            let (Ok(mut term), Ok(mut int)) = (term, int) else {
                // No handler could be installed: fall back to Ctrl-C alone.
                let _ = tokio::signal::ctrl_c().await;
                return;
            };
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn run(parts: ServeParts) -> Result<(), CliError> {
    let shutdown = shutdown_signal();
    let limit = parts.ingest.policy.max_body_bytes.saturating_add(1);
    // The worker's queue waits as usual; the webhook's answers in time.
    let queue = parts.ingest.queue.clone();
    let ingest = IngestState {
        queue: parts
            .ingest
            .queue
            .with_enqueue_deadline(parts.limits.enqueue_deadline),
        ..parts.ingest
    };
    // Routes are fixed at start; a provider whose secret is filled later
    // is served after a restart (its route answers 404 until then).
    let routes: Vec<&'static str> = ingest
        .endpoints
        .snapshot()
        .endpoints
        .iter()
        .map(|e| e.provider.route())
        .collect();
    let app_state = Arc::new(AppState {
        ingest,
        tickets: parts.tickets,
    });
    // The read API: behind TRIAGE_API_TOKEN when it is set.
    let read_api = Router::new()
        .route("/tickets", get(tickets))
        .route_layer(from_fn_with_state(parts.token.clone(), require_token));
    // One route per provider served; the handler picks the provider.
    let app = routes
        .iter()
        .fold(Router::new(), |r, route| r.route(route, any(webhook)))
        .route("/healthz", get(healthz))
        .merge(read_api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app_state);
    let listener = tokio::net::TcpListener::bind(parts.listen)
        .await
        .map_err(|source| CliError::Listen {
            addr: parts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(CliError::ListenAddress)?;
    let webhooks: Vec<String> = routes.iter().map(|r| format!("http://{addr}{r}")).collect();
    eprintln!(
        "triage: listening on http://{addr}  (webhooks: {}, tickets: http://{addr}/tickets)",
        webhooks.join(" ")
    );
    if parts.token.is_none() && !addr.ip().is_loopback() {
        eprintln!(
            "triage: warning: listening beyond this machine without {TOKEN_VAR}: anyone who can reach {addr} can read GET /tickets; set {TOKEN_VAR} or listen on 127.0.0.1"
        );
    }

    let events = parts.events.map(Arc::new);
    match &events {
        Some(e) if e.destination_names().is_empty() => eprintln!(
            "triage: events: no destinations in the rules file; ticket events are written to the outbox and settled (README: Routing ticket events)"
        ),
        Some(e) => eprintln!(
            "triage: events: delivering to {}",
            e.destination_names().join(", ")
        ),
        None => eprintln!(
            "triage: events: tickets are in DynamoDB; their events leave through the table's stream (the dispatch Lambda), not this process"
        ),
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let dispatcher = events
        .clone()
        .map(|e| tokio::spawn(e.run(parts.printer.clone(), stop_rx.clone())));
    let inbox = parts.inbox.map(|dir| {
        eprintln!(
            "triage: inbox: drop raw messages (*.eml) into {}; they are kept in its accepted/ folder",
            dir.display()
        );
        tokio::spawn(crate::inbox_dir::watch(dir, queue.clone(), stop_rx.clone()))
    });
    let worker = tokio::spawn(worker_loop(
        parts.worker,
        queue.clone(),
        parts.printer,
        stop_rx,
        LoopMode::UntilShutdown,
        None,
    ));
    crate::http_server::serve(listener, app, parts.limits, limit, shutdown).await;
    eprintln!("triage: shutting down; draining the queue (what is left stays queued on disk)");
    let _ = stop_tx.send(true);
    if let Some(i) = inbox {
        let _ = i.await;
    }
    let _ = worker.await;
    if let Some(d) = dispatcher {
        let _ = d.await;
    }
    let left = queue.pending().await;
    eprintln!("triage: stopped; {left} message(s) left queued for the next start");
    if let Some(e) = &events {
        let (pending, dead) = e.counts().await;
        if pending + dead > 0 {
            eprintln!(
                "triage: events: {pending} waiting for the next start, {dead} dead (triage dlq inspect --events)"
            );
        }
    }
    Ok(())
}
