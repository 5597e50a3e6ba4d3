//! Webhook administration over the Nylas v3 API (operator tooling, not the
//! request path): create a webhook destination, list them, rotate a
//! destination's secret, and ask Nylas to send a test event.
//!
//! - `create_webhook`: `POST /v3/webhooks` with `trigger_types`,
//!   `webhook_url`, `description` and (when given)
//!   `notification_email_addresses`. Nylas checks the URL with a
//!   `GET <url>?challenge=...` before it answers, so the endpoint must be up.
//! - `list_webhooks`: `GET /v3/webhooks` (every page, when the answer carries
//!   a `next_cursor`).
//! - `rotate_secret`: `POST /v3/webhooks/rotate-secret/{id}`; the previous
//!   secret stops being used at once.
//! - `send_test_event`: `POST /v3/webhooks/send-test-event` with
//!   `trigger_type` and `webhook_url`. Nylas signs test events with the
//!   documented `mock-webhook-secret`, not the destination's secret.
//!
//! Same HTTP client as [`NylasClient`] (rustls, auth header, no redirects,
//! capped bodies) and the same retry timing (`Retry-After`, jittered
//! backoff). Creating is not idempotent: it is retried only when the request
//! certainly was not processed (408, 429, connection refused); any other
//! failure is [`AdminError::CreateUnconfirmed`], so a retry never makes a
//! second destination with a second secret. Secrets are held in
//! [`WebhookSecret`], whose `Debug` is redacted; nothing here logs them.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::{Deserialize, Serialize};

use crate::client::{
    Answer, AttemptError, Ctx, Ended, NylasClient, Retryable, check_segment, classify_transport,
    encode_component, parse_json, read_answer, status_error, with_retries,
};
use crate::config::NylasConfig;
use crate::error::NylasError;

/// Budget of one admin call, every attempt and wait included.
pub const DEFAULT_ADMIN_BUDGET: Duration = Duration::from_secs(60);

/// A sensible per-attempt timeout for admin calls: creating a destination
/// waits for Nylas' challenge round trip to the endpoint (up to 10 s).
pub const ADMIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The `description` given to destinations this tool creates.
pub const WEBHOOK_DESCRIPTION: &str = "inbox-triage";

/// Most pages read when listing destinations.
const MAX_LIST_PAGES: u32 = 20;

/// A webhook secret (the HMAC key of `X-Nylas-Signature`). `Debug` is
/// redacted and there is no `Display`: read it with [`WebhookSecret::expose`]
/// only to store it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        WebhookSecret(value.into())
    }

    /// The secret itself. Never log or print it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret itself, by value. Never log or print it.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// A destination just created. `Debug` shows the id and status only.
#[derive(Debug, Clone)]
pub struct CreatedWebhook {
    pub id: String,
    /// Given by Nylas once, at creation (and at each rotation).
    pub webhook_secret: WebhookSecret,
    /// `active`, `failing`, `failed`, `pause`..., when the answer carried it.
    pub status: Option<String>,
}

/// A destination as listed (no secret: listings do not carry one, and any
/// that did would be ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookInfo {
    pub id: String,
    pub webhook_url: String,
    pub status: Option<String>,
    pub trigger_types: Vec<String>,
}

/// What Nylas said about a test event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestEventOutcome {
    pub request_id: Option<String>,
    /// `data` of the answer when it is a string (the documented "succeeded or
    /// failed" indication); `None` when absent or not a string.
    pub result: Option<String>,
}

/// Failures of the admin calls.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Rejected (4xx), malformed answer, gave up after retries, bad argument...
    #[error(transparent)]
    Nylas(#[from] NylasError),

    /// A create request failed in a way that does not tell whether Nylas
    /// processed it (timeout, 5xx, connection lost after sending). Not
    /// retried: a second create would make a second destination.
    #[error(
        "Nylas did not confirm the webhook creation (attempt {attempts}, {last}); it may exist \
         anyway, so it was not retried: list the webhooks before trying again"
    )]
    CreateUnconfirmed { attempts: u32, last: String },
}

impl AdminError {
    /// HTTP status of a rejection or of the last retried failure, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            AdminError::Nylas(NylasError::Rejected { status, .. }) => Some(*status),
            AdminError::Nylas(NylasError::GaveUp { last_status, .. }) => *last_status,
            _ => None,
        }
    }
}

