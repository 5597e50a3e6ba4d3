//! Classification: word boundaries, rule order, quote removal, VIP, alias,
//! mailbox, rule-file errors; and no panics on arbitrary input.

mod common;
use common::fixtures;

use proptest::prelude::*;
use triage_core::classify::{Priority, Rules, RulesError};
use triage_core::text::visible_text;
use triage_core::{BodyFormat, Message, Participant};

fn person(email: &str) -> Participant {
    Participant {
        name: String::new(),
        email: email.to_string(),
    }
}

fn msg(subject: &str, from: &str, to: &[&str]) -> Message {
    Message {
        subject: Some(subject.to_string()),
        from: vec![person(from)],
        to: to.iter().map(|e| person(e)).collect(),
        ..Message::default()
    }
}

fn category(rules: &Rules, subject: &str, body: &str) -> String {
    rules
        .classify(
            &msg(subject, "ann@customer.test", &["support@acme.test"]),
            body,
        )
        .category
}

fn decisions(c: &triage_core::classify::Classification) -> Vec<(String, String)> {
    c.applied_rules
        .iter()
        .map(|r| (r.rule.clone(), r.decision.clone()))
        .collect()
}

// ------------------------------------------------------------ default table

#[test]
fn default_categories_queues_priorities() {
    for (text, cat, prio) in [
        ("The site is down!", "incidents", Priority::High),
        ("We have an outage", "incidents", Priority::High),
        ("Got an error on login", "bugs", Priority::Medium),
        ("Export is not working", "bugs", Priority::Medium),
        ("Please send the invoice", "billing", Priority::Medium),
        ("I want a refund", "billing", Priority::Medium),
        ("Suggestion: dark mode", "feature_requests", Priority::Low),
        (
            "It would be nice to have SSO",
            "feature_requests",
            Priority::Low,
        ),
        ("Please close account now", "churn_risk", Priority::High),
        ("How do I invite a colleague?", "general", Priority::Low),
    ] {
        let c = Rules::default_rules().classify(&msg("", "ann@customer.test", &[]), text);
        assert_eq!(c.category, cat, "{text}");
        assert_eq!(c.queue, cat, "{text}: queue defaults to the category");
        assert_eq!(c.priority, prio, "{text}");
    }
}

#[test]
fn whole_words_only() {
    let rules = Rules::default_rules();
    for text in [
        "Where can I download the app?",
        "A tissue sample",
        "Patient discharge summary",
        "The downtown office",
        "bugsy",
        "recharge",
    ] {
        assert_eq!(category(&rules, "", text), "general", "{text}");
    }
    for (text, cat) in [
        // Word forms of the keywords (issue #14).
        ("errors", "bugs"),
        ("requested", "feature_requests"),
        ("cancelled", "churn_risk"),
        ("down.", "incidents"),
        ("(urgent)", "incidents"),
        ("issue#42", "bugs"),
        ("an ISSUE", "bugs"),
        ("Charge?", "billing"),
        ("refund/credit", "billing"),
        ("Feature: x", "feature_requests"),
        ("unsubscribe", "churn_risk"),
    ] {
        assert_eq!(category(&rules, "", text), cat, "{text}");
    }
}

#[test]
fn unicode_boundaries_and_case() {
    let rules = Rules::default_rules();
    // Letters from other scripts are alphanumeric: no boundary.
    assert_eq!(category(&rules, "", "réfund"), "general");
    assert_eq!(category(&rules, "", "downé"), "general");
    assert_eq!(category(&rules, "", "日本down"), "general");
    // Punctuation and symbols are boundaries.
    assert_eq!(category(&rules, "", "«REFUND»"), "billing");
    assert_eq!(category(&rules, "", "—DOWN—"), "incidents");
    // Case folding that changes byte lengths before the match.
    assert_eq!(category(&rules, "", "ǅǅǅ İİ ẞ refund"), "billing");
}

#[test]
fn phrases_span_whitespace_runs_and_lines() {
    let rules = Rules::default_rules();
    assert_eq!(
        category(&rules, "", "the export is not\n   working"),
        "bugs"
    );
    assert_eq!(
        category(&rules, "", "it would  be\tnice to"),
        "feature_requests"
    );
    assert_eq!(category(&rules, "", "nothing working"), "general");
    // But not across subject and body.
    assert_eq!(category(&rules, "We would be", "nice"), "general");
}

