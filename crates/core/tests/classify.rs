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
fn highest_score_wins_and_ties_go_to_file_order() {
    let rules = Rules::default_rules();
    // Subject 2, body 1 per mention: billing 4.
    let c = rules.classify(
        &msg("Invoice", "ann@customer.test", &[]),
        "please refund the second payment",
    );
    assert_eq!(
        (c.category.as_str(), c.priority),
        ("billing", Priority::Medium)
    );
    for want in [
        "keyword=invoice",
        "keyword=refund",
        "keyword=payment",
        "score=4",
    ] {
        assert!(
            decisions(&c).contains(&("billing".into(), want.into())),
            "{want}: {:?}",
            c.applied_rules
        );
    }
    // A high-priority rule counts twice: (down + urgent) x 2 = 4 beats
    // bugs' error in the subject (2).
    let c = rules.classify(
        &msg("Error on checkout", "ann@customer.test", &[]),
        "the shop is down, this is urgent",
    );
    assert_eq!(c.category, "incidents");
    assert!(
        decisions(&c).contains(&("incidents".into(), "score=4".into())),
        "{:?}",
        c.applied_rules
    );
    // A tie (4 and 4) goes to the rule earlier in the file.
    let c = rules.classify(
        &msg("Checkout fails with error 500", "ann@customer.test", &[]),
        "the page is down, please help urgently",
    );
    assert_eq!(c.category, "incidents", "{:?}", c.applied_rules);
    // Equal priorities: the file order decides a tie, and a file that lists
    // the rules the other way round reverses it.
    let file = |first: (&str, &str, &str), second: (&str, &str, &str)| {
        Rules::from_toml(&format!(
            "[[rules]]\nname = \"{}\"\ncategory = \"{}\"\npriority = \"medium\"\nkeywords = [\"{}\"]\n\n\
             [[rules]]\nname = \"{}\"\ncategory = \"{}\"\npriority = \"medium\"\nkeywords = [\"{}\"]\n",
            first.0, first.1, first.2, second.0, second.1, second.2
        ))
        .expect("rules")
    };
    let fire = ("fire", "incidents", "down");
    let money = ("money", "billing", "refund");
    let tie = "the refund page is down";
    let hello = msg("Hello", "ann@customer.test", &[]);
    assert_eq!(
        file(fire, money).classify(&hello, tie).category,
        "incidents"
    );
    assert_eq!(file(money, fire).classify(&hello, tie).category, "billing");
    // Repeats count, capped per keyword: "down" six times in the body
    // counts 2, as much as "refund" once in the subject: a tie again.
    let c = file(money, fire).classify(
        &msg("Refund", "ann@customer.test", &[]),
        "down. down. down. down. down. down.",
    );
    assert_eq!(c.category, "billing");
    assert!(
        decisions(&c).contains(&("money".into(), "score=2".into())),
        "{:?}",
        c.applied_rules
    );
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
<blockquote class="gmail_quote">Sorry, the service was down: a critical outage, urgent work.</blockquote></div>"#;
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
            ("bugs".into(), "score=2".into()),
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

// ------------------------------------------------------------- languages

const GERMAN_OUTAGE: &str = "Guten Tag, seit heute Morgen haben wir einen kompletten \
    Serverausfall, keiner unserer Mitarbeiter kann sich anmelden. Bitte melden Sie sich \
    so schnell wie möglich bei uns.";

const ENGLISH_BILLING: &str = "Hello, we were charged twice for the November invoice and \
    would like the second payment refunded to the card we used. Thank you for your help.";

#[test]
fn language_is_detected_recorded_and_selects_the_rules() {
    let rules = Rules::default_rules();
    let c = rules.classify(
        &msg("Störung", "ann@customer.test", &["support@acme.test"]),
        GERMAN_OUTAGE,
    );
    assert_eq!(c.language.as_deref(), Some("de"));
    assert_eq!(c.category, "incidents", "{:?}", c.applied_rules);
    assert!(decisions(&c).contains(&("language".into(), "language=de".into())));
    assert!(
        decisions(&c)
            .iter()
            .any(|(rule, d)| rule == "incidents_de" && d.starts_with("keyword=")),
        "{:?}",
        c.applied_rules
    );
    let c = rules.classify(
        &msg("Invoice", "ann@customer.test", &["support@acme.test"]),
        ENGLISH_BILLING,
    );
    assert_eq!(c.language.as_deref(), Some("en"));
    assert_eq!(c.category, "billing");
    // German rules never see English mail: "kaputt" is not an English word,
    // but a rule for German only must not fire on it in English text.
    let only_german = Rules::from_toml(
        r#"
[[rules]]
name = "kaputt"
language = "de"
category = "incidents"
priority = "high"
keywords = ["payment"]
"#,
    )
    .expect("rules");
    let c = only_german.classify(&msg("Invoice", "ann@customer.test", &[]), ENGLISH_BILLING);
    assert_eq!(c.category, "general", "{:?}", c.applied_rules);
}

#[test]
fn german_word_forms_compounds_and_negation() {
    let rules = Rules::default_rules();
    let de = |subject: &str, body: &str| {
        let c = rules.classify(&msg(subject, "ann@customer.test", &[]), body);
        assert_eq!(c.language.as_deref(), Some("de"), "{body}");
        c.category
    };
    assert_eq!(
        de(
            "Frage zur Abrechnung",
            "Hallo, auf unserer letzten Rechnung wurden uns zwei Lizenzen doppelt abgebucht. \
             Können Sie uns das bitte erstatten und eine neue Rechnung schicken?"
        ),
        "billing"
    );
    assert_eq!(
        de(
            "Kündigung",
            "Sehr geehrte Damen und Herren, hiermit kündigen wir unseren Vertrag zum \
             nächstmöglichen Zeitpunkt. Bitte bestätigen Sie uns die Kündigung schriftlich."
        ),
        "churn_risk"
    );
    assert_eq!(
        de(
            "Anmeldeprobleme",
            "Hallo, seit dem letzten Update bekommen wir beim Einloggen immer eine \
             Fehlermeldung und die Seite lädt nicht mehr richtig. Was können wir tun?"
        ),
        "bugs"
    );
    // "kein Problem" is no evidence.
    assert_eq!(
        de(
            "Vielen Dank",
            "Hallo, vielen Dank für die schnelle Antwort, das war kein Problem für uns. \
             Wir melden uns nächste Woche wieder bei Ihnen wegen des Termins."
        ),
        "general"
    );
}

#[test]
fn language_routing_and_mailboxes_of_any_domain() {
    let rules = Rules::from_toml(
        r#"
[[rules]]
name = "billing"
category = "billing"
priority = "medium"
keywords = ["invoice"]

[[languages]]
code = "de"
queue = "support-de"
priority = "medium"

[[mailboxes]]
address = "security@"
queue = "security"
priority = "high"
"#,
    )
    .expect("rules");
    let c = rules.classify(&msg("Störung", "ann@customer.test", &[]), GERMAN_OUTAGE);
    assert_eq!(
        (c.queue.as_str(), c.priority),
        ("support-de", Priority::Medium)
    );
    assert!(decisions(&c).contains(&("language".into(), "queue=support-de".into())));
    // English mail is not routed by language.
    let c = rules.classify(&msg("Invoice", "ann@customer.test", &[]), ENGLISH_BILLING);
    assert_eq!(c.queue, "billing");
    // `security@` is that local part at any domain, and only that one.
    for (to, queue) in [
        ("SECURITY@acme.test", "security"),
        ("security@other.example", "security"),
        ("security-team@acme.test", "billing"),
        ("xsecurity@acme.test", "billing"),
    ] {
        let c = rules.classify(&msg("Invoice", "ann@customer.test", &[to]), ENGLISH_BILLING);
        assert_eq!(c.queue, queue, "{to}");
    }
    // The defaults carry the recipes' examples.
    let defaults = Rules::default_rules();
    let c = defaults.classify(
        &msg("Hello", "ann@customer.test", &["billing@acme.test"]),
        "just a question about our account",
    );
    assert_eq!(c.queue, "billing");
    let c = defaults.classify(
        &msg("Hello", "cto@eu.bigcorp.com", &["security@acme.test"]),
        "just a question about our account",
    );
    assert_eq!((c.queue.as_str(), c.priority), ("security", Priority::High));
}

#[test]
fn language_errors_name_the_rule_and_the_choices() {
    for (toml, want) in [
        (
            "[[rules]]\nname = \"x\"\ncategory = \"c\"\npriority = \"low\"\nkeywords = [\"a\"]\nlanguage = \"jp\"\n",
            "rule `x`: unknown language `jp` (expected one of en, de,",
        ),
        (
            "[[languages]]\ncode = \"klingon\"\n",
            "languages: unknown language `klingon`",
        ),
        (
            "[[languages]]\ncode = \"de\"\nqueue = \" \"\n",
            "language `de`: empty queue",
        ),
        (
            "[[mailboxes]]\naddress = \"@acme.test\"\n",
            "is not an email address",
        ),
    ] {
        let err = Rules::from_toml(toml).expect_err(toml);
        assert!(
            matches!(&err, RulesError::Invalid(m) if m.contains(want)),
            "{err} / {want}"
        );
    }
}

// ------------------------------------------------------------ scan bound

#[test]
fn keywords_past_the_scanned_head_of_the_body_are_not_evidence() {
    use triage_core::classify::BODY_SCAN_BYTES;
    let rules = Rules::default_rules();
    // Filler with no keyword, then a keyword just inside or just outside
    // the scanned head. After one ASCII byte every "é" (two bytes) starts
    // at an odd offset: the cut at an even one falls inside a character.
    let filler = |n: usize| format!("a{}", "é".repeat(n / 2));
    let inside = format!("{} refund", filler(BODY_SCAN_BYTES - 16));
    let outside = format!("{} refund", filler(BODY_SCAN_BYTES));
    assert!(!outside.is_char_boundary(BODY_SCAN_BYTES));
    assert_eq!(category(&rules, "hello", &inside), "billing");
    assert_eq!(category(&rules, "hello", &outside), "general");
    // The subject is always read whole.
    assert_eq!(category(&rules, "refund", &outside), "billing");
}
