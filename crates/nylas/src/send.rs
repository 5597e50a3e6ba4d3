//! Acknowledgements through the grant that received the message (#12):
//! `POST /v3/grants/{grant}/messages/send` as a plain-text reply
//! (`reply_to_message_id`, so Nylas threads it with `In-Reply-To` and
//! `References`), with `Auto-Submitted: auto-replied` and
//! `X-Auto-Response-Suppress: All` as custom headers.
//!
//! The request carries an `Idempotency-Key` (the ticket's once-key): Nylas
//! keeps the answer to a key for an hour, so the retries of the shared
//! engine (429 with `Retry-After`, 5xx, timeouts) never send twice.
//! Nothing here logs an address, a subject or a body.

use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use serde_json::json;
use triage_core::acknowledgement::{AckSender, Acknowledgement, ReplyVia, SendError};

use crate::NylasClient;
use crate::client::Answer;
use crate::client::{
    AttemptError, Ctx, Ended, check_segment, classify_transport, encode_component, read_answer,
    status_error, with_retries,
};

/// How long one acknowledgement may take, retries included.
pub const SEND_BUDGET: Duration = Duration::from_secs(15);

/// Headers Nylas accepts as custom headers; threading headers are its own.
const CUSTOM: [&str; 2] = ["Auto-Submitted", "X-Auto-Response-Suppress"];

/// The provider name this sender answers for.
pub const PROVIDER: &str = "nylas";

impl NylasClient {
    /// Send `ack` as a reply to `message_id` from `grant_id`.
    pub async fn send_reply(
        &self,
        grant_id: &str,
        message_id: &str,
        ack: &Acknowledgement,
        deadline: Instant,
    ) -> Result<(), crate::NylasError> {
        check_segment("grant_id", grant_id)?;
        let url = format!(
            "{}/v3/grants/{}/messages/send",
            self.shared.base,
            encode_component(grant_id)
        );
        let headers: Vec<_> = ack
            .headers
            .iter()
            .filter(|(name, _)| CUSTOM.contains(name))
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        let mut body = json!({
            "to": [{"name": ack.to.name, "email": ack.to.email}],
            "subject": ack.subject,
            "body": ack.text,
            "is_plaintext": true,
            "custom_headers": headers,
        });
        if !message_id.is_empty() {
            body["reply_to_message_id"] = json!(message_id);
        }
        let body = body.to_string().into_bytes();
        let key = ack.once_key();
        let ctx = Ctx {
            op: "send_acknowledgement",
            grant_id,
            item: &ack.ticket_id,
        };
        let attempt = |timeout: Duration| {
            let body = body.clone();
            let (url, key) = (&url, &key);
            async move {
                let mut response = self
                    .http
                    .post(url)
                    .header(CONTENT_TYPE, "application/json")
                    .header("Idempotency-Key", key.as_str())
                    .timeout(timeout)
                    .body(body)
                    .send()
                    .await
                    .map_err(classify_transport)?;
                match read_answer(&mut response, self.shared.config.max_body_bytes).await? {
                    Answer::Body(_) => Ok(()),
                    Answer::Failed {
                        status,
                        retry_after,
                        info,
                    } => Err::<(), AttemptError>(status_error(status, retry_after, info)),
                }
            }
        };
        // The Idempotency-Key makes every repeat safe.
        match with_retries(&self.shared.config, deadline, &ctx, |_| true, attempt).await {
            Ok(()) => Ok(()),
            Err(Ended::Failed(e)) => Err(e),
            Err(Ended::NotRepeated { attempts, last }) => Err(crate::client::give_up(
                attempts,
                crate::GiveUpReason::AttemptsExhausted,
                Some(&last),
            )),
        }
    }
}

impl AckSender for NylasClient {
    async fn send(&self, via: &ReplyVia<'_>, ack: &Acknowledgement) -> Result<(), SendError> {
        if via.provider != PROVIDER {
            return Err(SendError::Permanent(format!(
                "the Nylas sender cannot answer a `{}` message",
                via.provider
            )));
        }
        self.send_reply(
            via.grant_id,
            via.message_id,
            ack,
            Instant::now() + SEND_BUDGET,
        )
        .await
        .map_err(|e| {
            if e.is_transient() {
                SendError::Transient(e.to_string())
            } else {
                SendError::Permanent(e.to_string())
            }
        })
    }
}
