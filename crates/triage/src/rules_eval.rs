//! `triage rules eval`: how well the rules in use (or `--rules`) classify a
//! labelled set, side by side with the Nylas cookbook's keyword rule.
//!
//! The set is JSON Lines, one message per line: `subject`, `body` (the
//! visible text), `category` (the label), and optionally `id`, `language`
//! (the label's language, to score detection) and `type` (`incident`,
//! `problem`, ... : the share of incident and problem messages that get any
//! category but `general` is reported, the figure the cookbook comparison
//! in issue #14 started from). `eval/support-mail.jsonl` is one.
//!
//! The cookbook's rule, reproduced as the recipe writes it: the lower-cased
//! subject and body joined by a space, the first of its five rules with any
//! keyword as a **substring** wins, else `general`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::json;
use triage_core::Message;
use triage_core::classify::{GENERAL, Rules};

/// The cookbook recipe's table, in its order.
const COOKBOOK: &[(&str, &[&str])] = &[
    (
        "incidents",
        &["urgent", "down", "outage", "critical", "broken"],
    ),
    ("bugs", &["bug", "error", "crash", "not working", "issue"]),
    (
        "billing",
        &["billing", "invoice", "charge", "refund", "payment"],
    ),
    (
        "feature_requests",
        &["feature", "request", "suggestion", "would be nice"],
    ),
    ("churn_risk", &["cancel", "unsubscribe", "close account"]),
];

/// The cookbook's decision for one message.
pub fn cookbook_category(subject: &str, body: &str) -> &'static str {
    let text = format!("{} {}", subject.to_lowercase(), body.to_lowercase());
    COOKBOOK
        .iter()
        .find(|(_, keywords)| keywords.iter().any(|k| text.contains(k)))
        .map_or(GENERAL, |(category, _)| category)
}

/// One labelled message.
#[derive(Debug, Deserialize)]
struct Labelled {
    #[serde(default)]
    id: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    category: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// Errors reading a labelled set.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} line {line}: not a labelled message ({detail})")]
    Line {
        path: String,
        line: usize,
        detail: String,
    },
    #[error("{path}: no labelled messages")]
    Empty { path: String },
}

/// Counts for one classifier.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scores {
    /// category -> (true positives, false positives, false negatives).
    pub per_category: BTreeMap<String, (u32, u32, u32)>,
    pub correct: u32,
    pub total: u32,
    /// Incident and problem messages, and those given a category but general.
    pub trouble: u32,
    pub trouble_categorised: u32,
}

impl Scores {
    fn add(&mut self, label: &str, got: &str, kind: Option<&str>) {
        self.total += 1;
        if label == got {
            self.correct += 1;
            self.per_category.entry(label.to_string()).or_default().0 += 1;
        } else {
            self.per_category.entry(got.to_string()).or_default().1 += 1;
            self.per_category.entry(label.to_string()).or_default().2 += 1;
        }
        if matches!(kind, Some("incident" | "problem")) {
            self.trouble += 1;
            if got != GENERAL {
                self.trouble_categorised += 1;
            }
        }
    }

    /// (precision, recall) of `category`, as fractions; `None` when undefined.
    pub fn precision_recall(&self, category: &str) -> (Option<f64>, Option<f64>) {
        let (tp, fp, fn_) = self.per_category.get(category).copied().unwrap_or_default();
        let ratio = |a: u32, b: u32| (b > 0).then(|| f64::from(a) / f64::from(b));
        (ratio(tp, tp + fp), ratio(tp, tp + fn_))
    }

    pub fn accuracy(&self) -> Option<f64> {
        (self.total > 0).then(|| f64::from(self.correct) / f64::from(self.total))
    }

    pub fn trouble_share(&self) -> Option<f64> {
        (self.trouble > 0).then(|| f64::from(self.trouble_categorised) / f64::from(self.trouble))
    }
}

/// A message the rules got wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    pub id: String,
    pub label: String,
    pub got: String,
    /// The rules' evidence (`rule: decision`).
    pub evidence: Vec<String>,
}

/// The evaluation of one set.
#[derive(Debug, Default, Clone)]
pub struct Evaluation {
    pub misses: Vec<Miss>,
    pub ours: Scores,
    pub cookbook: Scores,
    /// Messages with a language label, and those detected as labelled.
    pub language_labelled: u32,
    pub language_right: u32,
    /// ... and those with no detected language.
    pub language_unknown: u32,
}

