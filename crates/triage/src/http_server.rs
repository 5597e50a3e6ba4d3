//! The accept loop of `triage serve`: HTTP/1.1 over hyper, with the bounds
//! of [`Limits`] (instead of `axum::serve`, which has none of them).
//!
//! * At most `max_connections` connections are served at once. One more is
//!   answered at once with `503 Service Unavailable` (`Retry-After: 1`,
//!   `Connection: close`) and closed, without reading its request: a client
//!   over the cap learns so immediately instead of waiting.
//! * Each connection's socket closes when idle or when a request head is
//!   too slow ([`crate::conn_deadline`]); each body is read within the body
//!   timeout ([`crate::body_deadline`]).
//! * On shutdown the listener closes, idle connections close at once and
//!   requests in progress get up to [`SHUTDOWN_GRACE`] to finish.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower_service::Service;

use crate::body_deadline::read_body;
use crate::conn_deadline::{ConnPhase, DeadlineIo};
use crate::limits::Limits;

/// How long requests in progress may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Sent to a connection over the cap, before closing it.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 69\r\n\r\n\
{\"error\":\"too_many_connections\",\"message\":\"server busy; retry later\"}";

/// Serve `app` on `listener` until `shutdown` resolves, then drain.
/// `max_body_bytes` bounds every request body.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    max_body_bytes: usize,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: back off
                        // instead of spinning (peers are never logged).
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        connections.spawn(connection(
                            stream,
                            app.clone(),
                            limits,
                            max_body_bytes,
                            permit,
                            closing_rx.clone(),
                        ));
                    }
                    Err(_) => refuse(stream),
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "requests still in progress after the shutdown grace period; closing them"
        );
        connections.shutdown().await;
    }
}

/// Over the cap: say so (best effort, without waiting) and close.
fn refuse(stream: TcpStream) {
    tracing::debug!("connection refused: too many connections");
    let _ = stream.try_write(OVER_CAPACITY);
}

async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    max_body_bytes: usize,
    _permit: OwnedSemaphorePermit,
    mut closing: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let phase = ConnPhase::new(limits.idle_timeout, limits.header_timeout);
    let io = TokioIo::new(DeadlineIo::new(stream, phase.clone()));
    let service_phase = phase.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let mark = service_phase.begin();
        let mut app = app.clone();
        async move {
            let response = match read_body(req, limits.body_timeout, max_body_bytes).await {
                Ok(req) => match app.call(req).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                },
                Err(answer) => answer,
            };
            drop(mark);
            Ok::<Response<Body>, Infallible>(response)
        }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        // Head and idle deadlines are ConnPhase's (hyper's own header
        // timeout would also count the idle time between requests).
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => log_end(result),
        expired = phase.expired() => {
            // Dropping the connection closes the socket.
            tracing::debug!(?expired, "connection closed: deadline passed");
        }
        () = async {
            let _ = closing.wait_for(|closing| *closing).await;
        } => {
            conn.as_mut().graceful_shutdown();
            log_end(conn.await);
        }
    }
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        // Timeouts, resets, malformed requests: the client's problem.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_over_capacity_answer_is_well_formed() {
        let text = std::str::from_utf8(OVER_CAPACITY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }
}
