//! The ingest HTTP handler: one route per configured provider
//! (`/webhooks/nylas`, `/webhooks/inbound`), each answering `POST`
//! deliveries and, where the provider has one, a `GET` handshake. Generic
//! over the queue; no AWS types and no provider details here.

use std::time::Instant;
pub use triage_clock::now_ms;

use http::{HeaderMap, Method, Response, StatusCode, header};
use triage_core::ingest::{IngestPolicy, Prepared, check_challenge, prepare};
use triage_core::logsafe::Escaped;
use triage_core::ports::NotificationQueue;
use triage_core::provider::{Delivery, Provider, ProviderKeys};

use crate::keyring::{Keyring, Snapshot};

/// One provider served on its route, with its keys.
pub struct Endpoint {
    pub provider: &'static dyn Provider,
    pub keys: ProviderKeys,
}

/// What the handler needs, built once at init.
pub struct IngestState<Q> {
    pub policy: IngestPolicy,
    /// The providers served, with their keys, read again while running; a
    /// route of a provider not served is a 404.
    pub endpoints: Keyring,
    pub queue: Q,
}

/// An HTTP answer, independent of the server (Lambda or local).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// `Allow` header for 405 answers.
    pub allow: Option<&'static str>,
    /// Notifications this answer put on the queue (0 unless accepted).
    pub queued: usize,
}

impl Reply {
    fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.to_string(),
            allow: None,
            queued: 0,
        }
    }

    fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(
            status,
            serde_json::json!({ "error": code, "message": message }),
        )
    }

    /// Convert to an `http::Response` for any body type built from a String.
    pub fn into_response<B: From<String>>(self) -> Response<B> {
        let mut builder = Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header(header::CONTENT_TYPE, self.content_type)
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(header::CACHE_CONTROL, "no-store");
        if let Some(allow) = self.allow {
            builder = builder.header(header::ALLOW, allow);
        }
        let body = B::from(self.body);
        match builder.body(body) {
            Ok(r) => r,
            // Every header above is a valid static value; this cannot happen.
            Err(_) => Response::new(B::from(String::new())),
        }
    }
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Handle one request. `received_at_ms` is now, unix milliseconds.
pub async fn handle<Q: NotificationQueue>(
    state: &IngestState<Q>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    received_at_ms: i64,
) -> Reply {
    let started = Instant::now();
    let snapshot = state.endpoints.current(received_at_ms).await;
    let Some(endpoint) = snapshot.endpoint(path) else {
        return Reply::error(404, "not_found", "no such route");
    };
    let challenge_param = endpoint.provider.challenge_param();
    match (method, challenge_param) {
        (&Method::POST, _) => {
            post(
                state,
                &snapshot,
                endpoint,
                path,
                headers,
                body,
                received_at_ms,
                started,
            )
            .await
        }
        (&Method::GET, Some(param)) => challenge(query, param),
        (_, Some(_)) => Reply {
            allow: Some("GET, POST"),
            ..Reply::error(405, "method_not_allowed", "use GET (challenge) or POST")
        },
        (_, None) => Reply {
            allow: Some("POST"),
            ..Reply::error(405, "method_not_allowed", "use POST")
        },
    }
}

