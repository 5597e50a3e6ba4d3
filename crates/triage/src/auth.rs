//! The optional bearer token of `triage serve`'s read API (`GET /tickets`):
//! `TRIAGE_API_TOKEN`. The webhook has its own signature check and never
//! needs it; `/healthz` stays open.
//!
//! The token is never logged, echoed or shown by `Debug`; the comparison
//! is in constant time (SHA-256 of both sides, then `subtle`), so neither
//! the content nor the length of the token leaks through timing.

use std::fmt;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const TOKEN_VAR: &str = "TRIAGE_API_TOKEN";
/// Shortest accepted token: guessing should not be an option.
pub const MIN_TOKEN_LEN: usize = 16;

/// The configured token, kept only as its SHA-256.
#[derive(Clone)]
pub struct ApiToken {
    digest: [u8; 32],
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// `TRIAGE_API_TOKEN` is set but unusable. Never contains the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("{TOKEN_VAR} is too short: use at least {MIN_TOKEN_LEN} characters")]
    TooShort,
    #[error(
        "{TOKEN_VAR} must be printable ASCII without spaces (it is sent in an Authorization header)"
    )]
    NotPrintable,
}

impl ApiToken {
    /// Read `TRIAGE_API_TOKEN`; unset or empty means no token (open API).
    pub fn from_env() -> Result<Option<ApiToken>, TokenError> {
        match std::env::var(TOKEN_VAR) {
            Ok(v) => ApiToken::parse(&v),
            Err(_) => Ok(None),
        }
    }

    pub fn parse(raw: &str) -> Result<Option<ApiToken>, TokenError> {
        if raw.is_empty() {
            return Ok(None);
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        if raw.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort);
        }
        Ok(Some(ApiToken {
            digest: Sha256::digest(raw.as_bytes()).into(),
        }))
    }

    /// Whether `headers` carry `Authorization: Bearer <this token>`.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = bearer(headers) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest.ct_eq(&self.digest).into()
    }
}

/// The credentials of an `Authorization: Bearer ...` header (the scheme is
/// case-insensitive, RFC 7235).
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(rest.trim_ascii())
}

/// Middleware for the read API: passes the request on when no token is
/// configured or the right one is presented; 401 otherwise.
pub async fn require_token(
    State(token): State<Option<ApiToken>>,
    req: Request,
    next: Next,
) -> Response {
    match &token {
        Some(t) if !t.allows(req.headers()) => unauthorized(),
        _ => next.run(req).await,
    }
}

fn unauthorized() -> Response {
    let body = serde_json::json!({
        "error": "unauthorized",
        "message": format!("this route needs Authorization: Bearer <{TOKEN_VAR}>"),
    });
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"triage\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef-token";

    fn request_with(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let t = ApiToken::parse(TOKEN).unwrap().unwrap();
        assert!(t.allows(&request_with(Some(&format!("Bearer {TOKEN}")))));
        assert!(t.allows(&request_with(Some(&format!("bearer {TOKEN}")))));
        assert!(!t.allows(&request_with(None)));
        assert!(!t.allows(&request_with(Some(TOKEN))));
        assert!(!t.allows(&request_with(Some(&format!("Basic {TOKEN}")))));
        assert!(!t.allows(&request_with(Some(&format!("Bearer {TOKEN}x")))));
        assert!(!t.allows(&request_with(Some("Bearer "))));
        assert!(!t.allows(&request_with(Some("Bear"))));
    }

    #[test]
    fn bad_tokens_are_refused_without_echo() {
        assert!(matches!(ApiToken::parse(""), Ok(None)));
        let short = ApiToken::parse("short-secret").unwrap_err();
        assert_eq!(short, TokenError::TooShort);
        assert!(!short.to_string().contains("short-secret"));
        let spaced = ApiToken::parse("has a space in it, long enough").unwrap_err();
        assert_eq!(spaced, TokenError::NotPrintable);
        let t = ApiToken::parse(TOKEN).unwrap().unwrap();
        assert!(!format!("{t:?}").contains(TOKEN));
    }
}
