//! Timestamped webhook signatures, the two schemes of the signed
//! inbound-email family:
//!
//! * **Standard Webhooks v1**: `webhook-id`, `webhook-timestamp` (unix
//!   seconds) and `webhook-signature`, a space-separated list of
//!   `v1,<base64 HMAC-SHA256>` entries (any may match; other versions are
//!   ignored), over `{id}.{timestamp}.{raw body}`.
//! * **Timestamped HMAC**: `X-Webhook-Timestamp` (unix seconds) and
//!   `X-Webhook-Signature`, hex HMAC-SHA256 over `{timestamp}.{raw body}`,
//!   optionally prefixed `sha256=`.
//!
//! Secrets are a comma-separated list (rotation: any may match); one that
//! starts with `whsec_` is base64 key bytes, any other its UTF-8 bytes. A
//! timestamp further than the tolerance from `now`, either way, is refused
//! before any MAC is computed. MACs are compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::signature::{HmacSha256, WebhookSecrets};

/// Longest signature header read (a handful of entries; more is hostile).
pub const MAX_SIGNATURE_HEADER_BYTES: usize = 4096;
/// Longest `webhook-id` accepted.
pub const MAX_WEBHOOK_ID_BYTES: usize = 256;
/// The default clock tolerance, either way, in seconds.
pub const DEFAULT_TOLERANCE_S: i64 = 300;

/// Which scheme a delivery was signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    StandardWebhooks,
    TimestampedHmac,
}

/// A verified delivery's signing facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub scheme: Scheme,
    /// `webhook-id` (Standard Webhooks): the same across redeliveries.
    pub webhook_id: Option<String>,
    /// Unix seconds, as signed.
    pub timestamp: i64,
}

/// Why a delivery is refused: every variant is a 401 with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no signature: send webhook-signature (Standard Webhooks) or X-Webhook-Signature")]
    NoSignature,
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("malformed header {0}")]
    Malformed(&'static str),
    #[error("timestamp is {skew_s} s from now (tolerance {tolerance_s} s)")]
    OutsideTolerance { skew_s: i64, tolerance_s: i64 },
    #[error("signature does not match")]
    Mismatch,
}

/// Verify a delivery. `header` looks a header up by its lower-case name.
pub fn verify<'h>(
    keys: &WebhookSecrets,
    header: impl Fn(&str) -> Option<&'h [u8]>,
    body: &[u8],
    now_s: i64,
    tolerance_s: i64,
) -> Result<Verified, AuthError> {
    if let Some(sig) = header("webhook-signature") {
        let id = text(header("webhook-id"), "webhook-id")?;
        if id.is_empty() || id.len() > MAX_WEBHOOK_ID_BYTES || id.contains('.') {
            return Err(AuthError::Malformed("webhook-id"));
        }
        let timestamp = timestamp(header("webhook-timestamp"), "webhook-timestamp")?;
        within(timestamp, now_s, tolerance_s)?;
        let sig = bounded(sig, "webhook-signature")?;
        let wanted: Vec<Vec<u8>> = sig
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .collect();
        let prefix = format!("{id}.{timestamp}.");
        check(keys, prefix.as_bytes(), body, &wanted)?;
        return Ok(Verified {
            scheme: Scheme::StandardWebhooks,
            webhook_id: Some(id.to_string()),
            timestamp,
        });
    }
    if let Some(sig) = header("x-webhook-signature") {
        let timestamp = timestamp(header("x-webhook-timestamp"), "X-Webhook-Timestamp")?;
        within(timestamp, now_s, tolerance_s)?;
        let sig = bounded(sig, "X-Webhook-Signature")?.trim();
        let hex_mac = sig.strip_prefix("sha256=").unwrap_or(sig);
        let wanted: Vec<Vec<u8>> = hex::decode(hex_mac).ok().into_iter().collect();
        let prefix = format!("{timestamp}.");
        check(keys, prefix.as_bytes(), body, &wanted)?;
        return Ok(Verified {
            scheme: Scheme::TimestampedHmac,
            webhook_id: None,
            timestamp,
        });
    }
    Err(AuthError::NoSignature)
}