fn challenge(query: Option<&str>, param: &str) -> Reply {
    let value = query_param(query, param);
    match check_challenge(value.as_deref()) {
        Ok(v) => {
            tracing::info!(
                outcome = "challenge",
                status = 200,
                len = v.len(),
                "answered challenge"
            );
            Reply {
                status: 200,
                content_type: "text/plain",
                body: v.to_string(),
                allow: None,
                queued: 0,
            }
        }
        Err(e) => {
            tracing::warn!(outcome = "challenge_refused", status = 400, reason = %e, "refused challenge");
            Reply::error(400, "bad_challenge", &e.to_string())
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn post<Q: NotificationQueue>(
    state: &IngestState<Q>,
    snapshot: &Snapshot,
    endpoint: &Endpoint,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    received_at_ms: i64,
    started: Instant,
) -> Reply {
    let provider = endpoint.provider.name();
    // `HeaderMap` lookups by a lower-case `&str` are case-insensitive.
    let header = |name: &str| headers.get(name).map(|v| v.as_bytes());
    let delivery = Delivery::new(&header, body, received_at_ms);
    let mut prepared = prepare(endpoint.provider, &endpoint.keys, &state.policy, &delivery);
    if matches!(&prepared, Err(e) if e.status() == 401) {
        // The secret may have been rotated since it was read: read it again
        // (rate-limited) and verify once more with what was read.
        if let Some(newer) = state
            .endpoints
            .after_rejection(snapshot, received_at_ms)
            .await
            && let Some(endpoint) = newer.endpoint(path)
        {
            prepared = prepare(endpoint.provider, &endpoint.keys, &state.policy, &delivery);
        }
    }
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            let status = e.status();
            if status == 401 {
                metrics::counter!("SignatureRejected").increment(1);
            } else {
                metrics::counter!("Rejected", "Reason" => e.code()).increment(1);
            }
            tracing::warn!(
                outcome = "refused",
                provider,
                status,
                reason = e.code(),
                body_bytes = body.len(),
                duration_us = micros(started),
                "refused delivery"
            );
            return Reply::error(status, e.code(), &e.to_string());
        }
    };
    log_items(&prepared);
    let queued = prepared.messages.len();
    if queued == 0 {
        tracing::info!(
            outcome = "ignored",
            status = 200,
            items = prepared.items.len(),
            duration_us = micros(started),
            "nothing to queue"
        );
        return Reply::json(200, serde_json::json!({ "status": "ignored", "queued": 0 }));
    }
    let enqueue_started = Instant::now();
    let sent = state.queue.send_all(&prepared.messages).await;
    metrics::histogram!("EnqueueLatencyMs")
        .record(enqueue_started.elapsed().as_secs_f64() * 1000.0);
    match sent {
        Ok(()) => {
            metrics::counter!("NotificationsQueued").increment(queued as u64);
            record_kpis(&prepared, received_at_ms);
            tracing::info!(
                outcome = "accepted",
                provider,
                status = 200,
                queued,
                enqueue_us = micros(enqueue_started),
                duration_us = micros(started),
                "queued delivery"
            );
            Reply {
                queued,
                ..Reply::json(
                    200,
                    serde_json::json!({ "status": "accepted", "queued": queued }),
                )
            }
        }
        Err(e) => {
            metrics::counter!("EnqueueFailed").increment(1);
            tracing::error!(
                outcome = "queue_failed",
                status = 503,
                error = %e,
                queued = 0,
                duration_us = micros(started),
                "could not queue delivery; provider will retry"
            );
            Reply::error(
                503,
                "queue_unavailable",
                "could not queue the notification; retry later",
            )
        }
    }
}

fn log_items(p: &Prepared) {
    for item in &p.items {
        tracing::info!(
            notification_id = %Escaped(&item.notification_id),
            r#type = %Escaped(&item.type_raw),
            grant_id = %Escaped(item.grant_id.as_deref().unwrap_or("")),
            message_id = %Escaped(item.message_id.as_deref().unwrap_or("")),
            decision = item.decision.as_str(),
            "notification"
        );
    }
}

/// The ingest half of the KPIs (`core::kpi`), for what is now queued:
/// `MailboxReceived` per grant (the worker counts `MailboxTriaged`: the
/// two make the ledger) and `WebhookLatencyMs` (provider time to ingest).
fn record_kpis(p: &Prepared, received_at_ms: i64) {
    for item in p.items.iter().filter(|i| i.decision.queued()) {
        let grant = item.grant_id.clone().unwrap_or_default();
        metrics::counter!("MailboxReceived", "Grant" => grant).increment(1);
        if let Some(ms) = triage_core::kpi::webhook_latency_ms(item.provider_time_s, received_at_ms)
        {
            metrics::histogram!("WebhookLatencyMs").record(ms as f64);
        }
    }
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The Lambda entry: API Gateway HTTP API (payload v2) via lambda_http,
/// which has already base64-decoded `isBase64Encoded` bodies.
pub async fn lambda_handler<Q: NotificationQueue>(
    state: &IngestState<Q>,
    req: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error> {
    Ok(handle_request(state, req).await.into_response())
}

/// [`handle`] for a whole API Gateway request (Lambda, `triage replay`).
pub async fn handle_request<Q: NotificationQueue>(
    state: &IngestState<Q>,
    req: lambda_http::Request,
) -> Reply {
    let (parts, body) = req.into_parts();
    handle(
        state,
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        body.as_ref(),
        now_ms(),
    )
    .await
}