/// Whether a request may be sent again after an ambiguous failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Repeating it has no extra effect (GET, rotate, test event).
    Safe,
    /// Repeat only when it certainly was not processed (create).
    OnlyIfUnprocessed,
}

impl Replay {
    fn allows(self, failure: &Retryable) -> bool {
        match self {
            Replay::Safe => true,
            Replay::OnlyIfUnprocessed => match failure {
                Retryable::Status { status, .. } => matches!(status, 408 | 429),
                Retryable::Connect(_) => true,
                Retryable::Timeout | Retryable::Transport(_) => false,
            },
        }
    }
}

/// One request to make, as many times as needed.
struct Call<'a> {
    op: &'static str,
    /// Destination id for logs, or empty.
    item: &'a str,
    method: Method,
    url: String,
    /// JSON body; `None` sends an empty body (POST) or none (GET).
    body: Option<Vec<u8>>,
    replay: Replay,
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    request_id: Option<String>,
    data: T,
}

/// `data` of create and rotate answers. No `Debug`: it holds the secret.
#[derive(Deserialize)]
struct DestinationWithSecret {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    webhook_secret: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    data: Vec<ListItem>,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct ListItem {
    id: String,
    #[serde(default, alias = "callback_url")]
    webhook_url: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    trigger_types: Vec<String>,
}

#[derive(Deserialize)]
struct TestEventAnswer {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct CreateBody<'a> {
    trigger_types: &'a [String],
    webhook_url: &'a str,
    description: &'static str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notification_email_addresses: &'a [String],
}

#[derive(Serialize)]
struct TestEventBody<'a> {
    trigger_type: &'a str,
    webhook_url: &'a str,
}

/// Client of the Nylas webhook administration endpoints. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookAdmin {
    client: NylasClient,
    budget: Duration,
}

impl WebhookAdmin {
    /// Builds the HTTP client as [`NylasClient::new`] does (same checks).
    /// Consider `request_timeout: ADMIN_REQUEST_TIMEOUT`: creation waits for
    /// the challenge round trip.
    pub fn new(config: NylasConfig) -> Result<Self, NylasError> {
        Ok(Self::from_client(NylasClient::new(config)?))
    }

    /// Shares an existing client's connection pool and settings.
    pub fn from_client(client: NylasClient) -> Self {
        WebhookAdmin {
            client,
            budget: DEFAULT_ADMIN_BUDGET,
        }
    }

