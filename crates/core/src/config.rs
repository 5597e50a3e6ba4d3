//! Typed reading of configuration from environment-like lookups.
//! Pure: the caller passes the lookup (`std::env::var` in binaries, a map in
//! tests), so every binary reports a missing or bad variable the same way.

use std::str::FromStr;
use std::time::Duration;

/// A configuration problem, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required environment variable {name}: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads typed values through a lookup function.
pub struct EnvReader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> EnvReader<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        EnvReader { lookup }
    }

    /// A value, trimmed; empty counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing { name, hint })
    }

    /// A parsed value, or `default` when unset.
    pub fn parse_or<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            }),
        }
    }

    /// Milliseconds as a `Duration`.
    pub fn millis_or(&self, name: &'static str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.parse_or(name, default_ms).map(Duration::from_millis)
    }

    /// A comma-separated list (trimmed, empty entries dropped), or `default`.
    pub fn list_or(&self, name: &'static str, default: &[&str]) -> Vec<String> {
        match self.get(name) {
            None => default.iter().map(|s| s.to_string()).collect(),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// `true/false/1/0/yes/no`.
    pub fn bool_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(_) => Err(ConfigError::Invalid {
                name,
                reason: "expected true or false".into(),
            }),
        }
    }
}

/// Where a secret comes from: inline (env) or Secrets Manager (ARN).
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSpec {
    Inline(String),
    SecretsManager { arn: String },
}

impl std::fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSpec::Inline(_) => f.write_str("Inline(redacted)"),
            SecretSpec::SecretsManager { arn } => write!(f, "SecretsManager({arn})"),
        }
    }
}

impl EnvReader<'_> {
    /// `<arn_var>` (Secrets Manager) wins over `<inline_var>`.
    pub fn secret(
        &self,
        inline_var: &'static str,
        arn_var: &'static str,
        hint: &'static str,
    ) -> Result<SecretSpec, ConfigError> {
        if let Some(arn) = self.get(arn_var) {
            return Ok(SecretSpec::SecretsManager { arn });
        }
        self.get(inline_var)
            .map(SecretSpec::Inline)
            .ok_or(ConfigError::Missing {
                name: inline_var,
                hint,
            })
    }

    /// Like [`EnvReader::secret`] but absent is fine.
    pub fn optional_secret(&self, inline_var: &str, arn_var: &str) -> Option<SecretSpec> {
        if let Some(arn) = self.get(arn_var) {
            return Some(SecretSpec::SecretsManager { arn });
        }
        self.get(inline_var).map(SecretSpec::Inline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_typed_values_and_names_problems() {
        let m = env(&[
            ("A", " 12 "),
            ("B", "x"),
            ("L", "a, b,,c"),
            ("E", "  "),
            ("T", "yes"),
        ]);
        let f = |k: &str| m.get(k).cloned();
        let r = EnvReader::new(&f);
        assert_eq!(r.parse_or("A", 0usize), Ok(12));
        assert_eq!(r.parse_or("MISSING", 7usize), Ok(7));
        assert!(matches!(
            r.parse_or("B", 0usize),
            Err(ConfigError::Invalid { name: "B", .. })
        ));
        assert_eq!(r.list_or("L", &[]), ["a", "b", "c"]);
        assert_eq!(r.list_or("E", &["d"]), ["d"]);
        assert_eq!(r.bool_or("T", false), Ok(true));
        let err = r.required("QUEUE_URL", "the SQS queue URL").unwrap_err();
        assert!(err.to_string().contains("QUEUE_URL"));
    }

    #[test]
    fn arn_wins_and_inline_is_redacted() {
        let m = env(&[("S", "inline-secret"), ("S_ARN", "arn:x")]);
        let f = |k: &str| m.get(k).cloned();
        let r = EnvReader::new(&f);
        assert_eq!(
            r.secret("S", "S_ARN", "h").unwrap(),
            SecretSpec::SecretsManager {
                arn: "arn:x".into()
            }
        );
        let only_inline = r.secret("S", "NOPE", "h").unwrap();
        assert!(!format!("{only_inline:?}").contains("inline-secret"));
        assert!(matches!(
            r.secret("X", "Y", "h"),
            Err(ConfigError::Missing { name: "X", .. })
        ));
    }
}
