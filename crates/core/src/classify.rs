//! Keyword / domain / alias classification.
//! STUB: to be implemented (helper). API is fixed.

use crate::message::Message;
use crate::ticket::AppliedRule;

/// Ticket priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Low,
    Medium,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
}

/// Errors reading a rules file: say where and what.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("rules file is not valid TOML: {0}")]
    Toml(String),
    #[error("rules file: {0}")]
    Invalid(String),
}

/// The outcome of classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub category: String,
    pub queue: String,
    pub priority: Priority,
    pub applied_rules: Vec<AppliedRule>,
}

/// Compiled rules. Build once at init; `classify` is cheap.
#[derive(Debug, Clone)]
pub struct Rules {}

impl Rules {
    /// The compiled-in default (the cookbook's table).
    pub fn default_rules() -> Rules {
        Rules {}
    }

    /// Parse and compile a rules file.
    pub fn from_toml(text: &str) -> Result<Rules, RulesError> {
        let _ = text;
        Ok(Rules {})
    }

    /// Classify a message. `visible_text` is the body text with quotes removed
    /// (see [`crate::text::visible_text`]); the subject is taken from `msg`.
    pub fn classify(&self, msg: &Message, visible_text: &str) -> Classification {
        let _ = (msg, visible_text);
        Classification {
            category: "general".into(),
            queue: "general".into(),
            priority: Priority::Low,
            applied_rules: Vec::new(),
        }
    }
}