fn text<'h>(value: Option<&'h [u8]>, name: &'static str) -> Result<&'h str, AuthError> {
    let value = value.ok_or(AuthError::Missing(name))?;
    std::str::from_utf8(value)
        .map(str::trim)
        .map_err(|_| AuthError::Malformed(name))
}

fn bounded<'h>(value: &'h [u8], name: &'static str) -> Result<&'h str, AuthError> {
    if value.len() > MAX_SIGNATURE_HEADER_BYTES {
        return Err(AuthError::Malformed(name));
    }
    std::str::from_utf8(value).map_err(|_| AuthError::Malformed(name))
}

fn timestamp(value: Option<&[u8]>, name: &'static str) -> Result<i64, AuthError> {
    let t = text(value, name)?;
    if t.is_empty() || t.len() > 12 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::Malformed(name));
    }
    t.parse().map_err(|_| AuthError::Malformed(name))
}

fn within(timestamp: i64, now_s: i64, tolerance_s: i64) -> Result<(), AuthError> {
    let skew_s = timestamp.saturating_sub(now_s);
    if skew_s.unsigned_abs() > tolerance_s.unsigned_abs() {
        return Err(AuthError::OutsideTolerance {
            skew_s,
            tolerance_s,
        });
    }
    Ok(())
}

