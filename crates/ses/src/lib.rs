//! Amazon SES adapter (#12): acknowledgements for the signed inbound-email
//! family, which has no provider API to reply through. [`SesSender`]
//! implements the core's `AckSender` with SESv2 `SendEmail` (simple
//! content): the acknowledgement's subject and plain text, from the
//! configured address, with `Auto-Submitted`, `X-Auto-Response-Suppress`,
//! `In-Reply-To` and `References` as message headers (the core has already
//! stripped control characters from every value).
//!
//! Errors: throttling, limits, 5xx, timeouts and connection failures are
//! transient; a rejected message, an unverified identity, a paused account
//! and other 4xx are permanent. Logs and errors carry codes, never an
//! address or a subject.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};
use triage_core::acknowledgement::{AckSender, Acknowledgement, ReplyVia, SendError};

/// Error codes worth retrying.
const TRANSIENT_CODES: [&str; 4] = [
    "TooManyRequestsException",
    "LimitExceededException",
    "ThrottlingException",
    "InternalFailure",
];

/// Sends acknowledgements from one verified address.
#[derive(Debug, Clone)]
pub struct SesSender {
    client: Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesSender {
    /// A sender from `from` (an SES-verified identity), optionally through
    /// a configuration set (event publishing, suppression).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        from: impl Into<String>,
        configuration_set: Option<String>,
    ) -> Self {
        SesSender {
            client: Client::new(sdk),
            from: from.into(),
            configuration_set,
        }
    }
}

fn text(data: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| SendError::Permanent(format!("SES request: {e}")))
}

/// What an SES error code means for a retry.
pub fn classify(code: Option<&str>, status: Option<u16>) -> SendError {
    let what = code.unwrap_or("no error code").to_string();
    let transient = code.is_some_and(|c| TRANSIENT_CODES.contains(&c))
        || status.is_some_and(|s| s == 429 || s >= 500);
    if transient {
        SendError::Transient(format!("SES SendEmail: {what}"))
    } else {
        SendError::Permanent(format!("SES SendEmail: {what}"))
    }
}

impl AckSender for SesSender {
    async fn send(&self, _via: &ReplyVia<'_>, ack: &Acknowledgement) -> Result<(), SendError> {
        let mut headers = Vec::with_capacity(ack.headers.len());
        for (name, value) in &ack.headers {
            headers.push(
                MessageHeader::builder()
                    .name(*name)
                    .value(value)
                    .build()
                    .map_err(|e| SendError::Permanent(format!("SES request: {e}")))?,
            );
        }
        let message = Message::builder()
            .subject(text(&ack.subject)?)
            .body(Body::builder().text(text(&ack.text)?).build())
            .set_headers(Some(headers))
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&ack.to.email).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(match &e {
                SdkError::ServiceError(ctx) => {
                    classify(e.code(), Some(ctx.raw().status().as_u16()))
                }
                SdkError::ConstructionFailure(_) => {
                    SendError::Permanent("SES request could not be built".into())
                }
                _ => {
                    SendError::Transient("SES SendEmail: no answer (timeout or connection)".into())
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decide_retry() {
        assert!(matches!(
            classify(Some("TooManyRequestsException"), Some(429)),
            SendError::Transient(_)
        ));
        assert!(matches!(classify(None, Some(503)), SendError::Transient(_)));
        assert!(matches!(
            classify(Some("MessageRejected"), Some(400)),
            SendError::Permanent(_)
        ));
        assert!(matches!(
            classify(Some("MailFromDomainNotVerifiedException"), Some(400)),
            SendError::Permanent(_)
        ));
    }
}
