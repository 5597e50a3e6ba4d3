//! What the `dispatch` Lambda reads from its environment.

use triage_core::config::{ConfigError, EnvReader};

/// The `dispatch` function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchConfig {
    /// `EVENTS_DLQ_URL`: where undeliverable events go (required).
    pub dead_letter_url: String,
    /// `EVENT_BUS_NAME`: every event is also published there when set.
    pub event_bus: Option<String>,
    /// `DESTINATION_SECRETS_ARN`: one Secrets Manager secret holding a JSON
    /// object of the variables the rules file's destinations name
    /// (`{"SLACK_ONCALL_URL": "https://hooks.slack.com/...", ...}`).
    /// A variable set in the environment (or as `<VAR>_ARN`) wins.
    pub destination_secrets: Option<String>,
}

impl DispatchConfig {
    pub fn from_env(env: &EnvReader<'_>) -> Result<DispatchConfig, ConfigError> {
        Ok(DispatchConfig {
            dead_letter_url: env.required(
                "EVENTS_DLQ_URL",
                "the URL of the events dead-letter queue (template.yaml sets it)",
            )?,
            event_bus: env.get("EVENT_BUS_NAME"),
            destination_secrets: env.get("DESTINATION_SECRETS_ARN"),
        })
    }
}

/// Why the destinations secret cannot be used. Never shows its value.
#[derive(Debug, thiserror::Error)]
pub enum VariablesError {
    #[error("DESTINATION_SECRETS_ARN: the secret is not a JSON object of strings")]
    NotAnObject,
}

/// The variables of the destinations secret: a JSON object of strings.
pub fn variables(
    secret: &str,
) -> Result<std::collections::HashMap<String, String>, VariablesError> {
    serde_json::from_str(secret).map_err(|_| VariablesError::NotAnObject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_environment() {
        let vars = |k: &str| match k {
            "EVENTS_DLQ_URL" => Some("https://sqs.example/q".to_string()),
            "EVENT_BUS_NAME" => Some(" ".to_string()),
            _ => None,
        };
        let c = DispatchConfig::from_env(&EnvReader::new(&vars)).unwrap();
        assert_eq!(c.dead_letter_url, "https://sqs.example/q");
        assert_eq!(c.event_bus, None);
        let none = |_: &str| None;
        assert!(DispatchConfig::from_env(&EnvReader::new(&none)).is_err());
    }

    #[test]
    fn the_destinations_secret_is_an_object_of_strings() {
        let v = variables(r#"{"A_URL": "https://x.example", "A_KEY": "whsec_AQID"}"#).unwrap();
        assert_eq!(v["A_URL"], "https://x.example");
        assert!(variables("[1]").is_err());
        assert!(variables(r#"{"A": 1}"#).is_err());
        let e = variables("not json SECRETVALUE").unwrap_err();
        assert!(!e.to_string().contains("SECRETVALUE"));
    }
}
