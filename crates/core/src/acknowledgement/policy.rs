//! The `[acknowledgements]` section of the rules file: whether new tickets
//! are acknowledged, how many acknowledgements one sender may get per day,
//! and the response time promised per priority.
//!
//! ```toml
//! [acknowledgements]
//! enabled = true             # off when the section is absent
//! per_sender_per_day = 1     # the default
//! [acknowledgements.response_times]
//! high = "4 hours"
//! medium = "1 business day"
//! low = "2 business days"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::classify::{Priority, RulesError};

/// Longest response-time text.
const MAX_RESPONSE_TIME_CHARS: usize = 64;
/// Most acknowledgements one sender may be allowed per day.
const MAX_PER_SENDER_PER_DAY: u32 = 100;

/// The section as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckSection {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    per_sender_per_day: Option<u32>,
    #[serde(default)]
    response_times: BTreeMap<String, String>,
}

/// The checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckPolicy {
    pub enabled: bool,
    /// At most this many acknowledgements to one sender in 24 hours.
    pub per_sender_per_day: u32,
    high: String,
    medium: String,
    low: String,
}

impl Default for AckPolicy {
    /// Off; when turned on: 1 per sender per day, 4 hours / 1 business day
    /// / 2 business days.
    fn default() -> Self {
        AckPolicy {
            enabled: false,
            per_sender_per_day: 1,
            high: "4 hours".into(),
            medium: "1 business day".into(),
            low: "2 business days".into(),
        }
    }
}

impl AckPolicy {
    pub(crate) fn compile(section: Option<AckSection>) -> Result<AckPolicy, RulesError> {
        let mut policy = AckPolicy::default();
        let Some(section) = section else {
            return Ok(policy);
        };
        policy.enabled = section.enabled;
        if let Some(n) = section.per_sender_per_day {
            if !(1..=MAX_PER_SENDER_PER_DAY).contains(&n) {
                return Err(RulesError::Invalid(format!(
                    "acknowledgements.per_sender_per_day must be 1..={MAX_PER_SENDER_PER_DAY}"
                )));
            }
            policy.per_sender_per_day = n;
        }
        for (priority, text) in section.response_times {
            let p: Priority = priority.parse()?;
            let text = text.trim().to_string();
            if text.is_empty()
                || text.chars().count() > MAX_RESPONSE_TIME_CHARS
                || text.chars().any(char::is_control)
            {
                return Err(RulesError::Invalid(format!(
                    "acknowledgements.response_times.{priority}: 1 to {MAX_RESPONSE_TIME_CHARS} characters of plain text"
                )));
            }
            match p {
                Priority::High => policy.high = text,
                Priority::Medium => policy.medium = text,
                Priority::Low => policy.low = text,
            }
        }
        Ok(policy)
    }

    /// The response time promised for a ticket of `priority`.
    pub fn response_time(&self, priority: Priority) -> &str {
        match priority {
            Priority::High => &self.high,
            Priority::Medium => &self.medium,
            Priority::Low => &self.low,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Rules;

    #[test]
    fn off_unless_enabled_with_defaults() {
        let r = Rules::from_toml("").unwrap();
        assert_eq!(r.acknowledgements(), &AckPolicy::default());
        assert!(!r.acknowledgements().enabled);
        let r = Rules::from_toml(
            "[acknowledgements]\nenabled = true\n[acknowledgements.response_times]\nhigh = \"1 hour\"\n",
        )
        .unwrap();
        let p = r.acknowledgements();
        assert!(p.enabled);
        assert_eq!(p.per_sender_per_day, 1);
        assert_eq!(p.response_time(Priority::High), "1 hour");
        assert_eq!(p.response_time(Priority::Medium), "1 business day");
        assert_eq!(p.response_time(Priority::Low), "2 business days");
    }

    #[test]
    fn bad_sections_are_refused_with_where() {
        for (text, want) in [
            (
                "[acknowledgements]\nper_sender_per_day = 0\n",
                "per_sender_per_day",
            ),
            (
                "[acknowledgements]\nper_sender_per_day = 1000\n",
                "per_sender_per_day",
            ),
            (
                "[acknowledgements.response_times]\nurgent = \"now\"\n",
                "urgent",
            ),
            (
                "[acknowledgements.response_times]\nhigh = \"\"\n",
                "response_times.high",
            ),
            (
                "[acknowledgements.response_times]\nhigh = \"a\\nb\"\n",
                "response_times.high",
            ),
            ("[acknowledgements]\nenable = true\n", "enable"),
        ] {
            let e = Rules::from_toml(text).map(|_| ()).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