/// Classify every message of the set at `path` with `rules` and with the
/// cookbook's rule.
pub fn evaluate(path: &Path, rules: &Rules) -> Result<Evaluation, EvalError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut eval = Evaluation::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: Labelled = serde_json::from_str(line).map_err(|e| EvalError::Line {
            path: shown.clone(),
            line: i + 1,
            detail: e.to_string(),
        })?;
        let msg = Message {
            id: item.id.clone(),
            subject: Some(item.subject.clone()),
            ..Message::default()
        };
        let ours = rules.classify(&msg, &item.body);
        let kind = item.kind.as_deref();
        if ours.category != item.category {
            eval.misses.push(Miss {
                id: item.id.clone(),
                label: item.category.clone(),
                got: ours.category.clone(),
                evidence: ours
                    .applied_rules
                    .iter()
                    .filter(|r| {
                        r.decision.starts_with("keyword=") || r.decision.starts_with("score=")
                    })
                    .map(|r| format!("{}: {}", r.rule, r.decision))
                    .collect(),
            });
        }
        eval.ours.add(&item.category, &ours.category, kind);
        eval.cookbook.add(
            &item.category,
            cookbook_category(&item.subject, &item.body),
            kind,
        );
        if let Some(want) = &item.language {
            eval.language_labelled += 1;
            match &ours.language {
                Some(got) if got == want => eval.language_right += 1,
                Some(_) => {}
                None => eval.language_unknown += 1,
            }
        }
    }
    if eval.ours.total == 0 {
        return Err(EvalError::Empty { path: shown });
    }
    Ok(eval)
}

/// One line (or JSON object) per message the rules got wrong.
pub fn print_misses(eval: &Evaluation, json_out: bool) {
    for m in &eval.misses {
        if json_out {
            println!(
                "{}",
                json!({"id": m.id, "label": m.label, "got": m.got, "evidence": m.evidence})
            );
        } else {
            println!(
                "{}: labelled {}, got {} [{}]",
                m.id,
                m.label,
                m.got,
                m.evidence.join("; ")
            );
        }
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{:.0}%", v * 100.0))
}

/// Print the evaluation as a Markdown table (or one JSON object).
pub fn print(eval: &Evaluation, json_out: bool) {
    let mut categories: Vec<&String> = eval
        .ours
        .per_category
        .keys()
        .chain(eval.cookbook.per_category.keys())
        .collect();
    categories.sort();
    categories.dedup();
    if json_out {
        let side = |s: &Scores| {
            let per: serde_json::Map<String, serde_json::Value> = categories
                .iter()
                .map(|c| {
                    let (p, r) = s.precision_recall(c);
                    (c.to_string(), json!({"precision": p, "recall": r}))
                })
                .collect();
            json!({
                "accuracy": s.accuracy(),
                "incident_problem_categorised": s.trouble_share(),
                "per_category": per,
            })
        };
        println!(
            "{}",
            json!({
                "messages": eval.ours.total,
                "ours": side(&eval.ours),
                "cookbook": side(&eval.cookbook),
                "language": {
                    "labelled": eval.language_labelled,
                    "right": eval.language_right,
                    "unknown": eval.language_unknown,
                },
            })
        );
        return;
    }
    println!("| category | ours precision | ours recall | cookbook precision | cookbook recall |");
    println!("|---|---:|---:|---:|---:|");
    for c in &categories {
        let (op, or) = eval.ours.precision_recall(c);
        let (cp, cr) = eval.cookbook.precision_recall(c);
        println!(
            "| {c} | {} | {} | {} | {} |",
            pct(op),
            pct(or),
            pct(cp),
            pct(cr)
        );
    }
    println!(
        "| **accuracy** | {} | | {} | |",
        pct(eval.ours.accuracy()),
        pct(eval.cookbook.accuracy())
    );
    println!(
        "| **incident/problem given a category** | {} | | {} | |",
        pct(eval.ours.trouble_share()),
        pct(eval.cookbook.trouble_share())
    );
    println!();
    println!(
        "{} messages; language detected as labelled for {} of {} ({} undetected)",
        eval.ours.total, eval.language_right, eval.language_labelled, eval.language_unknown
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookbook_rule_is_first_substring_match() {
        assert_eq!(cookbook_category("Download page", ""), "incidents");
        assert_eq!(
            cookbook_category("", "please refund, it is broken"),
            "incidents"
        );
        assert_eq!(cookbook_category("Refund", ""), "billing");
        assert_eq!(cookbook_category("Thanks", "all good"), "general");
    }

    #[test]
    fn scores_count_precision_recall_and_trouble() {
        let mut s = Scores::default();
        s.add("bugs", "bugs", Some("incident"));
        s.add("bugs", "general", Some("problem"));
        s.add("billing", "bugs", Some("request"));
        assert_eq!(s.precision_recall("bugs"), (Some(0.5), Some(0.5)));
        assert_eq!(s.precision_recall("billing"), (None, Some(0.0)));
        assert_eq!(s.trouble_share(), Some(0.5));
        assert_eq!(s.accuracy(), Some(1.0 / 3.0));
    }
}
