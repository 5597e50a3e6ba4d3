//! Keyword / domain / alias classification.
//!
//! Rules come from TOML (the compiled-in default is
//! `crates/core/rules/default.toml`, [`DEFAULT_RULES_TOML`]):
//!
//! ```toml
//! vip_domains = ["bigcorp.com"]
//!
//! [[rules]]
//! name = "billing"          # unique
//! category = "billing"
//! queue = "billing"         # optional, default: the category
//! priority = "medium"       # low | medium | high
//! keywords = ["invoice", "refund", "close account"]
//!
//! [[mailboxes]]
//! address = "security@example.com"
//! queue = "security"        # optional
//! priority = "high"         # optional
//! ```
//!
//! How a message is classified (each decision is recorded in
//! `applied_rules`, in the order it was applied):
//!
//! 1. **Keywords.** The subject and the visible body text are scanned once
//!    for the keywords of all rules ([`crate::keywords`]): whole words or
//!    phrases, case-insensitive (Unicode lower-casing), whitespace runs
//!    counted as one space, in any inflected form (Snowball stems: "errors"
//!    is `error`, "charged" is `charge`; `down` is still not found in
//!    `download`), and not right after a negation ("not urgent"). Every
//!    keyword found is evidence for its rule: [`SUBJECT_WEIGHT`] in the
//!    subject, [`BODY_WEIGHT`] per mention in the body, at most
//!    [`KEYWORD_CAP`] per keyword. The first rule **in file order** with
//!    evidence sets category, queue and priority; its keywords (up to five)
//!    and score are recorded (`keyword=...`, `score=N`). No evidence: the
//!    `default` rule, category and queue `general`, priority low.
//! 2. **Alias.** Only when no keyword rule matched: a `to`/`cc` recipient
//!    `local+tag@domain` whose tag (case-insensitive) is a *known queue* -
//!    the queue of a rule or of a mailbox - routes to that queue (rule
//!    `alias`). Other tags are ignored: plus-addressing is also used for
//!    tracking tags, and anyone can write to `support+anything@`, so tags
//!    must not create queues.
//! 3. **Mailbox.** The first `[[mailboxes]]` entry (file order) whose
//!    address is a `to`/`cc` recipient (case-insensitive) sets its `queue`,
//!    over the keyword rule's (an address is explicit routing), and raises
//!    the priority to its `priority` (rule `mailbox`).
//! 4. **VIP.** A sender whose domain is a VIP domain or one of its
//!    subdomains raises the priority to high (rule `vip_domain`).
//!
//! Priorities only ever go up.

use std::str::FromStr;

use crate::keywords::KeywordSet;
use serde::Deserialize;

use crate::message::Message;
use crate::ticket::AppliedRule;

/// The compiled-in rules file.
pub const DEFAULT_RULES_TOML: &str = include_str!("../rules/default.toml");

/// Category and queue when no keyword rule matches.
pub const GENERAL: &str = "general";

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

impl FromStr for Priority {
    type Err = RulesError;

    /// `low`, `medium` or `high`, case-insensitive.
    fn from_str(s: &str) -> Result<Priority, RulesError> {
        let s = s.trim();
        [Priority::Low, Priority::Medium, Priority::High]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                RulesError::Invalid(format!(
                    "unknown priority `{s}` (expected low, medium or high)"
                ))
            })
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

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    vip_domains: Vec<String>,
    #[serde(default)]
    rules: Vec<RuleEntry>,
    #[serde(default)]
    mailboxes: Vec<MailboxEntry>,
    /// Where events go: [`crate::routing`].
    #[serde(default)]
    destinations: std::collections::BTreeMap<String, crate::routing::DestinationEntry>,
    #[serde(default)]
    routes: std::collections::BTreeMap<String, Vec<String>>,
    /// Auto-acknowledgements: [`crate::acknowledgement::AckPolicy`].
    #[serde(default)]
    acknowledgements: Option<crate::acknowledgement::policy::AckSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    name: String,
    category: String,
    queue: Option<String>,
    priority: String,
    #[serde(default)]
    keywords: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MailboxEntry {
    address: String,
    queue: Option<String>,
    priority: Option<String>,
    /// The mailbox receives through a mailing list (a Google Group): list
    /// headers on mail to it do not make it bulk.
    #[serde(default)]
    lists: bool,
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    category: String,
    queue: String,
    priority: Priority,
}

