//! The HTTP client: requests, capped body reads, response parsing. The
//! retry loop every request goes through is in `retries.rs`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use triage_core::Message;
use triage_core::ports::{FetchError, FolderRole, MessageSource};

use crate::config::NylasConfig;
use crate::error::{GiveUpReason, NylasError};
use crate::folders::folder_role;
pub(crate) use crate::retries::{
    AttemptError, Ended, Retryable, classify_transport, give_up, status_error, with_retries,
};
use triage_core::retry::parse_retry_after;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!(
    "inbox-triage/",
    env!("CARGO_PKG_VERSION"),
    " (triage-nylas)"
);

/// Idle pooled connections are dropped after this long: a Lambda container
/// may be frozen for minutes, after which old connections are likely dead.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Most bytes read from an error body (for `request_id` and `error.type`).
pub(crate) const ERROR_BODY_CAP: usize = 16 * 1024;

/// Client of the Nylas v3 API, implementing [`MessageSource`].
///
/// Cheap to clone: clones share one connection pool. Build it once per
/// process (Lambda container) and reuse it.
#[derive(Clone)]
pub struct NylasClient {
    pub(crate) http: reqwest::Client,
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    /// `config.base_url` without trailing `/`.
    pub(crate) base: String,
    pub(crate) config: NylasConfig,
}

impl fmt::Debug for NylasClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NylasClient")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// Names a request in logs: operation, grant, and message or page.
pub(crate) struct Ctx<'a> {
    pub(crate) op: &'static str,
    /// Grant id, or empty (webhook administration).
    pub(crate) grant_id: &'a str,
    /// Message id, folder page number or webhook id.
    pub(crate) item: &'a str,
}

/// What a successful round of attempts produced.
pub(crate) enum Success {
    Body(Vec<u8>),
    NotFound(ErrorInfo),
}

/// The parts of a Nylas error body worth keeping (never its message text).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorInfo {
    #[serde(default)]
    pub(crate) request_id: Option<String>,
    #[serde(default)]
    error: Option<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

impl ErrorInfo {
    pub(crate) fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    pub(crate) fn rejected(self, status: u16) -> NylasError {
        NylasError::Rejected {
            status,
            error_type: self.error.and_then(|e| e.kind),
            request_id: self.request_id,
        }
    }
}

#[derive(Deserialize)]
struct MessageResponse {
    #[serde(default)]
    request_id: Option<String>,
    data: Message,
}

