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
//! language = "de"           # optional: only for mail in this language
//!
//! [[mailboxes]]
//! address = "security@example.com"  # or "security@" at any domain
//! queue = "security"        # optional
//! priority = "high"         # optional
//!
//! [[languages]]
//! code = "de"               # ISO 639-1, see crate::language
//! queue = "support-de"      # optional
//! priority = "medium"       # optional
//! ```
//!
//! How a message is classified (each decision is recorded in
//! `applied_rules`, in the order it was applied):
//!
//! 0. **Language.** The language of the subject and the start of the
//!    visible text is detected ([`crate::language`]) and recorded
//!    (`language=de`); it is stored on the ticket. Short or mixed texts
//!    may have none.
//! 1. **Keywords.** The subject and the visible body text (its first
//!    [`BODY_SCAN_BYTES`]) are scanned for the keywords of the rules without a language and of the rules of
//!    the detected language ([`crate::keywords`]): whole words or phrases,
//!    case-insensitive (Unicode lower-casing), whitespace runs counted as
//!    one space, in any inflected form (Snowball stems of the rule's
//!    language; rules without one are stemmed as English on English or
//!    undetected mail and matched as written on other languages, where
//!    English stems find false friends; "errors" is `error`,
//!    "charged" is `charge`; `down` is still not found in `download`; in
//!    German also as the head of a compound: `ausfall` in "Serverausfall"),
//!    and not right after a negation ("not urgent"). Every keyword found is
//!    evidence for its rule: [`SUBJECT_WEIGHT`] in the subject,
//!    [`BODY_WEIGHT`] per mention in the body, at most [`KEYWORD_CAP`] per
//!    keyword; distinct keywords add up; a rule of priority high counts its
//!    evidence [`HIGH_PRIORITY_FACTOR`] times. The rule with the **highest
//!    score** sets category, queue and priority; a tie goes to the rule
//!    earlier in the file. Its keywords (up to five) and score are recorded
//!    (`keyword=...`, `score=N`). No evidence: the `default` rule, category
//!    and queue `general`, priority low.
//! 2. **Alias.** Only when no keyword rule matched: a `to`/`cc` recipient
//!    `local+tag@domain` whose tag (case-insensitive) is a *known queue* -
//!    the queue of a rule or of a mailbox - routes to that queue (rule
//!    `alias`). Other tags are ignored: plus-addressing is also used for
//!    tracking tags, and anyone can write to `support+anything@`, so tags
//!    must not create queues.
//! 3. **Language routing.** The first `[[languages]]` entry for the
//!    detected language sets its `queue` and raises the priority to its
//!    `priority` (rule `language`).
//! 4. **Mailbox.** The first `[[mailboxes]]` entry (file order) whose
//!    address is a `to`/`cc` recipient (case-insensitive) sets its `queue`,
//!    over the keyword rule's (an address is explicit routing), and raises
//!    the priority to its `priority` (rule `mailbox`). An address written
//!    as `local@` (no domain) matches that local part at any domain: the
//!    helpdesk recipe's `billing@` and `security@` of each of our domains.
//! 5. **VIP.** A sender whose domain is a VIP domain or one of its
//!    subdomains raises the priority to high (rule `vip_domain`).
//!
//! Priorities only ever go up.

use std::str::FromStr;

use crate::keywords::KeywordSet;
use crate::language::{Language, LanguageDetector};
use serde::Deserialize;

use crate::message::Message;
use crate::ticket::AppliedRule;

/// The compiled-in rules file.
pub const DEFAULT_RULES_TOML: &str = include_str!("../rules/default.toml");

/// Category and queue when no keyword rule matches.
pub const GENERAL: &str = "general";

