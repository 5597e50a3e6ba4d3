//! Settings of the Nylas client.

use std::fmt;
use std::time::Duration;

/// The US region's API host, used when neither the config nor
/// `NYLAS_API_URI` names another.
pub const DEFAULT_BASE_URL: &str = "https://api.us.nylas.com";

/// Environment variable naming the API host (e.g. `https://api.eu.nylas.com`).
pub const ENV_API_URI: &str = "NYLAS_API_URI";

/// How the client talks to Nylas: where, with which key, and how patiently.
///
/// Start from [`NylasConfig::new`] or [`NylasConfig::from_env`] and override
/// fields with struct update syntax:
///
/// ```
/// # use triage_nylas::NylasConfig;
/// let config = NylasConfig { max_attempts: 3, ..NylasConfig::new("key") };
/// # assert_eq!(config.max_attempts, 3);
/// ```
///
/// `Debug` never prints the API key.
#[derive(Clone)]
pub struct NylasConfig {
    /// Scheme and host, without the `/v3` path. A trailing `/` is ignored.
    pub base_url: String,
    /// The application's API key, sent as `Authorization: Bearer <key>`.
    pub api_key: String,
    /// Upper bound of one attempt, from connecting until the body is read.
    /// Each attempt is also cut short at the caller's deadline.
    pub request_timeout: Duration,
    /// Upper bound of establishing a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Attempts per request, the first one included (at least 1 is made).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles per attempt, with jitter.
    pub base_backoff: Duration,
    /// Ceiling of the exponential backoff (`Retry-After` is honoured as sent;
    /// the caller's deadline bounds it).
    pub max_backoff: Duration,
    /// Hard cap on a response body; a larger one is a permanent failure.
    pub max_body_bytes: usize,
    /// Most pages read when listing a grant's folders.
    pub max_folder_pages: u32,
}

impl NylasConfig {
    /// Defaults: US region, 5 s per attempt, 2 s to connect, 5 attempts,
    /// 200 ms base backoff up to 5 s, 8 MiB body cap, 20 folder pages.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: api_key.into(),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_attempts: 5,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_body_bytes: 8 * 1024 * 1024,
            max_folder_pages: 20,
        }
    }

    /// [`NylasConfig::new`], with `base_url` taken from `NYLAS_API_URI` when
    /// it is set and not blank. The API key is passed in (it comes from a
    /// secret store, not from the environment).
    pub fn from_env(api_key: impl Into<String>) -> Self {
        Self::from_lookup(api_key, |name| std::env::var(name).ok())
    }

    fn from_lookup(api_key: impl Into<String>, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut config = Self::new(api_key);
        if let Some(uri) = lookup(ENV_API_URI) {
            let uri = uri.trim();
            if !uri.is_empty() {
                config.base_url = uri.to_owned();
            }
        }
        config
    }
}

impl fmt::Debug for NylasConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NylasConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("base_backoff", &self.base_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_folder_pages", &self.max_folder_pages)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_base_url_only_when_not_blank() {
        let c = NylasConfig::from_lookup("k", |n| {
            (n == ENV_API_URI).then(|| " https://api.eu.nylas.com ".to_owned())
        });
        assert_eq!(c.base_url, "https://api.eu.nylas.com");
        let c = NylasConfig::from_lookup("k", |_| Some("  ".to_owned()));
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        let c = NylasConfig::from_lookup("k", |_| None);
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.request_timeout, Duration::from_secs(5));
        assert_eq!(c.max_attempts, 5);
        assert_eq!(c.base_backoff, Duration::from_millis(200));
    }

    #[test]
    fn debug_redacts_the_key() {
        let shown = format!("{:?}", NylasConfig::new("nyk_v0_secret"));
        assert!(!shown.contains("nyk_v0_secret"));
        assert!(shown.contains("<redacted>"));
    }
}