#[derive(Deserialize)]
struct FolderPage {
    #[serde(default)]
    request_id: Option<String>,
    data: Vec<FolderItem>,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct FolderItem {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    attributes: Option<Vec<String>>,
}

impl NylasClient {
    /// Builds the HTTP client (rustls, connection pool, auth header) once.
    pub fn new(config: NylasConfig) -> Result<Self, NylasError> {
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base)
            .map_err(|e| NylasError::Config(format!("base_url is not a URL: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(NylasError::Config(
                "base_url must be an http(s) URL with a host".into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(NylasError::Config(
                "base_url must not carry a query or fragment".into(),
            ));
        }
        if config.request_timeout.is_zero() {
            return Err(NylasError::Config(
                "request_timeout must be positive".into(),
            ));
        }

        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", config.api_key)).map_err(|_| {
                NylasError::Config("api_key contains characters not allowed in a header".into())
            })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));

        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // The API does not redirect; never carry the key to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NylasError::Config(format!("HTTP client: {e}")))?;

        Ok(Self {
            http,
            shared: Arc::new(Shared { base, config }),
        })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &NylasConfig {
        &self.shared.config
    }

    /// `GET /v3/grants/{grant}/messages/{id}?fields=include_headers`.
    /// `Ok(None)` on 404. The returned message always has `headers: Some(_)`
    /// (empty when the provider gave none) and its `grant_id` filled.
    pub async fn get_message(
        &self,
        grant_id: &str,
        message_id: &str,
        deadline: Instant,
    ) -> Result<Option<Message>, NylasError> {
        check_segment("grant_id", grant_id)?;
        check_segment("message_id", message_id)?;
        let url = format!(
            "{}/v3/grants/{}/messages/{}?fields=include_headers",
            self.shared.base,
            encode_component(grant_id),
            encode_component(message_id)
        );
        let ctx = Ctx {
            op: "fetch_message",
            grant_id,
            item: message_id,
        };
        let body = match self.get_with_retries(&url, &ctx, deadline).await? {
            Success::Body(body) => body,
            Success::NotFound(info) => {
                tracing::info!(
                    op = ctx.op,
                    grant_id,
                    message_id,
                    request_id = info.request_id.as_deref().unwrap_or(""),
                    "message not found (404)"
                );
                return Ok(None);
            }
        };
        let parsed: MessageResponse = parse_json(&body, "message")?;
        let mut message = parsed.data;
        if message.headers.is_none() {
            message.headers = Some(Vec::new());
        }
        if message.grant_id.is_empty() {
            message.grant_id = grant_id.to_owned();
        }
        tracing::debug!(
            op = ctx.op,
            grant_id,
            message_id,
            request_id = parsed.request_id.as_deref().unwrap_or(""),
            headers = message.headers.as_ref().map_or(0, Vec::len),
            "message fetched"
        );
        Ok(Some(message))
    }

    /// `GET /v3/grants/{grant}/folders`, every page (`next_cursor` ->
    /// `page_token`, at most `max_folder_pages`), as folder id -> role.
    pub async fn list_folder_roles(
        &self,
        grant_id: &str,
        deadline: Instant,
    ) -> Result<HashMap<String, FolderRole>, NylasError> {
        check_segment("grant_id", grant_id)?;
        let base = format!(
            "{}/v3/grants/{}/folders",
            self.shared.base,
            encode_component(grant_id)
        );
        let max_pages = self.shared.config.max_folder_pages.max(1);
        let mut roles = HashMap::new();
        let mut cursor: Option<String> = None;
        let mut seen_cursors = HashSet::new();
        for page in 1..=max_pages {
            let url = match &cursor {
                None => base.clone(),
                Some(c) => format!("{base}?page_token={}", encode_component(c)),
            };
            let page_no = page.to_string();
            let ctx = Ctx {
                op: "folder_roles",
                grant_id,
                item: &page_no,
            };
            let body = match self.get_with_retries(&url, &ctx, deadline).await? {
                Success::Body(body) => body,
                // The grant itself is unknown: retrying will not help.
                Success::NotFound(info) => return Err(info.rejected(404)),
            };
            let parsed: FolderPage = parse_json(&body, "folder page")?;
            tracing::debug!(
                op = ctx.op,
                grant_id,
                page,
                folders = parsed.data.len(),
                request_id = parsed.request_id.as_deref().unwrap_or(""),
                "folder page fetched"
            );
            for folder in parsed.data {
                if let Some(id) = folder.id.filter(|id| !id.is_empty()) {
                    let role = folder_role(&id, folder.attributes.as_deref().unwrap_or(&[]));
                    roles.insert(id, role);
                }
            }
            match parsed.next_cursor.filter(|c| !c.is_empty()) {
                None => return Ok(roles),
                Some(next) => {
                    if !seen_cursors.insert(next.clone()) {
                        return Err(NylasError::Malformed(
                            "folder listing repeated a next_cursor".into(),
                        ));
                    }
                    cursor = Some(next);
                }
            }
        }
        Err(NylasError::TooManyPages { limit: max_pages })
    }

    /// Attempts a GET until success, a permanent failure, the attempt limit
    /// or the deadline.
    pub(crate) async fn get_with_retries(
        &self,
        url: &str,
        ctx: &Ctx<'_>,
        deadline: Instant,
    ) -> Result<Success, NylasError> {
        // A GET may always be repeated, so the retry never stops early.
        match with_retries(
            &self.shared.config,
            deadline,
            ctx,
            |_| true,
            |timeout| self.attempt(url, timeout),
        )
        .await
        {
            Ok(success) => Ok(success),
            Err(Ended::Failed(e)) => Err(e),
            Err(Ended::NotRepeated { attempts, last }) => Err(give_up(
                attempts,
                GiveUpReason::AttemptsExhausted,
                Some(&last),
            )),
        }
    }

    /// One GET, its status classified and its body read under the cap.
    async fn attempt(&self, url: &str, timeout: Duration) -> Result<Success, AttemptError> {
        let mut response = self
            .http
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(classify_transport)?;
        match read_answer(&mut response, self.shared.config.max_body_bytes).await? {
            Answer::Body(body) => Ok(Success::Body(body)),
            Answer::Failed {
                status: 404, info, ..
            } => Ok(Success::NotFound(info)),
            Answer::Failed {
                status,
                retry_after,
                info,
            } => Err(status_error(status, retry_after, info)),
        }
    }
}

/// What one HTTP answer carried.
pub(crate) enum Answer {
    /// A 2xx body, read within the cap.
    Body(Vec<u8>),
    /// Any other status, with its `Retry-After` and error details.
    Failed {
        status: u16,
        retry_after: Option<Duration>,
        info: ErrorInfo,
    },
}