/// Does any key's MAC over `prefix || body` equal any wanted MAC? One MAC
/// per key; each comparison is constant-time (`subtle`).
fn check(
    keys: &WebhookSecrets,
    prefix: &[u8],
    body: &[u8],
    wanted: &[Vec<u8>],
) -> Result<(), AuthError> {
    let mut matched = subtle::Choice::from(0);
    for key in keys.keys() {
        let mut mac = key.clone();
        mac.update(prefix);
        mac.update(body);
        let computed = mac.finalize().into_bytes();
        for w in wanted {
            // `ct_eq` on slices of different lengths is false (lengths are public).
            matched |= computed.as_slice().ct_eq(w.as_slice());
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

/// A fresh MAC state for `key`.
fn keyed(key: &[u8]) -> Option<HmacSha256> {
    // HMAC takes keys of any length: this is never `None`.
    <HmacSha256 as KeyInit>::new_from_slice(key).ok()
}

/// The `webhook-signature` value for a Standard Webhooks delivery
/// (tests, sample events, `triage` tooling).
pub fn sign_standard(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let Some(mut mac) = keyed(key) else {
        return String::new();
    };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `X-Webhook-Signature` value (lowercase hex) for a timestamped HMAC delivery.
pub fn sign_timestamped(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    let Some(mut mac) = keyed(key) else {
        return String::new();
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::SecretsError;

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn standard<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> impl Fn(&str) -> Option<&'a [u8]> {
        move |name| match name {
            "webhook-id" => Some(id.as_bytes()),
            "webhook-timestamp" => Some(ts.as_bytes()),
            "webhook-signature" => Some(sig.as_bytes()),
            _ => None,
        }
    }

    fn timestamped<'a>(ts: &'a str, sig: &'a str) -> impl Fn(&str) -> Option<&'a [u8]> {
        move |name| match name {
            "x-webhook-timestamp" => Some(ts.as_bytes()),
            "x-webhook-signature" => Some(sig.as_bytes()),
            _ => None,
        }
    }

    fn keys(list: &str) -> WebhookSecrets {
        WebhookSecrets::parse_whsec(list).unwrap()
    }

    #[test]
    fn the_published_standard_webhooks_vector_passes() {
        let ts = SPEC_TS.to_string();
        let v = verify(
            &keys(SPEC_SECRET),
            standard(SPEC_ID, &ts, SPEC_SIG),
            SPEC_BODY,
            SPEC_TS,
            DEFAULT_TOLERANCE_S,
        )
        .unwrap();
        assert_eq!(v.scheme, Scheme::StandardWebhooks);
        assert_eq!(v.webhook_id.as_deref(), Some(SPEC_ID));
        let key = STANDARD.decode(&SPEC_SECRET[6..]).unwrap();
        assert_eq!(sign_standard(&key, SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIG);
    }

    #[test]
    fn any_entry_and_any_secret_may_match_decoys_and_other_versions_are_ignored() {
        let ts = SPEC_TS.to_string();
        let sig = format!(
            "v1a,{} v1,AAAA v1,not-base64!! v2,{} {SPEC_SIG}",
            &SPEC_SIG[3..],
            &SPEC_SIG[3..]
        );
        let rotated = format!("other-secret, {SPEC_SECRET}");
        let ok = verify(
            &keys(&rotated),
            standard(SPEC_ID, &ts, &sig),
            SPEC_BODY,
            SPEC_TS,
            300,
        );
        assert!(ok.is_ok(), "{ok:?}");
        // Only decoys: refused.
        let decoys = format!("v1a,{} v1,AAAA", &SPEC_SIG[3..]);
        assert_eq!(
            verify(
                &keys(SPEC_SECRET),
                standard(SPEC_ID, &ts, &decoys),
                SPEC_BODY,
                SPEC_TS,
                300
            ),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn tampering_with_body_id_or_timestamp_is_a_mismatch() {
        let ts = SPEC_TS.to_string();
        let k = keys(SPEC_SECRET);
        let tampered = br#"{"test": 2432232315}"#;
        assert_eq!(
            verify(&k, standard(SPEC_ID, &ts, SPEC_SIG), tampered, SPEC_TS, 300),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify(
                &k,
                standard("msg_other", &ts, SPEC_SIG),
                SPEC_BODY,
                SPEC_TS,
                300
            ),
            Err(AuthError::Mismatch)
        );
        let later = (SPEC_TS + 1).to_string();
        assert_eq!(
            verify(
                &k,
                standard(SPEC_ID, &later, SPEC_SIG),
                SPEC_BODY,
                SPEC_TS,
                300
            ),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn the_tolerance_holds_both_ways() {
        let key = b"plain-secret";
        let k = keys("plain-secret");
        let now = 1_700_000_000;
        for (ts, ok) in [
            (now, true),
            (now - 300, true),
            (now + 300, true),
            (now - 301, false),
            (now + 301, false),
        ] {
            let t = ts.to_string();
            let sig = sign_timestamped(key, ts, b"{}");
            let got = verify(&k, timestamped(&t, &sig), b"{}", now, 300);
            assert_eq!(got.is_ok(), ok, "ts {ts}: {got:?}");
            if !ok {
                assert!(
                    matches!(got, Err(AuthError::OutsideTolerance { .. })),
                    "{got:?}"
                );
            }
            let sig = sign_standard(key, "msg_1", ts, b"{}");
            let got = verify(&k, standard("msg_1", &t, &sig), b"{}", now, 300);
            assert_eq!(got.is_ok(), ok, "standard ts {ts}: {got:?}");
        }
    }

    #[test]
    fn the_timestamped_scheme_takes_hex_with_or_without_its_prefix() {
        let now = 1_700_000_000;
        let t = now.to_string();
        let sig = sign_timestamped(b"s3cret", now, b"body");
        let k = keys("s3cret");
        let prefixed = format!("sha256={sig}");
        for s in [sig.as_str(), prefixed.as_str()] {
            let v = verify(&k, timestamped(&t, s), b"body", now, 300).unwrap();
            assert_eq!((v.scheme, v.webhook_id), (Scheme::TimestampedHmac, None));
        }
        assert_eq!(
            verify(&k, timestamped(&t, "sha256=zz"), b"body", now, 300),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify(&keys("other"), timestamped(&t, &sig), b"body", now, 300),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn missing_and_garbled_headers_are_named() {
        let k = keys("s");
        let none = |_: &str| -> Option<&[u8]> { None };
        assert_eq!(verify(&k, none, b"", 0, 300), Err(AuthError::NoSignature));
        let only_sig = |n: &str| (n == "webhook-signature").then_some(&b"v1,AAAA"[..]);
        assert_eq!(
            verify(&k, only_sig, b"", 0, 300),
            Err(AuthError::Missing("webhook-id"))
        );
        let no_ts = |n: &str| match n {
            "webhook-signature" => Some(&b"v1,AAAA"[..]),
            "webhook-id" => Some(&b"msg_1"[..]),
            _ => None,
        };
        assert_eq!(
            verify(&k, no_ts, b"", 0, 300),
            Err(AuthError::Missing("webhook-timestamp"))
        );
        for bad in ["", "-5", "1.5", "12abc", "99999999999999999999"] {
            assert_eq!(
                verify(&k, timestamped(bad, "00"), b"", 0, 300),
                Err(AuthError::Malformed("X-Webhook-Timestamp")),
                "{bad:?}"
            );
        }
        let huge = "v1,AAAA ".repeat(1000);
        assert_eq!(
            verify(&k, standard("msg_1", "0", &huge), b"", 0, 300),
            Err(AuthError::Malformed("webhook-signature"))
        );
        assert_eq!(
            verify(&k, standard("", "0", "v1,AAAA"), b"", 0, 300),
            Err(AuthError::Malformed("webhook-id"))
        );
    }

    #[test]
    fn secrets_parse_whsec_as_base64_and_never_show_themselves() {
        assert_eq!(
            WebhookSecrets::parse_whsec(" , ").map(|_| ()),
            Err(SecretsError::Empty)
        );
        assert_eq!(
            WebhookSecrets::parse_whsec("ok, whsec_!!!").map(|_| ()),
            Err(SecretsError::BadBase64 { position: 2 })
        );
        let k = keys("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, plain");
        let shown = format!("{k:?}");
        assert_eq!(shown, "WebhookSecrets(2 redacted)");
        // A whsec_ secret is its base64 bytes, not its text.
        let as_text = keys("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let ts = SPEC_TS.to_string();
        assert_eq!(
            verify(
                &as_text,
                standard(SPEC_ID, &ts, SPEC_SIG),
                SPEC_BODY,
                SPEC_TS,
                300
            ),
            Err(AuthError::Mismatch)
        );
    }

    proptest::proptest! {
        /// What we sign verifies under both schemes; one flipped body byte
        /// never does; arbitrary header values never panic.
        #[test]
        fn signed_verifies_and_a_flipped_byte_does_not(
            key in proptest::collection::vec(proptest::num::u8::ANY, 1..64),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            flip in proptest::num::usize::ANY,
            junk in ".{0,64}",
        ) {
            let now = 1_700_000_000;
            let secret = format!("whsec_{}", STANDARD.encode(&key));
            let k = keys(&secret);
            let t = now.to_string();
            let std_sig = sign_standard(&key, "msg_x", now, &body);
            let ts_sig = sign_timestamped(&key, now, &body);
            proptest::prop_assert!(verify(&k, standard("msg_x", &t, &std_sig), &body, now, 300).is_ok());
            proptest::prop_assert!(verify(&k, timestamped(&t, &ts_sig), &body, now, 300).is_ok());
            if !body.is_empty() {
                let mut bad = body.clone();
                let i = flip % bad.len();
                bad[i] ^= 1;
                proptest::prop_assert_eq!(
                    verify(&k, standard("msg_x", &t, &std_sig), &bad, now, 300),
                    Err(AuthError::Mismatch)
                );
                proptest::prop_assert_eq!(
                    verify(&k, timestamped(&t, &ts_sig), &bad, now, 300),
                    Err(AuthError::Mismatch)
                );
            }
            let _ = verify(&k, standard(&junk, &junk, &junk), &body, now, 300);
            let _ = verify(&k, timestamped(&junk, &junk), &body, now, 300);
        }
    }
}
