//! Reconciliation over the Nylas v3 API: the core's
//! [`ReconcileSource`](triage_core::reconcile::ReconcileSource).
//!
//! - grants: `GET /v3/grants?limit=200&offset=N`, every page; grants whose
//!   `grant_status` is not `valid` are left out (their listing would only
//!   answer 401).
//! - received: `GET /v3/grants/{grant}/messages?received_after=S&limit=200
//!   &select=id,date` (+ `page_token`), newest first.
//! - webhooks: [`WebhookAdmin::list_webhooks`]; reactivate:
//!   [`WebhookAdmin::reactivate_webhook`].
//!
//! Every call goes through the client's retries (429 with `Retry-After`,
//! 5xx, timeouts) until the caller's deadline.

use std::time::Instant;

use serde::Deserialize;
use triage_core::ports::FetchError;
use triage_core::reconcile::{ListedMessage, Page, ReconcileSource, WebhookHealth, WebhookState};

use crate::admin::{AdminError, WebhookAdmin};
use crate::client::{Ctx, NylasClient, Success, check_segment, encode_component, parse_json};
use crate::error::NylasError;

/// Items per page (Nylas' maximum for both listings).
const PAGE_LIMIT: usize = 200;

/// Most grant pages read (200 each: 100,000 grants).
const MAX_GRANT_PAGES: usize = 500;

/// Nylas as a reconciliation source.
#[derive(Debug, Clone)]
pub struct NylasReconcile {
    client: NylasClient,
    admin: WebhookAdmin,
}

impl NylasReconcile {
    pub fn new(client: NylasClient) -> Self {
        NylasReconcile {
            admin: WebhookAdmin::from_client(client.clone()),
            client,
        }
    }

    async fn get(
        &self,
        url: &str,
        ctx: &Ctx<'_>,
        deadline: Instant,
    ) -> Result<Vec<u8>, NylasError> {
        match self.client.get_with_retries(url, ctx, deadline).await? {
            Success::Body(body) => Ok(body),
            Success::NotFound(info) => Err(info.rejected(404)),
        }
    }
}

#[derive(Deserialize)]
struct GrantPage {
    #[serde(default)]
    data: Vec<GrantItem>,
}

#[derive(Deserialize)]
struct GrantItem {
    id: String,
    #[serde(default)]
    grant_status: Option<String>,
}

#[derive(Deserialize)]
struct MessagePage {
    #[serde(default)]
    data: Vec<MessageItem>,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct MessageItem {
    id: String,
    #[serde(default)]
    date: Option<i64>,
}

fn admin_error(e: AdminError) -> FetchError {
    match e {
        AdminError::Nylas(n) => n.into(),
        other => FetchError::Permanent(other.to_string()),
    }
}

impl ReconcileSource for NylasReconcile {
    fn provider(&self) -> &'static str {
        "nylas"
    }

    fn shape(&self) -> &'static str {
        "v3"
    }

    async fn grants(&self, deadline: Instant) -> Result<Vec<String>, FetchError> {
        let mut out = Vec::new();
        for page in 0..MAX_GRANT_PAGES {
            let offset = page * PAGE_LIMIT;
            let url = format!(
                "{}/v3/grants?limit={PAGE_LIMIT}&offset={offset}",
                self.client.shared.base
            );
            let item = offset.to_string();
            let ctx = Ctx {
                op: "list_grants",
                grant_id: "",
                item: &item,
            };
            let body = self.get(&url, &ctx, deadline).await?;
            let parsed: GrantPage = parse_json(&body, "grant list")?;
            let n = parsed.data.len();
            out.extend(
                parsed
                    .data
                    .into_iter()
                    .filter(|g| g.grant_status.as_deref().is_none_or(|s| s == "valid"))
                    .map(|g| g.id)
                    .filter(|id| !id.is_empty()),
            );
            if n < PAGE_LIMIT {
                return Ok(out);
            }
        }
        Err(NylasError::TooManyPages {
            limit: MAX_GRANT_PAGES as u32,
        }
        .into())
    }

    async fn received(
        &self,
        grant: &str,
        since_s: i64,
        page: Option<&str>,
        deadline: Instant,
    ) -> Result<Page, FetchError> {
        check_segment("grant_id", grant)?;
        let mut url = format!(
            "{}/v3/grants/{}/messages?received_after={since_s}&limit={PAGE_LIMIT}&select=id,date",
            self.client.shared.base,
            encode_component(grant)
        );
        if let Some(token) = page {
            url.push_str("&page_token=");
            url.push_str(&encode_component(token));
        }
        let ctx = Ctx {
            op: "list_messages",
            grant_id: grant,
            item: page.unwrap_or(""),
        };
        let body = self.get(&url, &ctx, deadline).await?;
        let parsed: MessagePage = parse_json(&body, "message list")?;
        Ok(Page {
            messages: parsed
                .data
                .into_iter()
                .filter(|m| !m.id.is_empty())
                .map(|m| ListedMessage {
                    id: m.id,
                    received_at_s: m.date.unwrap_or(0),
                })
                .collect(),
            next: parsed.next_cursor.filter(|c| !c.is_empty()),
        })
    }

    async fn webhooks(&self, _deadline: Instant) -> Result<Vec<WebhookHealth>, FetchError> {
        let hooks = self.admin.list_webhooks().await.map_err(admin_error)?;
        Ok(hooks
            .into_iter()
            .map(|w| WebhookHealth {
                state: WebhookState::parse(w.status.as_deref().unwrap_or("")),
                id: w.id,
            })
            .collect())
    }

    async fn reactivate(&self, webhook: &str, _deadline: Instant) -> Result<(), FetchError> {
        self.admin
            .reactivate_webhook(webhook)
            .await
            .map_err(admin_error)
    }
}