/// Read an answer: the body of a success (at most `cap` bytes, enforced
/// while reading), or the failure's status, `Retry-After` and error details.
pub(crate) async fn read_answer(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Answer, AttemptError> {
    let status = response.status();
    if status.is_success() {
        return match read_capped(response, cap).await {
            Ok(body) => Ok(Answer::Body(body)),
            Err(ReadError::TooLarge) => {
                Err(AttemptError::Fatal(NylasError::BodyTooLarge { limit: cap }))
            }
            Err(ReadError::Transport(e)) => Err(classify_transport(e)),
        };
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    // Reading the (small) error body lets the connection be reused and
    // yields request_id / error.type; failing to read it changes nothing.
    let info = match read_capped(response, ERROR_BODY_CAP).await {
        Ok(body) => ErrorInfo::parse(&body),
        Err(_) => ErrorInfo::default(),
    };
    Ok(Answer::Failed {
        status: status.as_u16(),
        retry_after,
        info,
    })
}

impl MessageSource for NylasClient {
    async fn fetch_message(
        &self,
        grant_id: &str,
        message_id: &str,
        deadline: Instant,
    ) -> Result<Option<Message>, FetchError> {
        Ok(self.get_message(grant_id, message_id, deadline).await?)
    }

    async fn folder_roles(
        &self,
        grant_id: &str,
        deadline: Instant,
    ) -> Result<HashMap<String, FolderRole>, FetchError> {
        Ok(self.list_folder_roles(grant_id, deadline).await?)
    }
}

pub(crate) enum ReadError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads the body chunk by chunk, refusing (before buffering) anything over
/// `cap` bytes, whether announced by `Content-Length` or found while streaming.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, ReadError> {
    let announced = response.content_length();
    if announced.is_some_and(|len| len > u64::try_from(cap).unwrap_or(u64::MAX)) {
        return Err(ReadError::TooLarge);
    }
    let initial = announced
        .and_then(|len| usize::try_from(len).ok())
        .unwrap_or(0)
        .min(cap)
        .min(64 * 1024);
    let mut body = Vec::with_capacity(initial);
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if chunk.len() > cap.saturating_sub(body.len()) {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a success body; the error names only the position, never content.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, NylasError> {
    serde_json::from_slice(body).map_err(|e| {
        NylasError::Malformed(format!(
            "{what}: {:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// Ids go into the path as one segment each: empty, `.` and `..` cannot.
pub(crate) fn check_segment(name: &'static str, value: &str) -> Result<(), NylasError> {
    if value.is_empty() || value == "." || value == ".." {
        return Err(NylasError::InvalidArgument(format!(
            "{name} must be a non-empty id other than '.' and '..'"
        )));
    }
    Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so an id
/// with `/`, `=`, `+`, `?`, `#` or `%` stays one path segment (or query value).
pub(crate) fn encode_component(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_non_ascii() {
        assert_eq!(encode_component("AAkALg/AA+b=="), "AAkALg%2FAA%2Bb%3D%3D");
        assert_eq!(encode_component("a b?c#d%e"), "a%20b%3Fc%23d%25e");
        assert_eq!(encode_component("é"), "%C3%A9");
        assert_eq!(encode_component("18f2-abc_DEF.~"), "18f2-abc_DEF.~");
    }

    #[test]
    fn rejects_unusable_segments() {
        assert!(check_segment("id", "").is_err());
        assert!(check_segment("id", "..").is_err());
        assert!(check_segment("id", ".").is_err());
        assert!(check_segment("id", "...").is_ok());
    }

    #[test]
    fn rejects_bad_config() {
        let bad = |f: fn(&mut NylasConfig)| {
            let mut c = NylasConfig::new("k");
            f(&mut c);
            NylasClient::new(c).is_err()
        };
        assert!(bad(|c| c.base_url = "not a url".into()));
        assert!(bad(|c| c.base_url = "ftp://host".into()));
        assert!(bad(|c| c.base_url = "https://host/?q=1".into()));
        assert!(bad(|c| c.api_key = "line\nbreak".into()));
        assert!(bad(|c| c.request_timeout = Duration::ZERO));
        assert!(!bad(|c| c.base_url = "https://api.eu.nylas.com/".into()));
    }

    #[test]
    fn malformed_json_error_hides_content() {
        let r: Result<MessageResponse, _> =
            parse_json(br#"{"data": {"date": "secret subject"}}"#, "message");
        match r {
            Err(NylasError::Malformed(m)) => assert!(!m.contains("secret"), "{m}"),
            _ => panic!("expected Malformed"),
        }
    }
}