#[test]
fn first_rule_in_file_order_wins_not_first_position() {
    let rules = Rules::default_rules();
    // "refund" (billing, rule 3) comes first in the text; "down"
    // (incidents, rule 1) comes later: incidents wins.
    let c = rules.classify(
        &msg("Refund please", "ann@customer.test", &[]),
        "because the service was down all day",
    );
    assert_eq!(c.category, "incidents");
    assert_eq!(c.priority, Priority::High);
    assert!(
        decisions(&c).contains(&("incidents".into(), "keyword=down".into())),
        "{:?}",
        c.applied_rules
    );
    assert!(
        decisions(&c).contains(&("incidents".into(), "score=1".into())),
        "{:?}",
        c.applied_rules
    );
    // A custom file reverses the order, and the result with it.
    let reversed = Rules::from_toml(
        r#"
[[rules]]
name = "money"
category = "billing"
priority = "medium"
keywords = ["refund"]

[[rules]]
name = "fire"
category = "incidents"
priority = "high"
keywords = ["down"]
"#,
    )
    .expect("rules");
    let c = reversed.classify(
        &msg("Refund please", "ann@customer.test", &[]),
        "because the service was down all day",
    );
    assert_eq!(c.category, "billing");
}

#[test]
fn negated_keywords_are_not_evidence() {
    let rules = Rules::default_rules();
    assert_eq!(
        category(&rules, "", "This is not urgent, just a question"),
        "general"
    );
    assert_eq!(category(&rules, "", "There was no outage"), "general");
    assert_eq!(
        category(&rules, "", "It is no longer broken, thanks"),
        "general"
    );
    // The negation only covers the words right after it.
    assert_eq!(
        category(&rules, "", "Not sure who to ask, but the site is down"),
        "incidents"
    );
}

#[test]
fn overlapping_keywords_do_not_hide_each_other() {
    // "cancel" is found at the start of "cancellation" (its word form); the
    // phrase of the other rule, found at the same place, still counts.
    let rules = Rules::from_toml(
        r#"
[[rules]]
name = "long"
category = "b"
priority = "low"
keywords = ["cancellation fee"]

[[rules]]
name = "short"
category = "a"
priority = "low"
keywords = ["cancel"]
"#,
    )
    .expect("rules");
    assert_eq!(category(&rules, "", "cancellation fee"), "b");
    assert_eq!(category(&rules, "", "cancel it"), "a");
}

#[test]
fn quote_removal_changes_the_outcome() {
    let rules = Rules::default_rules();
    let html = r#"<div dir="ltr">Hi, I was charged twice. Can you refund the second payment?</div>
<div class="gmail_quote"><div class="gmail_attr">On Mon, Nov 17, 2025 at 10:02 AM Support &lt;support@acme.test&gt; wrote:</div>
<blockquote class="gmail_quote">Sorry, the service was down for maintenance.</blockquote></div>"#;
    let m = msg(
        "Re: your account",
        "ann@customer.test",
        &["support@acme.test"],
    );
    let with_quotes = rules.classify(&m, &triage_core::text::html_to_text(html));
    assert_eq!(with_quotes.category, "incidents", "the quote says down");
    let visible = visible_text(html, BodyFormat::Html);
    assert_eq!(
        rules.classify(&m, &visible).category,
        "billing",
        "{visible}"
    );
}

#[test]
fn get_message_fixture_classifies_as_billing() {
    let path = fixtures().join("nylas/get-message-response.json");
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    let m: Message = serde_json::from_value(v["data"].clone()).expect("message");
    let visible = visible_text(m.body.as_deref().unwrap_or_default(), BodyFormat::Html);
    assert!(!visible.contains("down"), "{visible}");
    let c = Rules::default_rules().classify(&m, &visible);
    assert_eq!(c.category, "billing");
    assert_eq!(c.queue, "billing");
}

// ------------------------------------------------------------ vip, alias, mailbox

const ROUTING: &str = r#"
vip_domains = ["BigCorp.com", "@vip.test"]

[[rules]]
name = "billing"
category = "billing"
queue = "finance"
priority = "medium"
keywords = ["invoice"]

[[rules]]
name = "bugs"
category = "bugs"
priority = "low"
keywords = ["bug"]

[[mailboxes]]
address = "Security@Example.com"
queue = "security"
priority = "high"

[[mailboxes]]
address = "vip-line@example.com"
priority = "medium"
"#;

