//! Where ticket events go (issue #12): named destinations and, per queue,
//! the destinations its events are delivered to. Part of the rules file:
//!
//! ```toml
//! [destinations.oncall]
//! type = "slack"                      # slack | webhook
//! url_var = "SLACK_ONCALL_URL"        # the URL is a secret: this variable
//!                                     # locally, <VAR>_ARN in AWS
//! [destinations.helpdesk]
//! type = "webhook"                    # POST, signed with Standard Webhooks
//! url_var = "HELPDESK_WEBHOOK_URL"
//! signing_secret_var = "HELPDESK_WEBHOOK_SECRET"
//!
//! [routes]
//! default = ["helpdesk"]              # queues without a route of their own
//! incidents = ["oncall", "helpdesk"]
//! billing = ["helpdesk"]
//! ```
//!
//! The file names variables, never secret values; the composition code
//! resolves them (environment, or Secrets Manager through `<VAR>_ARN`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::classify::RulesError;

/// How a destination is delivered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    /// A Slack incoming webhook: the compact message of [`crate::slack`].
    Slack,
    /// Any HTTPS endpoint: the event as JSON, signed with Standard Webhooks
    /// ([`crate::signed_delivery`]).
    Webhook,
}

/// A destination as written in the rules file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DestinationEntry {
    #[serde(rename = "type")]
    kind: DestinationKind,
    url_var: String,
    #[serde(default)]
    signing_secret_var: Option<String>,
}

/// One destination, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub name: String,
    pub kind: DestinationKind,
    /// The variable holding the URL (`<VAR>_ARN` in AWS).
    pub url_var: String,
    /// The variable holding the signing key (webhooks only).
    pub signing_secret_var: Option<String>,
}

/// The checked destinations and routes of a rules file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    destinations: Vec<Destination>,
    /// Queue (lower case) or `default` -> indexes into `destinations`.
    routes: BTreeMap<String, Vec<usize>>,
}

/// The route used for queues without one of their own.
pub const DEFAULT_ROUTE: &str = "default";

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

impl Routing {
    /// Check the file's `[destinations]` and `[routes]`.
    pub(crate) fn compile(
        destinations: BTreeMap<String, DestinationEntry>,
        routes: BTreeMap<String, Vec<String>>,
    ) -> Result<Routing, RulesError> {
        let invalid = |m: String| RulesError::Invalid(m);
        let mut out = Routing::default();
        for (name, entry) in destinations {
            let name = name.trim().to_string();
            if name.is_empty() {
                return Err(invalid("a destination has an empty name".into()));
            }
            if !is_variable_name(&entry.url_var) {
                return Err(invalid(format!(
                    "destination `{name}`: url_var must be an environment variable name (A-Z, 0-9, _)"
                )));
            }
            let signing = match (entry.kind, entry.signing_secret_var) {
                (DestinationKind::Webhook, Some(v)) if is_variable_name(&v) => Some(v),
                (DestinationKind::Webhook, _) => {
                    return Err(invalid(format!(
                        "destination `{name}`: a webhook needs signing_secret_var (an environment variable name)"
                    )));
                }
                (DestinationKind::Slack, None) => None,
                (DestinationKind::Slack, Some(_)) => {
                    return Err(invalid(format!(
                        "destination `{name}`: Slack incoming webhooks are not signed; remove signing_secret_var"
                    )));
                }
            };
            out.destinations.push(Destination {
                name,
                kind: entry.kind,
                url_var: entry.url_var,
                signing_secret_var: signing,
            });
        }
        for (queue, names) in routes {
            let queue = queue.trim().to_ascii_lowercase();
            let mut targets = Vec::with_capacity(names.len());
            for n in names {
                let Some(i) = out.destinations.iter().position(|d| d.name == n.trim()) else {
                    return Err(invalid(format!(
                        "route `{queue}`: no destination named `{}`",
                        n.trim()
                    )));
                };
                if !targets.contains(&i) {
                    targets.push(i);
                }
            }
            out.routes.insert(queue, targets);
        }
        Ok(out)
    }

    /// The destinations of a queue's events: its own route, else the
    /// default route, else none.
    pub fn destinations_for(&self, queue: &str) -> impl Iterator<Item = &Destination> {
        let queue = queue.trim().to_ascii_lowercase();
        self.routes
            .get(&queue)
            .or_else(|| self.routes.get(DEFAULT_ROUTE))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.destinations.get(i))
    }

    /// Every destination (to resolve their secrets once at start).
    pub fn destinations(&self) -> &[Destination] {
        &self.destinations
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Rules;

    const FILE: &str = r#"
[[rules]]
name = "incidents"
category = "incidents"
priority = "high"
keywords = ["down"]

[destinations.oncall]
type = "slack"
url_var = "SLACK_ONCALL_URL"

[destinations.helpdesk]
type = "webhook"
url_var = "HELPDESK_WEBHOOK_URL"
signing_secret_var = "HELPDESK_WEBHOOK_SECRET"

[routes]
default = ["helpdesk"]
Incidents = ["oncall", "helpdesk", "oncall"]
"#;

    fn names<'a>(r: &'a Routing, queue: &str) -> Vec<&'a str> {
        r.destinations_for(queue).map(|d| d.name.as_str()).collect()
    }

    #[test]
    fn queues_route_to_their_destinations_or_the_default() {
        let rules = Rules::from_toml(FILE).unwrap();
        let r = rules.routing();
        assert_eq!(names(r, "incidents"), ["oncall", "helpdesk"]);
        assert_eq!(names(r, "billing"), ["helpdesk"]);
        assert_eq!(r.destinations().len(), 2);
        let slack = r.destinations_for("incidents").next().unwrap();
        assert_eq!(
            (slack.kind, slack.url_var.as_str()),
            (DestinationKind::Slack, "SLACK_ONCALL_URL")
        );
        // The compiled-in rules route nowhere.
        assert_eq!(
            Rules::default_rules()
                .routing()
                .destinations_for("incidents")
                .count(),
            0
        );
    }

    #[test]
    fn bad_routing_is_refused_with_the_reason() {
        for (bad, want) in [
            (
                FILE.replace("\"oncall\", \"helpdesk\"", "\"pager\""),
                "no destination named `pager`",
            ),
            (
                FILE.replace("SLACK_ONCALL_URL", "https://hooks.slack.com/x"),
                "url_var must be",
            ),
            (
                FILE.replace("signing_secret_var = \"HELPDESK_WEBHOOK_SECRET\"", ""),
                "needs signing_secret_var",
            ),
            (
                FILE.replace("type = \"slack\"", "type = \"pager\""),
                "not valid TOML",
            ),
        ] {
            let e = Rules::from_toml(&bad).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }
}