    /// Bounds each call (attempts and waits) to `budget` instead of
    /// [`DEFAULT_ADMIN_BUDGET`].
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The settings the client was built with.
    pub fn config(&self) -> &NylasConfig {
        self.client.config()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.client.shared.base)
    }

    /// `POST /v3/webhooks`: a destination for `trigger_types` at `url`,
    /// health mails to `notification_emails`. Answers once Nylas has
    /// checked the endpoint with its challenge.
    pub async fn create_webhook(
        &self,
        url: &str,
        trigger_types: &[String],
        notification_emails: &[String],
    ) -> Result<CreatedWebhook, AdminError> {
        check_webhook_url(url)?;
        if trigger_types.is_empty() || trigger_types.iter().any(|t| t.trim().is_empty()) {
            return Err(invalid("trigger_types must be a non-empty list of names"));
        }
        if notification_emails
            .iter()
            .any(|e| e.trim().is_empty() || !e.contains('@'))
        {
            return Err(invalid(
                "notification_email_addresses must be email addresses",
            ));
        }
        let body = to_json(&CreateBody {
            trigger_types,
            webhook_url: url,
            description: WEBHOOK_DESCRIPTION,
            notification_email_addresses: notification_emails,
        })?;
        let answer = self
            .call(Call {
                op: "create_webhook",
                item: "",
                method: Method::POST,
                url: self.url("/v3/webhooks"),
                body: Some(body),
                replay: Replay::OnlyIfUnprocessed,
            })
            .await?;
        let parsed: Envelope<DestinationWithSecret> = parse_json(&answer, "created webhook")?;
        let id = parsed
            .data
            .id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| NylasError::Malformed("created webhook: no id".into()))?;
        let secret = secret_of(parsed.data.webhook_secret, "created webhook")?;
        tracing::info!(
            op = "create_webhook",
            webhook_id = %id,
            request_id = parsed.request_id.as_deref().unwrap_or(""),
            "webhook created"
        );
        Ok(CreatedWebhook {
            id,
            webhook_secret: secret,
            status: parsed.data.status,
        })
    }

    /// `GET /v3/webhooks`: every destination of the application.
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookInfo>, AdminError> {
        let base = self.url("/v3/webhooks");
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        for page in 1..=MAX_LIST_PAGES {
            let url = match &cursor {
                None => base.clone(),
                Some(c) => format!("{base}?page_token={}", encode_component(c)),
            };
            let answer = self
                .call(Call {
                    op: "list_webhooks",
                    item: "",
                    method: Method::GET,
                    url,
                    body: None,
                    replay: Replay::Safe,
                })
                .await?;
            let parsed: ListPage = parse_json(&answer, "webhook list")?;
            tracing::debug!(
                op = "list_webhooks",
                page,
                webhooks = parsed.data.len(),
                request_id = parsed.request_id.as_deref().unwrap_or(""),
                "webhook page fetched"
            );
            out.extend(parsed.data.into_iter().map(|w| WebhookInfo {
                id: w.id,
                webhook_url: w.webhook_url.unwrap_or_default(),
                status: w.status,
                trigger_types: w.trigger_types,
            }));
            match parsed.next_cursor.filter(|c| !c.is_empty()) {
                None => return Ok(out),
                Some(next) => {
                    if !seen.insert(next.clone()) {
                        return Err(NylasError::Malformed(
                            "webhook list repeated a next_cursor".into(),
                        )
                        .into());
                    }
                    cursor = Some(next);
                }
            }
        }
        Err(NylasError::TooManyPages {
            limit: MAX_LIST_PAGES,
        }
        .into())
    }

    /// `PUT /v3/webhooks/{id}` with `{"status": "active"}`: ask Nylas to
    /// deliver to a destination it marked `failed` again.
    pub async fn reactivate_webhook(&self, id: &str) -> Result<(), AdminError> {
        check_segment("webhook id", id)?;
        let answer = self
            .call(Call {
                op: "reactivate_webhook",
                item: id,
                method: Method::PUT,
                url: self.url(&format!("/v3/webhooks/{}", encode_component(id))),
                body: Some(br#"{"status":"active"}"#.to_vec()),
                replay: Replay::Safe,
            })
            .await?;
        let parsed: Envelope<serde_json::Value> = parse_json(&answer, "updated webhook")?;
        tracing::info!(
            op = "reactivate_webhook",
            webhook_id = id,
            request_id = parsed.request_id.as_deref().unwrap_or(""),
            "webhook reactivated"
        );
        Ok(())
    }

    /// `POST /v3/webhooks/rotate-secret/{id}`: the destination's new secret.
    /// Nylas signs with it at once and forgets the previous one.
    pub async fn rotate_secret(&self, id: &str) -> Result<WebhookSecret, AdminError> {
        check_segment("webhook id", id)?;
        let answer = self
            .call(Call {
                op: "rotate_secret",
                item: id,
                method: Method::POST,
                url: self.url(&format!(
                    "/v3/webhooks/rotate-secret/{}",
                    encode_component(id)
                )),
                body: None,
                replay: Replay::Safe,
            })
            .await?;
        let parsed: Envelope<DestinationWithSecret> = parse_json(&answer, "rotated webhook")?;
        let secret = secret_of(parsed.data.webhook_secret, "rotated webhook")?;
        tracing::info!(
            op = "rotate_secret",
            webhook_id = id,
            request_id = parsed.request_id.as_deref().unwrap_or(""),
            "webhook secret rotated"
        );
        Ok(secret)
    }

    /// `POST /v3/webhooks/send-test-event`: Nylas sends one `trigger_type`
    /// notification to `webhook_url` (signed with `mock-webhook-secret`).
    pub async fn send_test_event(
        &self,
        webhook_url: &str,
        trigger_type: &str,
    ) -> Result<TestEventOutcome, AdminError> {
        check_webhook_url(webhook_url)?;
        if trigger_type.trim().is_empty() {
            return Err(invalid("trigger_type must not be empty"));
        }
        let body = to_json(&TestEventBody {
            trigger_type,
            webhook_url,
        })?;
        let answer = self
            .call(Call {
                op: "send_test_event",
                item: "",
                method: Method::POST,
                url: self.url("/v3/webhooks/send-test-event"),
                body: Some(body),
                replay: Replay::Safe,
            })
            .await?;
        let parsed: TestEventAnswer = parse_json(&answer, "test event answer")?;
        Ok(TestEventOutcome {
            request_id: parsed.request_id,
            result: match parsed.data {
                Some(serde_json::Value::String(s)) => Some(s),
                _ => None,
            },
        })
    }

    /// Attempts a call until success, a permanent failure, the attempt
    /// limit or the budget; `replay` decides what an ambiguous failure means.
    async fn call(&self, call: Call<'_>) -> Result<Vec<u8>, AdminError> {
        let deadline = Instant::now() + self.budget;
        let ctx = Ctx {
            op: call.op,
            grant_id: "",
            item: call.item,
        };
        let replay = call.replay;
        let call = &call;
        match with_retries(
            self.client.config(),
            deadline,
            &ctx,
            |failure| replay.allows(failure),
            |timeout| self.attempt(call, timeout),
        )
        .await
        {
            Ok(body) => Ok(body),
            Err(Ended::Failed(e)) => Err(e.into()),
            Err(Ended::NotRepeated { attempts, last }) => Err(AdminError::CreateUnconfirmed {
                attempts,
                last: last.to_string(),
            }),
        }
    }

    /// One attempt: status classified, body read under the cap.
    async fn attempt(&self, call: &Call<'_>, timeout: Duration) -> Result<Vec<u8>, AttemptError> {
        let mut request = self
            .client
            .http
            .request(call.method.clone(), &call.url)
            .timeout(timeout);
        match &call.body {
            Some(body) => {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            // Stated, not implied: hyper sends no length for an empty body,
            // and some front ends answer 411 to a POST without one.
            None if call.method != Method::GET => {
                request = request.header(CONTENT_LENGTH, "0").body(Vec::new());
            }
            None => {}
        }
        let mut response = request.send().await.map_err(classify_transport)?;
        match read_answer(&mut response, self.client.config().max_body_bytes).await? {
            Answer::Body(body) => Ok(body),
            Answer::Failed {
                status,
                retry_after,
                info,
            } => Err(status_error(status, retry_after, info)),
        }
    }
}

fn invalid(message: &str) -> AdminError {
    NylasError::InvalidArgument(message.to_owned()).into()
}

fn check_webhook_url(url: &str) -> Result<(), AdminError> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => Ok(()),
        _ => Err(invalid("webhook_url must be an http(s) URL with a host")),
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, AdminError> {
    serde_json::to_vec(value)
        .map_err(|e| NylasError::InvalidArgument(format!("request body: {e}")).into())
}

fn secret_of(value: Option<String>, what: &str) -> Result<WebhookSecret, NylasError> {
    value
        .filter(|s| !s.trim().is_empty())
        .map(WebhookSecret)
        .ok_or_else(|| NylasError::Malformed(format!("{what}: no webhook_secret")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let created = CreatedWebhook {
            id: "wh1".into(),
            webhook_secret: WebhookSecret::new("s3cr3t-value"),
            status: Some("active".into()),
        };
        let shown = format!("{created:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(
            shown.contains("wh1") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert_eq!(created.webhook_secret.expose(), "s3cr3t-value");
    }

    #[test]
    fn create_is_replayed_only_when_unprocessed() {
        let status = |s| Retryable::Status {
            status: s,
            retry_after: None,
            request_id: None,
        };
        let once = Replay::OnlyIfUnprocessed;
        assert!(once.allows(&status(429)));
        assert!(once.allows(&status(408)));
        assert!(once.allows(&Retryable::Connect("refused".into())));
        assert!(!once.allows(&status(500)));
        assert!(!once.allows(&status(503)));
        assert!(!once.allows(&Retryable::Timeout));
        assert!(!once.allows(&Retryable::Transport("reset".into())));
        assert!(Replay::Safe.allows(&Retryable::Timeout));
    }

    #[test]
    fn missing_secret_is_malformed_without_content() {
        assert!(matches!(
            secret_of(None, "x"),
            Err(NylasError::Malformed(_))
        ));
        assert!(matches!(
            secret_of(Some("  ".into()), "x"),
            Err(NylasError::Malformed(_))
        ));
    }
}