#[test]
fn vip_domain_and_subdomains() {
    let rules = Rules::from_toml(ROUTING).expect("rules");
    for (from, vip) in [
        ("ceo@bigcorp.com", true),
        ("ops@eu.mail.BIGCORP.com", true),
        ("a@vip.test", true),
        ("a@notbigcorp.com", false),
        ("a@bigcorp.com.evil.test", false),
        ("bigcorp.com@evil.test", false),
    ] {
        let c = rules.classify(&msg("hello", from, &[]), "");
        assert_eq!(c.priority == Priority::High, vip, "{from}");
        assert_eq!(
            decisions(&c).contains(&("vip_domain".into(), "priority=high".into())),
            vip,
            "{from}"
        );
    }
}

#[test]
fn alias_routes_to_known_queues_only_without_keyword_match() {
    let rules = Rules::from_toml(ROUTING).expect("rules");
    // Known queue (the billing rule's queue is "finance").
    let c = rules.classify(
        &msg("hello", "a@c.test", &["support+finance@acme.test"]),
        "",
    );
    assert_eq!(c.queue, "finance");
    assert_eq!(c.category, "general");
    assert!(decisions(&c).contains(&("alias".into(), "queue=finance".into())));
    // Mailbox queues are known too; case-insensitive.
    let c = rules.classify(&msg("hello", "a@c.test", &["help+Security@acme.test"]), "");
    assert_eq!(c.queue, "security");
    // Unknown tags do not make queues.
    let c = rules.classify(
        &msg("hello", "a@c.test", &["support+newsletter42@acme.test"]),
        "",
    );
    assert_eq!(c.queue, "general");
    assert!(c.applied_rules.iter().all(|r| r.rule != "alias"));
    // A keyword rule wins over the alias.
    let c = rules.classify(
        &msg("a bug", "a@c.test", &["support+finance@acme.test"]),
        "",
    );
    assert_eq!(c.queue, "bugs");
    // In cc too.
    let mut m = msg("hello", "a@c.test", &["support@acme.test"]);
    m.cc.push(person("support+finance@acme.test"));
    assert_eq!(rules.classify(&m, "").queue, "finance");
}

#[test]
fn default_rules_alias_to_billing() {
    let c = Rules::default_rules().classify(
        &msg("hello there", "a@c.test", &["support+billing@example.com"]),
        "just a question",
    );
    assert_eq!(c.queue, "billing");
    assert_eq!(c.priority, Priority::Low);
}

#[test]
fn mailbox_sets_queue_and_raises_priority() {
    let rules = Rules::from_toml(ROUTING).expect("rules");
    let c = rules.classify(
        &msg("found a bug", "a@c.test", &["security@example.com"]),
        "",
    );
    assert_eq!(c.category, "bugs");
    assert_eq!(
        c.queue, "security",
        "the address routes over the keyword rule"
    );
    assert_eq!(c.priority, Priority::High);
    assert_eq!(
        decisions(&c),
        [
            ("bugs".to_string(), "keyword=bug".to_string()),
            ("bugs".into(), "score=3".into()),
            ("bugs".into(), "category=bugs".into()),
            ("bugs".into(), "queue=bugs".into()),
            ("bugs".into(), "priority=low".into()),
            ("mailbox".into(), "queue=security".into()),
            ("mailbox".into(), "priority=high".into()),
        ]
    );
    // Priority only goes up; no queue given keeps the queue.
    let mut m = msg("invoice", "a@c.test", &[]);
    m.cc.push(person("vip-line@example.com"));
    let c = rules.classify(&m, "");
    assert_eq!(
        (c.queue.as_str(), c.priority),
        ("finance", Priority::Medium)
    );
    let rules_high = Rules::from_toml(
        r#"
[[rules]]
name = "x"
category = "x"
priority = "high"
keywords = ["x"]

[[mailboxes]]
address = "low@example.com"
priority = "low"
"#,
    )
    .expect("rules");
    let c = rules_high.classify(&msg("x", "a@c.test", &["low@example.com"]), "");
    assert_eq!(c.priority, Priority::High);
}

#[test]
fn default_decisions_are_recorded() {
    let c = Rules::default_rules().classify(&msg("hello", "a@c.test", &[]), "");
    assert_eq!(
        decisions(&c),
        [
            ("default".to_string(), "category=general".to_string()),
            ("default".into(), "queue=general".into()),
            ("default".into(), "priority=low".into()),
        ]
    );
}

// ------------------------------------------------------------ rule-file errors

