//! Outgoing webhook deliveries signed with Standard Webhooks v1 (#12), so
//! any system (Jira, Zendesk, a script) can verify what we send with the
//! same scheme we accept. The `webhook-id` is the event id: the same on
//! every retry, as the spec asks, so receivers deduplicate on it.

use crate::events::TicketEvent;
use crate::timestamped_signature::sign_standard;

/// A ready-to-send delivery: headers and the JSON body they sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDelivery {
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Why a signing secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningKeyError {
    #[error("the signing secret is empty")]
    Empty,
    #[error("the signing secret starts with whsec_ but the rest is not base64")]
    BadBase64,
}

/// The key bytes of a signing secret: a `whsec_` secret (the Standard
/// Webhooks form) is its base64 payload, any other its UTF-8 bytes.
pub fn signing_key(secret: &str) -> Result<Vec<u8>, SigningKeyError> {
    use base64::Engine as _;
    let secret = secret.trim();
    let key = match secret.strip_prefix("whsec_") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SigningKeyError::BadBase64)?,
        None => secret.as_bytes().to_vec(),
    };
    if key.is_empty() {
        return Err(SigningKeyError::Empty);
    }
    Ok(key)
}

/// Sign `event` with `key` (raw key bytes; `whsec_` secrets decoded) at
/// `now_s` (unix seconds).
pub fn sign(event: &TicketEvent, key: &[u8], now_s: i64) -> SignedDelivery {
    // Serializing a struct of strings and numbers cannot fail.
    let body = serde_json::to_string(event).unwrap_or_default();
    let signature = sign_standard(key, &event.id, now_s, body.as_bytes());
    SignedDelivery {
        headers: vec![
            ("content-type", "application/json".to_string()),
            ("webhook-id", event.id.clone()),
            ("webhook-timestamp", now_s.to_string()),
            ("webhook-signature", signature),
        ],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_secrets_in_both_forms() {
        assert_eq!(signing_key(" plain ").unwrap(), b"plain".to_vec());
        assert_eq!(signing_key("whsec_AQID").unwrap(), vec![1, 2, 3]);
        assert_eq!(signing_key("  "), Err(SigningKeyError::Empty));
        assert_eq!(signing_key("whsec_"), Err(SigningKeyError::Empty));
        assert_eq!(signing_key("whsec_!!"), Err(SigningKeyError::BadBase64));
    }
    use crate::signature::WebhookSecrets;
    use crate::timestamped_signature::{Scheme, verify};

    #[test]
    fn our_deliveries_verify_with_the_scheme_we_accept() {
        let event = crate::events::tests_support::event("evt_0123");
        let d = sign(&event, b"receiver-key", 1_764_547_200);
        let header = |name: &str| {
            d.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_bytes())
        };
        let keys = WebhookSecrets::parse("receiver-key").unwrap();
        let v = verify(&keys, header, d.body.as_bytes(), 1_764_547_210, 300).unwrap();
        assert_eq!(v.scheme, Scheme::StandardWebhooks);
        assert_eq!(v.webhook_id.as_deref(), Some("evt_0123"));
        // A retry later keeps the id and signs the new time.
        let retry = sign(&event, b"receiver-key", 1_764_547_500);
        assert_eq!(retry.headers[1], d.headers[1]);
        assert_ne!(retry.headers[3], d.headers[3]);
        let other = WebhookSecrets::parse("someone-else").unwrap();
        assert!(verify(&other, header, d.body.as_bytes(), 1_764_547_210, 300).is_err());
    }
}
