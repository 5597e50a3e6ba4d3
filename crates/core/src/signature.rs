//! Webhook signature verification.
//!
//! Nylas signs each delivery with `X-Nylas-Signature`: the lowercase hex
//! HMAC-SHA256 of the raw request body, keyed by the webhook secret. We accept
//! any of several configured secrets so a rotation never drops deliveries.
//! The comparison is constant-time (`hmac`'s `verify_slice`).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Length of a hex-encoded SHA-256 MAC.
const HEX_MAC_LEN: usize = 64;

/// One or more webhook secrets (rotation). `Debug` never shows them.
/// Each is kept as a pre-keyed HMAC state, so a request only clones it.
#[derive(Clone)]
pub struct WebhookSecrets {
    keys: Vec<HmacSha256>,
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecrets({} redacted)", self.keys.len())
    }
}

/// A secrets list that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    #[error("no webhook secret configured (the list is empty)")]
    Empty,
    /// The value is never repeated, only its place in the list.
    #[error("secret {position} starts with whsec_ but is not base64")]
    BadBase64 { position: usize },
}

impl WebhookSecrets {
    /// Parse a comma-separated list; surrounding whitespace and empty entries
    /// are ignored. At least one secret is required.
    pub fn parse(list: &str) -> Result<Self, SecretsError> {
        Self::from_keys(entries(list).map(|s| Ok(s.as_bytes().to_vec())))
    }

    /// Parse a comma-separated list as the Standard Webhooks family writes
    /// secrets: one that starts with `whsec_` is base64 key bytes, any other
    /// its UTF-8 bytes.
    pub fn parse_whsec(list: &str) -> Result<Self, SecretsError> {
        use base64::Engine as _;
        Self::from_keys(entries(list).enumerate().map(|(i, s)| {
            match s.strip_prefix("whsec_") {
                Some(b64) => base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| SecretsError::BadBase64 { position: i + 1 }),
                None => Ok(s.as_bytes().to_vec()),
            }
        }))
    }

    fn from_keys(
        keys: impl Iterator<Item = Result<Vec<u8>, SecretsError>>,
    ) -> Result<Self, SecretsError> {
        let mut out = Vec::new();
        for key in keys {
            // HMAC accepts keys of any length, so keying cannot fail.
            out.extend(HmacSha256::new_from_slice(&key?).ok());
        }
        if out.is_empty() {
            return Err(SecretsError::Empty);
        }
        Ok(WebhookSecrets { keys: out })
    }

    /// The pre-keyed MAC states (cloned per request).
    pub(crate) fn keys(&self) -> &[HmacSha256] {
        &self.keys
    }

    /// How many secrets are accepted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: construction requires one secret.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The non-empty, trimmed entries of a comma-separated list.
fn entries(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Why a signature was refused. The messages are safe to return and log:
/// they never contain the body, the signature value or a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Nylas-Signature header")]
    Missing,
    #[error("malformed X-Nylas-Signature header (expected 64 hex digits)")]
    Malformed,
    #[error("signature does not match")]
    Mismatch,
}

/// Verify a Nylas signature header against every configured secret.
/// Hex digits may be upper or lower case; surrounding whitespace is ignored.
pub fn verify_nylas(
    secrets: &WebhookSecrets,
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim_ascii();
    if header.is_empty() {
        return Err(SignatureError::Missing);
    }
    if header.len() != HEX_MAC_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut expected = [0u8; HEX_MAC_LEN / 2];
    hex::decode_to_slice(header, &mut expected).map_err(|_| SignatureError::Malformed)?;
    for key in &secrets.keys {
        let mut mac = key.clone();
        mac.update(body);
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// Lowercase hex HMAC-SHA256 of `body` under `secret`, as Nylas sends it.
/// Used to sign sample events and in tests.
pub fn sign_nylas(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(s: &str) -> WebhookSecrets {
        WebhookSecrets::parse(s).unwrap()
    }

    #[test]
    fn valid_signature_is_accepted() {
        let body = br#"{"type":"message.created"}"#;
        let sig = sign_nylas(b"s3cret", body);
        assert_eq!(sig.len(), 64);
        assert_eq!(
            verify_nylas(&secrets("s3cret"), Some(sig.as_bytes()), body),
            Ok(())
        );
    }

    #[test]
    fn uppercase_hex_and_whitespace_are_accepted() {
        let body = b"hello";
        let sig = format!("  {}\t", sign_nylas(b"k", body).to_uppercase());
        assert_eq!(
            verify_nylas(&secrets("k"), Some(sig.as_bytes()), body),
            Ok(())
        );
    }

    #[test]
    fn empty_body_can_be_signed() {
        let sig = sign_nylas(b"k", b"");
        assert_eq!(
            verify_nylas(&secrets("k"), Some(sig.as_bytes()), b""),
            Ok(())
        );
        assert_eq!(
            verify_nylas(&secrets("k"), Some(sig.as_bytes()), b" "),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_rotated_secret_matches() {
        let body = b"payload";
        let s = secrets(" old , new ,,");
        assert_eq!(s.len(), 2);
        for key in [b"old".as_slice(), b"new".as_slice()] {
            let sig = sign_nylas(key, body);
            assert_eq!(verify_nylas(&s, Some(sig.as_bytes()), body), Ok(()));
        }
        let other = sign_nylas(b"other", body);
        assert_eq!(
            verify_nylas(&s, Some(other.as_bytes()), body),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn each_invalid_form_is_named() {
        let s = secrets("k");
        let body = b"x";
        let good = sign_nylas(b"k", body);
        assert_eq!(verify_nylas(&s, None, body), Err(SignatureError::Missing));
        assert_eq!(
            verify_nylas(&s, Some(b"   "), body),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_nylas(&s, Some(b"abc"), body),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_nylas(&s, Some(format!("{good}00").as_bytes()), body),
            Err(SignatureError::Malformed)
        );
        let mut not_hex = good.clone().into_bytes();
        not_hex[10] = b'z';
        assert_eq!(
            verify_nylas(&s, Some(&not_hex), body),
            Err(SignatureError::Malformed)
        );
        // sha256= prefixes (GitHub style) are not what Nylas sends.
        let prefixed = format!("sha256={}", &good[..57]);
        assert_eq!(
            verify_nylas(&s, Some(prefixed.as_bytes()), body),
            Err(SignatureError::Malformed)
        );
        let mut flipped = good.into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            verify_nylas(&s, Some(&flipped), body),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn empty_secret_list_is_refused() {
        assert_eq!(
            WebhookSecrets::parse(" , ,").unwrap_err(),
            SecretsError::Empty
        );
        assert_eq!(WebhookSecrets::parse("").unwrap_err(), SecretsError::Empty);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let dbg = format!("{:?}", secrets("topsecretvalue"));
        assert!(!dbg.contains("topsecretvalue"));
    }
}