#[derive(Debug, Clone)]
struct Mailbox {
    /// Lower-case.
    address: String,
    queue: Option<String>,
    priority: Option<Priority>,
}

/// Evidence weight of a keyword found in the subject.
pub const SUBJECT_WEIGHT: u32 = 3;
/// Evidence weight of a keyword found in the body.
pub const BODY_WEIGHT: u32 = 1;
/// The most one keyword adds to its rule's score, however often it repeats.
pub const KEYWORD_CAP: u32 = 4;
/// Keywords named as evidence in `applied_rules`.
const EVIDENCE_SHOWN: usize = 5;

/// The scored evidence for one rule.
#[derive(Debug, Clone, Default)]
struct Evidence {
    score: u32,
    /// Distinct keywords, in the order first found.
    keywords: Vec<usize>,
}

/// Compiled rules. Build once at init; `classify` is cheap.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Keywords of every rule, matched on word forms.
    keywords: KeywordSet,
    /// Lower-case, without a leading `@` or `.`.
    vip_domains: Vec<String>,
    mailboxes: Vec<Mailbox>,
    /// Mailboxes with `lists = true`, lower-case.
    list_mailboxes: Vec<String>,
    /// Queues of rules and mailboxes, lower-case: the aliases that route.
    known_queues: Vec<String>,
    /// Destinations of ticket events per queue.
    routing: crate::routing::Routing,
    /// Auto-acknowledgements.
    acknowledgements: crate::acknowledgement::AckPolicy,
}

impl Default for Rules {
    fn default() -> Self {
        Rules::default_rules()
    }
}

impl Rules {
    /// The compiled-in default (the cookbook's table).
    pub fn default_rules() -> Rules {
        // The default file is tested to compile; never panic here anyway.
        Rules::from_toml(DEFAULT_RULES_TOML).unwrap_or_else(|_| Rules::empty())
    }

    /// No rules at all: everything is `general` / low.
    pub fn empty() -> Rules {
        Rules {
            rules: Vec::new(),
            keywords: KeywordSet::empty(),
            vip_domains: Vec::new(),
            mailboxes: Vec::new(),
            list_mailboxes: Vec::new(),
            known_queues: Vec::new(),
            routing: crate::routing::Routing::default(),
            acknowledgements: crate::acknowledgement::AckPolicy::default(),
        }
    }