/// Ticket priority.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
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
    /// ISO 639-1 code of the detected language, if any.
    pub language: Option<String>,
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
    #[serde(default)]
    languages: Vec<LanguageEntry>,
    /// Where events go: [`crate::routing`].
    #[serde(default)]
    destinations: std::collections::BTreeMap<String, crate::routing::DestinationEntry>,
    #[serde(default)]
    routes: std::collections::BTreeMap<String, Vec<String>>,
    /// Auto-acknowledgements: [`crate::acknowledgement::AckPolicy`].
    #[serde(default)]
    acknowledgements: Option<crate::acknowledgement::policy::AckSection>,
    /// Amazon SES verdicts: [`crate::provider::ses::verdicts::VerdictPolicy`].
    #[serde(default)]
    ses: crate::provider::ses::verdicts::VerdictPolicy,
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
    language: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageEntry {
    code: String,
    queue: Option<String>,
    priority: Option<String>,
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
struct LanguageRoute {
    language: Language,
    queue: Option<String>,
    priority: Option<Priority>,
}

/// The keywords of the rules of one language (`None`: the rules without
/// one, stemmed as English).
#[derive(Debug, Clone)]
struct KeywordGroup {
    language: Option<Language>,
    set: KeywordSet,
    /// For the rules without a language: the same keywords matched as
    /// written, for mail detected in another language than English.
    written: Option<KeywordSet>,
}

#[derive(Debug, Clone)]
struct Mailbox {
    /// Lower-case.
    address: String,
    queue: Option<String>,
    priority: Option<Priority>,
}

/// Evidence weight of a keyword found in the subject.
pub const SUBJECT_WEIGHT: u32 = 2;
/// Evidence weight of a keyword found in the body.
pub const BODY_WEIGHT: u32 = 1;
/// The most one keyword adds to its rule's score, however often it repeats.
pub const KEYWORD_CAP: u32 = 2;
/// Keywords are looked for in this much of the visible body text (cut at
/// a character boundary). What a customer asks is at the top; what follows
/// a long message's first 16 KiB is pasted logs, listings and signatures,
/// which add noise rather than evidence, and a keyword reaches
/// [`KEYWORD_CAP`] after two mentions. The bound keeps the cost of a
/// message flat whatever its size (the scan is the worker's largest CPU
/// cost on long bodies).
pub const BODY_SCAN_BYTES: usize = 16 * 1024;

/// A rule of priority high multiplies its score by this: "the checkout is
/// down, every order fails with an error" is an incident although it names
/// more bug words. A missed escalation costs more than a misfiled bug; on
/// the evaluation set this raised incident recall from 69% to 82% at the
/// same precision.
pub const HIGH_PRIORITY_FACTOR: u32 = 2;
/// Keywords named as evidence in `applied_rules`.
const EVIDENCE_SHOWN: usize = 5;

/// The scored evidence for one rule.
#[derive(Debug, Clone, Default)]
struct Evidence {
    score: u32,
    /// Distinct keywords as `(group, keyword)`, in the order first found.
    keywords: Vec<(usize, usize)>,
}

/// Compiled rules. Build once at init; `classify` is cheap.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Keywords of every rule, matched on word forms, one group per
    /// language (the rules without a language first).
    groups: Vec<KeywordGroup>,
    detector: LanguageDetector,
    languages: Vec<LanguageRoute>,
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
    /// What SES spam and authentication failures become.
    ses: crate::provider::ses::verdicts::VerdictPolicy,
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
            groups: Vec::new(),
            detector: LanguageDetector::new(),
            languages: Vec::new(),
            vip_domains: Vec::new(),
            mailboxes: Vec::new(),
            list_mailboxes: Vec::new(),
            known_queues: Vec::new(),
            routing: crate::routing::Routing::default(),
            acknowledgements: crate::acknowledgement::AckPolicy::default(),
            ses: crate::provider::ses::verdicts::VerdictPolicy::default(),
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
        let mut patterns: Vec<(Option<Language>, usize, String)> = Vec::new();
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
            let language = entry
                .language
                .as_deref()
                .map(|code| {
                    Language::from_code(code).ok_or_else(|| {
                        invalid(format!(
                            "rule `{name}`: unknown language `{code}` (expected one of {})",
                            language_codes()
                        ))
                    })
                })
                .transpose()?;
            for (k, keyword) in entry.keywords.iter().enumerate() {
                let normalized = normalize(keyword);
                if normalized.is_empty() {
                    return Err(invalid(format!(
                        "rule `{name}`: keyword #{} is empty",
                        k + 1
                    )));
                }
                patterns.push((language, rules.len(), normalized));
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
            if !address.contains('@') || address.starts_with('@') {
                return Err(invalid(format!(
                    "mailboxes: `{}` is not an email address",
                    entry.address
                )));
            }
            let (queue, priority) =
                queue_and_priority(entry.queue, entry.priority, &format!("mailbox `{address}`"))?;
            if entry.lists {
                list_mailboxes.push(address.clone());
            }
            mailboxes.push(Mailbox {
                address,
                queue,
                priority,
            });
        }

        let mut languages = Vec::with_capacity(file.languages.len());
        for entry in file.languages {
            let code = entry.code.trim();
            let language = Language::from_code(code).ok_or_else(|| {
                invalid(format!(
                    "languages: unknown language `{code}` (expected one of {})",
                    language_codes()
                ))
            })?;
            let (queue, priority) =
                queue_and_priority(entry.queue, entry.priority, &format!("language `{code}`"))?;
            languages.push(LanguageRoute {
                language,
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
            .chain(
                languages
                    .iter()
                    .filter_map(|l| l.queue.as_deref().map(str::to_lowercase)),
            )
            .collect();
        known_queues.sort();
        known_queues.dedup();

        // One keyword set per language, the rules without one first.
        let mut group_languages: Vec<Option<Language>> = vec![None];
        for (language, _, _) in &patterns {
            if !group_languages.contains(language) {
                group_languages.push(*language);
            }
        }
        let mut groups = Vec::with_capacity(group_languages.len());
        for language in group_languages {
            let entries = patterns
                .iter()
                .filter(|(l, _, _)| *l == language)
                .map(|(_, rule, text)| (*rule, text.clone()));
            let compile_error = |e: String| invalid(format!("keywords do not compile: {e}"));
            let (set, written) = match language {
                None => {
                    let entries: Vec<(usize, String)> = entries.collect();
                    let written = KeywordSet::as_written(entries.clone()).map_err(compile_error)?;
                    (KeywordSet::new(entries), Some(written))
                }
                Some(l) => (KeywordSet::for_language(entries, l), None),
            };
            let set = set.map_err(compile_error)?;
            groups.push(KeywordGroup {
                language,
                set,
                written,
            });
        }

        Ok(Rules {
            rules,
            groups,
            detector: LanguageDetector::new(),
            languages,
            vip_domains,
            mailboxes,
            list_mailboxes,
            known_queues,
            routing,
            acknowledgements,
            ses: file.ses,
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

    /// The policy for Amazon SES verdicts (`[ses]`).
    pub fn ses_verdicts(&self) -> &crate::provider::ses::verdicts::VerdictPolicy {
        &self.ses
    }

    /// Number of keyword rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Number of keywords over all rules.
    pub fn keyword_count(&self) -> usize {
        self.groups.iter().map(|g| g.set.keywords().len()).sum()
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
        let subject = msg.subject.as_deref().unwrap_or_default();

        // 0. Language.
        let language = self.detector.detect(subject, visible_text);
        if let Some(l) = language {
            record("language", format!("language={}", l.code()));
        }

        // 1. Keywords: the best-scoring rule.
        let hit = self.best_rule(subject, visible_text, language);
        let (category, mut queue, mut priority) = match &hit {
            Some((rule, evidence)) => {
                for &(g, k) in evidence.keywords.iter().take(EVIDENCE_SHOWN) {
                    if let Some(kw) = self.groups.get(g).and_then(|g| g.set.keywords().get(k)) {
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

        // 3. Language routing.
        if let Some(route) = language.and_then(|l| self.languages.iter().find(|r| r.language == l))
        {
            if let Some(q) = &route.queue {
                record("language", format!("queue={q}"));
                queue = q.clone();
            }
            if let Some(p) = route.priority {
                record("language", format!("priority={}", p.as_str()));
                priority = priority.max(p);
            }
        }

        // 4. Mailbox.
        if let Some(mailbox) = self
            .mailboxes
            .iter()
            .find(|m| recipients().any(|r| m.matches(r)))
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

        // 5. VIP sender domain.
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
            language: language.map(|l| l.code().to_string()),
        }
    }

    /// The rule with the highest score, ties to the earlier rule, and its
    /// evidence: each keyword found (rules without a language, and those of
    /// `language`) adds [`SUBJECT_WEIGHT`] in the subject and
    /// [`BODY_WEIGHT`] per mention in the body, at most [`KEYWORD_CAP`] per
    /// keyword, times [`HIGH_PRIORITY_FACTOR`] for a rule of priority high;
    /// negated mentions add nothing.
    fn best_rule(
        &self,
        subject: &str,
        text: &str,
        language: Option<Language>,
    ) -> Option<(&Rule, Evidence)> {
        let text = text
            .get(..text.floor_char_boundary(BODY_SCAN_BYTES))
            .unwrap_or(text);
        let mut bytes = Vec::with_capacity(subject.len() + text.len() + 1);
        push_normalized(&mut bytes, subject);
        let body_start = bytes.len();
        // Not whitespace and not alphanumeric: a boundary no phrase crosses.
        bytes.push(0x1f);
        push_normalized(&mut bytes, text);
        let haystack = into_string(bytes);

        let mut evidence: Vec<Evidence> = vec![Evidence::default(); self.rules.len()];
        let english = language.is_none_or(|l| l == Language::ENGLISH);
        for (g, group) in self.groups.iter().enumerate() {
            if group.language.is_some() && group.language != language {
                continue;
            }
            let set = match &group.written {
                Some(written) if !english => written,
                _ => &group.set,
            };
            let (haystack, body_start) = if set.folds_umlauts() {
                let folded = crate::keywords::fold_umlauts(&haystack);
                let start = haystack
                    .get(..body_start)
                    .map_or(0, |s| crate::keywords::fold_umlauts(s).len());
                (folded, start)
            } else {
                (std::borrow::Cow::Borrowed(haystack.as_str()), body_start)
            };
            // Weight per keyword, capped.
            let mut per_keyword: Vec<(usize, u32)> = Vec::new();
            for hit in set.hits(&haystack) {
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
            for (k, weight) in per_keyword {
                let Some(rule) = set.keywords().get(k).map(|kw| kw.rule) else {
                    continue;
                };
                if let Some(e) = evidence.get_mut(rule) {
                    e.score += weight;
                    e.keywords.push((g, k));
                }
            }
        }
        // A high-priority rule's evidence counts double.
        for (rule, e) in self.rules.iter().zip(evidence.iter_mut()) {
            if rule.priority == Priority::High {
                e.score *= HIGH_PRIORITY_FACTOR;
            }
        }
        // The highest score; `max_by_key` keeps the last of equals, so
        // compare with the index reversed to keep the first.
        let (index, best) = evidence
            .into_iter()
            .enumerate()
            .filter(|(_, e)| e.score > 0)
            .max_by_key(|(i, e)| (e.score, std::cmp::Reverse(*i)))?;
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

impl Mailbox {
    /// `recipient` is this mailbox: the same address, or for `local@` the
    /// same local part at any domain (case-insensitive).
    fn matches(&self, recipient: &str) -> bool {
        if self.address.ends_with('@') {
            recipient.len() > self.address.len()
                && recipient
                    .get(..self.address.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(&self.address))
                && !recipient[self.address.len()..].contains('@')
        } else {
            recipient.eq_ignore_ascii_case(&self.address)
        }
    }
}

/// The optional `queue` (not blank, trimmed) and `priority` of a
/// `[[mailboxes]]` or `[[languages]]` entry; errors name the entry (`what`).
fn queue_and_priority(
    queue: Option<String>,
    priority: Option<String>,
    what: &str,
) -> Result<(Option<String>, Option<Priority>), RulesError> {
    let queue = match queue {
        Some(q) if q.trim().is_empty() => {
            return Err(RulesError::Invalid(format!("{what}: empty queue")));
        }
        q => q.map(|q| q.trim().to_string()),
    };
    let priority = priority
        .map(|p| p.parse::<Priority>())
        .transpose()
        .map_err(|e| RulesError::Invalid(format!("{what}: {}", inner(e))))?;
    Ok((queue, priority))
}

/// The codes of the supported languages, for error messages.
fn language_codes() -> String {
    Language::all()
        .iter()
        .map(|l| l.code())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The message of a `RulesError::Invalid`, without the prefix.
fn inner(e: RulesError) -> String {
    match e {
        RulesError::Toml(m) | RulesError::Invalid(m) => m,
    }
}

/// Lower-cased (per char, Unicode), whitespace runs as one space, `’` as
/// `'`, trimmed.
fn normalize(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    push_normalized(&mut out, s.trim());
    into_string(out).trim_end().to_string()
}

/// Appends `s` lower-cased per char, with whitespace runs as one space, as
/// UTF-8 bytes. Keywords and text go through the same function, so offsets
/// are only ever taken on the lowered text.
fn push_normalized(out: &mut Vec<u8>, s: &str) {
    if s.is_ascii() {
        push_normalized_ascii(out, s.as_bytes());
        return;
    }
    let mut space = false;
    push_normalized_chars(out, s, &mut space);
    if space {
        out.push(b' ');
    }
}

/// [`push_normalized`] for ASCII (most mail): copied and lowered in bulk,
/// then whitespace runs collapsed in place.
fn push_normalized_ascii(out: &mut Vec<u8>, s: &[u8]) {
    let at = out.len();
    out.extend_from_slice(s);
    let Some(tail) = out.get_mut(at..) else {
        return;
    };
    tail.make_ascii_lowercase();
    let mut write = 0;
    let mut space = false;
    for read in 0..tail.len() {
        let b = tail.get(read).copied().unwrap_or(b' ');
        if b.is_ascii_whitespace() {
            space = true;
            continue;
        }
        if space {
            if let Some(w) = tail.get_mut(write) {
                *w = b' ';
            }
            write += 1;
            space = false;
        }
        if let Some(w) = tail.get_mut(write) {
            *w = b;
        }
        write += 1;
    }
    if space {
        // A whitespace byte was read and not written: there is room.
        if let Some(w) = tail.get_mut(write) {
            *w = b' ';
        }
        write += 1;
    }
    out.truncate(at + write);
}

/// [`push_normalized`] for a run with non-ASCII characters (which may hold
/// Unicode whitespace).
fn push_normalized_chars(out: &mut Vec<u8>, run: &str, space: &mut bool) {
    let mut buf = [0u8; 4];
    for c in run.chars() {
        if c.is_whitespace() {
            *space = true;
            continue;
        }
        if *space {
            out.push(b' ');
            *space = false;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase() as u8);
        } else if c == '\u{2019}' {
            // A typographic apostrophe is the ASCII one: "doesn’t".
            out.push(b'\'');
        } else {
            for lower in c.to_lowercase() {
                out.extend_from_slice(lower.encode_utf8(&mut buf).as_bytes());
            }
        }
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
                "churn_risk",
                "incidents_de",
                "bugs_de",
                "billing_de",
                "feature_requests_de",
                "churn_risk_de"
            ]
        );
        // The cookbook's five categories and priorities, in its order.
        let cookbook: Vec<(&str, Priority)> = rules
            .rules
            .iter()
            .take(5)
            .map(|r| (r.category.as_str(), r.priority))
            .collect();
        assert_eq!(
            cookbook,
            [
                ("incidents", Priority::High),
                ("bugs", Priority::Medium),
                ("billing", Priority::Medium),
                ("feature_requests", Priority::Low),
                ("churn_risk", Priority::High)
            ]
        );
        assert_eq!(rules.vip_domains, ["bigcorp.com", "enterprise-client.io"]);
        assert_eq!(rules.mailboxes.len(), 2);
        assert_eq!(rules.groups.len(), 2, "no language, and German");
        assert_eq!(Rules::default_rules().rule_count(), 10);
    }

    #[test]
    fn normalization_is_the_same_on_every_path() {
        // The per-char reference: every whitespace run is one space.
        fn reference(s: &str) -> String {
            let mut out = String::new();
            let mut space = false;
            for c in s.chars() {
                if c.is_whitespace() {
                    space = true;
                    continue;
                }
                if space {
                    out.push(' ');
                    space = false;
                }
                if c == '\u{2019}' {
                    out.push('\'');
                } else {
                    out.extend(c.to_lowercase());
                }
            }
            if space {
                out.push(' ');
            }
            out
        }
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "  A  b\t\nC  ",
            "Éa\u{a0}\u{a0}B  c",
            "x\u{2003} y",
            "DOESN\u{2019}T work",
            "\n\nİSSUE\n",
            "a\u{a0}",
            "\u{a0}a",
        ] {
            let mut out = Vec::new();
            push_normalized(&mut out, s);
            assert_eq!(into_string(out), reference(s), "{s:?}");
        }
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