fn err(text: &str) -> String {
    match Rules::from_toml(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_rule_files_are_clear_errors() {
    let bad_toml = err("[[rules]\nname = ");
    assert!(bad_toml.contains("not valid TOML"), "{bad_toml}");
    assert!(matches!(Rules::from_toml("= 1"), Err(RulesError::Toml(_))));

    let e = err(r#"[[rules]]
name = "a"
category = "a"
priority = "medium"
keywords = ["ok", "  "]"#);
    assert!(
        e.contains("`a`") && e.contains("keyword #2 is empty"),
        "{e}"
    );

    let e = err(r#"[[rules]]
name = "a"
category = "a"
priority = "urgent"
keywords = ["x"]"#);
    assert!(e.contains("unknown priority `urgent`"), "{e}");

    let e = err(r#"[[rules]]
name = "a"
category = "a"
priority = "low"
keywords = ["x"]
[[rules]]
name = "a"
category = "b"
priority = "low"
keywords = ["y"]"#);
    assert!(e.contains("duplicate rule name `a`"), "{e}");

    let e = err(r#"[[rules]]
name = "a"
category = "a"
priority = "low"
keywords = []"#);
    assert!(e.contains("`a` has no keywords"), "{e}");
    let e = err(r#"[[rules]]
name = "a"
category = "a"
priority = "low""#);
    assert!(e.contains("`a` has no keywords"), "{e}");

    // Typos in field names are caught, not ignored.
    let e = err(r#"[[rules]]
name = "a"
category = "a"
priority = "low"
keyword = ["x"]"#);
    assert!(e.contains("keyword"), "{e}");

    let e = err(r#"[[mailboxes]]
address = "not-an-address""#);
    assert!(e.contains("not an email address"), "{e}");
    let e = err(r#"[[mailboxes]]
address = "a@b.c"
priority = "asap""#);
    assert!(e.contains("unknown priority `asap`"), "{e}");
    let e = err(r#"vip_domains = [" "]"#);
    assert!(e.contains("empty domain"), "{e}");
}

#[test]
fn an_empty_file_is_valid_and_everything_is_general() {
    let rules = Rules::from_toml("").expect("empty file");
    let c = rules.classify(&msg("urgent outage", "a@c.test", &[]), "down");
    assert_eq!(
        (c.category.as_str(), c.priority),
        ("general", Priority::Low)
    );
}

#[test]
fn many_keywords_compile_into_one_automaton() {
    let mut toml = String::new();
    for r in 0..50 {
        toml.push_str(&format!(
            "[[rules]]\nname = \"r{r}\"\ncategory = \"c{r}\"\npriority = \"low\"\nkeywords = [{}]\n",
            (0..10)
                .map(|k| format!("\"word{r}x{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let rules = Rules::from_toml(&toml).expect("rules");
    assert_eq!(rules.keyword_count(), 500);
    assert_eq!(category(&rules, "", "foo word49x9 word7x3 bar"), "c7");
    assert_eq!(category(&rules, "", "word7x30"), "general");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn classify_never_panics(subject in any::<String>(), text in any::<String>(), to in any::<String>(), from in any::<String>()) {
        let rules = Rules::default_rules();
        let mut m = msg(&subject, &from, &[&to]);
        m.cc.push(person(&to));
        let c = rules.classify(&m, &text);
        prop_assert!(!c.applied_rules.is_empty());
    }

    #[test]
    fn a_keyword_glued_to_a_longer_word_never_matches(pre in "[a-z0-9]{1,8}", post in "[a-z ]{0,20}") {
        // Whole words only: "xrefund", "2down" are not the keywords, in any
        // form.
        let rules = Rules::from_toml(
            "[[rules]]\nname = \"r\"\ncategory = \"c\"\npriority = \"low\"\nkeywords = [\"refund\", \"down\"]\n",
        )
        .expect("rules");
        for word in ["refund", "down"] {
            let text = format!("{pre}{word}{post}");
            prop_assert_eq!(category(&rules, "", &text), "general", "{}", text);
        }
    }

    #[test]
    fn a_keyword_between_spaces_always_matches(pre in "[a-z ]{0,20}", post in "[a-z ]{0,20}") {
        let rules = Rules::default_rules();
        // After a sentence break, so no negation in the random words reaches it.
        let text = format!("{pre}. refund {post}");
        let c = rules.classify(&msg("", "a@c.test", &[]), &text);
        // billing unless an earlier rule also matched in the random words
        prop_assert!(c.category != "general");
    }

    #[test]
    fn from_toml_never_panics(text in any::<String>()) {
        let _ = Rules::from_toml(&text);
    }
}