    /// Parse and compile a rules file.
    pub fn from_toml(text: &str) -> Result<Rules, RulesError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| RulesError::Toml(e.to_string()))?;
        Rules::compile(file)
    }

    fn compile(file: RulesFile) -> Result<Rules, RulesError> {
        let invalid = |msg: String| RulesError::Invalid(msg);
        let routing = crate::routing::Routing::compile(file.destinations, file.routes)?;
        let acknowledgements = crate::acknowledgement::AckPolicy::compile(file.acknowledgements)?;
        let mut rules: Vec<Rule> = Vec::with_capacity(file.rules.len());
        let mut patterns: Vec<(usize, String)> = Vec::new();
        for (index, entry) in file.rules.into_iter().enumerate() {
            let name = entry.name.trim().to_string();
            if name.is_empty() {
                return Err(invalid(format!("rule #{} has an empty name", index + 1)));
            }
            if rules.iter().any(|r| r.name == name) {
                return Err(invalid(format!("duplicate rule name `{name}`")));
            }
            let category = entry.category.trim().to_string();
            if category.is_empty() {
                return Err(invalid(format!("rule `{name}`: empty category")));
            }
            let queue = match entry.queue {
                Some(q) if q.trim().is_empty() => {
                    return Err(invalid(format!("rule `{name}`: empty queue")));
                }
                Some(q) => q.trim().to_string(),
                None => category.clone(),
            };
            let priority = entry
                .priority
                .parse::<Priority>()
                .map_err(|e| invalid(format!("rule `{name}`: {}", inner(e))))?;
            if entry.keywords.is_empty() {
                return Err(invalid(format!("rule `{name}` has no keywords")));
            }
            for (k, keyword) in entry.keywords.iter().enumerate() {
                let normalized = normalize(keyword);
                if normalized.is_empty() {
                    return Err(invalid(format!(
                        "rule `{name}`: keyword #{} is empty",
                        k + 1
                    )));
                }
                patterns.push((rules.len(), normalized));
            }
            rules.push(Rule {
                name,
                category,
                queue,
                priority,
            });
        }

        let mut vip_domains = Vec::with_capacity(file.vip_domains.len());
        for domain in file.vip_domains {
            let d = domain.trim().trim_start_matches(['@', '.']).to_lowercase();
            if d.is_empty() {
                return Err(invalid("vip_domains: empty domain".to_string()));
            }
            vip_domains.push(d);
        }

        let mut mailboxes = Vec::with_capacity(file.mailboxes.len());
        let mut list_mailboxes = Vec::new();
        for entry in file.mailboxes {
            let address = entry.address.trim().to_lowercase();
            if !address.contains('@') {
                return Err(invalid(format!(
                    "mailboxes: `{}` is not an email address",
                    entry.address
                )));
            }
            let queue = match entry.queue {
                Some(q) if q.trim().is_empty() => {
                    return Err(invalid(format!("mailbox `{address}`: empty queue")));
                }
                q => q.map(|q| q.trim().to_string()),
            };
            let priority = entry
                .priority
                .map(|p| p.parse::<Priority>())
                .transpose()
                .map_err(|e| invalid(format!("mailbox `{address}`: {}", inner(e))))?;
            if entry.lists {
                list_mailboxes.push(address.clone());
            }
            mailboxes.push(Mailbox {
                address,
                queue,
                priority,
            });
        }

        let mut known_queues: Vec<String> = rules
            .iter()
            .map(|r| r.queue.to_lowercase())
            .chain(
                mailboxes
                    .iter()
                    .filter_map(|m| m.queue.as_deref().map(str::to_lowercase)),
            )
            .collect();
        known_queues.sort();
        known_queues.dedup();

        let keywords = KeywordSet::new(patterns)
            .map_err(|e| invalid(format!("keywords do not compile: {e}")))?;

        Ok(Rules {
            rules,
            keywords,
            vip_domains,
            mailboxes,
            list_mailboxes,
            known_queues,
            routing,
            acknowledgements,
        })
    }

    /// Our mailboxes that receive through a mailing list, lower-case (for
    /// [`crate::filters::FilterContext::list_mailboxes`]).
    pub fn list_mailboxes(&self) -> &[String] {
        &self.list_mailboxes
    }

    /// Where ticket events go, per queue.
    pub fn routing(&self) -> &crate::routing::Routing {
        &self.routing
    }

    /// Whether and how new tickets are acknowledged.
    pub fn acknowledgements(&self) -> &crate::acknowledgement::AckPolicy {
        &self.acknowledgements
    }

    /// Number of keyword rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Number of keywords over all rules.
    pub fn keyword_count(&self) -> usize {
        self.keywords.keywords().len()
    }

    /// Classify a message. `visible_text` is the body text with quotes removed
    /// (see [`crate::text::visible_text`]); the subject is taken from `msg`.
    pub fn classify(&self, msg: &Message, visible_text: &str) -> Classification {
        let mut applied = Vec::new();
        let mut record = |rule: &str, decision: String| {
            applied.push(AppliedRule {
                rule: rule.to_string(),
                decision,
            });
        };

        // 1. Keywords: the best-scoring rule.
        let hit = self.best_rule(msg.subject.as_deref().unwrap_or_default(), visible_text);
        let (category, mut queue, mut priority) = match &hit {
            Some((rule, evidence)) => {
                for &k in evidence.keywords.iter().take(EVIDENCE_SHOWN) {
                    if let Some(kw) = self.keywords.keywords().get(k) {
                        record(&rule.name, format!("keyword={}", kw.text));
                    }
                }
                record(&rule.name, format!("score={}", evidence.score));
                record(&rule.name, format!("category={}", rule.category));
                record(&rule.name, format!("queue={}", rule.queue));
                record(&rule.name, format!("priority={}", rule.priority.as_str()));
                (rule.category.clone(), rule.queue.clone(), rule.priority)
            }
            None => {
                record("default", format!("category={GENERAL}"));
                record("default", format!("queue={GENERAL}"));
                record("default", format!("priority={}", Priority::Low.as_str()));
                (GENERAL.to_string(), GENERAL.to_string(), Priority::Low)
            }
        };
        // The category is not changed by the steps below.
        let recipients = || msg.to.iter().chain(msg.cc.iter()).map(|p| p.email.trim());

        // 2. Alias, only without a keyword match.
        if hit.is_none()
            && let Some(tag) = recipients().find_map(|email| self.alias_queue(email))
        {
            record("alias", format!("queue={tag}"));
            queue = tag;
        }

        // 3. Mailbox.
        if let Some(mailbox) = self
            .mailboxes
            .iter()
            .find(|m| recipients().any(|r| r.eq_ignore_ascii_case(&m.address)))
        {
            if let Some(q) = &mailbox.queue {
                record("mailbox", format!("queue={q}"));
                queue = q.clone();
            }
            if let Some(p) = mailbox.priority {
                record("mailbox", format!("priority={}", p.as_str()));
                priority = priority.max(p);
            }
        }

        // 4. VIP sender domain.
        let sender_domain = msg
            .sender_email()
            .and_then(|e| e.rsplit_once('@').map(|(_, d)| d.to_string()));
        if sender_domain.is_some_and(|d| self.is_vip(&d)) {
            record(
                "vip_domain",
                format!("priority={}", Priority::High.as_str()),
            );
            priority = Priority::High;
        }

        Classification {
            category,
            queue,
            priority,
            applied_rules: applied,
        }
    }

    /// The first rule in file order with evidence in the subject or the
    /// text, and that evidence, scored: each keyword found adds
    /// [`SUBJECT_WEIGHT`] in the subject and [`BODY_WEIGHT`] per mention in
    /// the body, at most [`KEYWORD_CAP`] per keyword; negated mentions add
    /// nothing.
    fn best_rule(&self, subject: &str, text: &str) -> Option<(&Rule, Evidence)> {
        let mut bytes = Vec::with_capacity(subject.len() + text.len() + 1);
        push_normalized(&mut bytes, subject);
        let body_start = bytes.len();
        // Not whitespace and not alphanumeric: a boundary no phrase crosses.
        bytes.push(0x1f);
        push_normalized(&mut bytes, text);
        let haystack = into_string(bytes);

        // The first rule in file order wins: only its hits are needed.
        let mut per_keyword: Vec<(usize, u32)> = Vec::new();
        for hit in self.keywords.first_rule_hits(&haystack) {
            let weight = if hit.start < body_start {
                SUBJECT_WEIGHT
            } else {
                BODY_WEIGHT
            };
            match per_keyword.iter_mut().find(|(k, _)| *k == hit.keyword) {
                Some((_, w)) => *w = (*w + weight).min(KEYWORD_CAP),
                None => per_keyword.push((hit.keyword, weight.min(KEYWORD_CAP))),
            }
        }
        let mut evidence: Vec<Evidence> = vec![Evidence::default(); self.rules.len()];
        for (k, weight) in per_keyword {
            let Some(rule) = self.keywords.keywords().get(k).map(|kw| kw.rule) else {
                continue;
            };
            if let Some(e) = evidence.get_mut(rule) {
                e.score += weight;
                e.keywords.push(k);
            }
        }
        // The first rule in file order with evidence (the score is
        // recorded; choosing by it waits for the evaluation set of #14).
        let (index, best) = evidence
            .into_iter()
            .enumerate()
            .find(|(_, e)| e.score > 0)?;
        Some((self.rules.get(index)?, best))
    }

    /// The known queue named by the `+tag` of an address, if any.
    fn alias_queue(&self, email: &str) -> Option<String> {
        let (local, _) = email.rsplit_once('@')?;
        let (_, tag) = local.split_once('+')?;
        let tag = tag.trim().to_lowercase();
        self.known_queues
            .binary_search(&tag)
            .ok()
            .and_then(|i| self.known_queues.get(i).cloned())
    }

    fn is_vip(&self, domain: &str) -> bool {
        let domain = domain.trim().to_lowercase();
        self.vip_domains.iter().any(|vip| {
            domain == *vip
                || domain
                    .strip_suffix(vip.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
    }
}

/// The message of a `RulesError::Invalid`, without the prefix.
fn inner(e: RulesError) -> String {
    match e {
        RulesError::Toml(m) | RulesError::Invalid(m) => m,
    }
}

/// Lower-cased (per char, Unicode), whitespace runs as one space, trimmed.
fn normalize(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    push_normalized(&mut out, s.trim());
    into_string(out).trim_end().to_string()
}

/// Appends `s` lower-cased per char, with whitespace runs as one space, as
/// UTF-8 bytes. Keywords and text go through the same function, so offsets
/// are only ever taken on the lowered text.
fn push_normalized(out: &mut Vec<u8>, s: &str) {
    let mut space = false;
    if s.is_ascii() {
        for &b in s.as_bytes() {
            if b.is_ascii_whitespace() {
                space = true;
                continue;
            }
            if space {
                out.push(b' ');
                space = false;
            }
            out.push(b.to_ascii_lowercase());
        }
    } else {
        let mut buf = [0u8; 4];
        for c in s.chars() {
            if c.is_whitespace() {
                space = true;
                continue;
            }
            if space {
                out.push(b' ');
                space = false;
            }
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase() as u8);
            } else {
                for lower in c.to_lowercase() {
                    out.extend_from_slice(lower.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
    }
    if space {
        out.push(b' ');
    }
}

/// The bytes built by [`push_normalized`] (always UTF-8: whole chars only).
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Participant;

    fn msg(subject: &str) -> Message {
        Message {
            subject: Some(subject.to_string()),
            from: vec![Participant {
                name: String::new(),
                email: "ann@customer.test".into(),
            }],
            ..Message::default()
        }
    }

    #[test]
    fn default_file_compiles_to_the_table() {
        let rules = Rules::from_toml(DEFAULT_RULES_TOML).expect("default rules");
        let names: Vec<&str> = rules.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "incidents",
                "bugs",
                "billing",
                "feature_requests",
                "churn_risk"
            ]
        );
        assert_eq!(rules.keyword_count(), 23);
        assert_eq!(Rules::default_rules().rule_count(), 5);
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize("  Not \t\n Working "), "not working");
        // 'İ' lower-cases to two chars; offsets are taken on the result.
        assert_eq!(normalize("İSSUE"), "i\u{307}ssue");
    }

    #[test]
    fn boundaries_on_lowered_text() {
        let rules = Rules::default_rules();
        // The dotted capital I grows when lower-cased: the match after it
        // must still be found at the right offset.
        let c = rules.classify(&msg("İİİ refund"), "");
        assert_eq!(c.category, "billing");
        let c = rules.classify(&msg("ÉTAT: refundé"), "");
        assert_eq!(c.category, GENERAL, "é is alphanumeric: no boundary");
    }

    #[test]
    fn priority_parses() {
        assert_eq!("HIGH".parse::<Priority>().ok(), Some(Priority::High));
        assert!("urgent".parse::<Priority>().is_err());
    }
}
