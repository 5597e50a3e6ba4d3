//! Per-message cost of the filters and the classifier, with 4 KiB and
//! 256 KiB HTML bodies, the default rules and a generated 500-keyword set.
//!
//! - `filters+classify/...`: `skip_reason` + `classify` on the visible text
//!   (already extracted).
//! - `visible_text/...`: HTML to text with quote removal alone (the
//!   conversion stops where the Gmail quote starts, 3/4 into the body).
//! - `html_to_text/...`: the whole body converted, nothing cut (the HTML
//!   stage's cost when no quote marker is found).
//! - `pipeline/...`: all three, as the worker runs them.
//!
//! Run: `cargo bench -p triage-core --bench classify`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use triage_core::classify::Rules;
use triage_core::filters::{FilterContext, skip_reason};
use triage_core::text::{html_to_text, visible_text};
use triage_core::{BodyFormat, Header, Message, Participant};

/// Words that are no keyword of any rule set below.
const VOCABULARY: &[&str] = &[
    "hello",
    "team",
    "we",
    "noticed",
    "that",
    "the",
    "dashboard",
    "shows",
    "numbers",
    "from",
    "yesterday",
    "and",
    "our",
    "analysts",
    "would",
    "like",
    "to",
    "know",
    "whether",
    "this",
    "is",
    "expected",
    "behaviour",
    "thanks",
    "for",
    "looking",
    "into",
    "it",
    "regards",
    "wordsmith",
    "worded",
    "download",
    "tissue",
    "discharge",
    "issuer",
    "charger",
    "bugle",
    "errand",
];

/// An HTML body of about `size` bytes: paragraphs of filler words, one
/// billing keyword near the end (so the scan never stops early), and a
/// quoted history (Gmail) holding an incident keyword.
fn html_body(size: usize) -> String {
    let mut html = String::with_capacity(size + 512);
    html.push_str("<html><body><div dir=\"ltr\">");
    let new_text = size * 3 / 4;
    let mut i = 0usize;
    while html.len() < new_text {
        html.push_str("<p>");
        for _ in 0..24 {
            html.push_str(VOCABULARY[i % VOCABULARY.len()]);
            html.push(' ');
            i = i.wrapping_mul(31).wrapping_add(7) % 9973;
        }
        html.push_str("<b>word7</b> <a href=\"https://example.com/x\">link</a></p>\n");
    }
    html.push_str("<p>Could you refund the last payment?</p></div>");
    html.push_str("<div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, Nov 17, 2025 at 10:02 AM Support &lt;support@acme.test&gt; wrote:</div><blockquote class=\"gmail_quote\">");
    while html.len() < size {
        html.push_str("<p>The service was down for maintenance on Sunday. ");
        html.push_str("We apologise for the inconvenience.</p>\n");
    }
    html.push_str("</blockquote></div></body></html>");
    html
}

fn message(body: String) -> Message {
    let mut headers: Vec<Header> = [
        (
            "Received",
            "from mx.customer.test by mx.google.com with ESMTPS id x",
        ),
        ("Received", "by mail.customer.test with SMTP id y"),
        (
            "DKIM-Signature",
            "v=1; a=rsa-sha256; d=customer.test; s=s1; b=abc",
        ),
        ("ARC-Seal", "i=1; a=rsa-sha256; t=1763870450; cv=none"),
        ("MIME-Version", "1.0"),
        ("From", "Ann Example <ann@customer.test>"),
        ("To", "support@acme.test"),
        ("Subject", "Question about the dashboard"),
        ("Date", "Mon, 17 Nov 2025 10:20:50 +0000"),
        ("Message-ID", "<CAF=k2Q7x@mail.customer.test>"),
        ("In-Reply-To", "<inv-20311@billing.acme.test>"),
        ("References", "<inv-20311@billing.acme.test>"),
        ("Content-Type", "multipart/alternative; boundary=\"b1\""),
        ("X-Mailer", "Example Mail 1.0"),
        ("X-Auto-Response-Suppress", "OOF"),
    ]
    .iter()
    .map(|(n, v)| Header {
        name: n.to_string(),
        value: v.to_string(),
    })
    .collect();
    headers.extend((0..10).map(|i| Header {
        name: format!("X-Trace-{i}"),
        value: "some value".into(),
    }));
    Message {
        id: "m1".into(),
        grant_id: "g1".into(),
        subject: Some("Question about the dashboard".into()),
        from: vec![Participant {
            name: "Ann".into(),
            email: "ann@customer.test".into(),
        }],
        to: vec![Participant {
            name: String::new(),
            email: "support@acme.test".into(),
        }],
        folders: vec!["INBOX".into(), "UNREAD".into()],
        body: Some(body),
        headers: Some(headers),
        ..Message::default()
    }
}

fn generated_rules(rules: usize, keywords_per_rule: usize) -> Rules {
    let mut toml = String::from("vip_domains = [\"bigcorp.com\"]\n");
    for r in 0..rules {
        let keywords: Vec<String> = (0..keywords_per_rule)
            .map(|k| format!("\"word{r} term{k}\""))
            .collect();
        toml.push_str(&format!(
            "[[rules]]\nname = \"r{r}\"\ncategory = \"c{r}\"\npriority = \"medium\"\nkeywords = [{}]\n",
            keywords.join(", ")
        ));
    }
    toml.push_str("[[rules]]\nname = \"billing\"\ncategory = \"billing\"\npriority = \"medium\"\nkeywords = [\"refund\"]\n");
    match Rules::from_toml(&toml) {
        Ok(rules) => rules,
        Err(e) => panic!("generated rules: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let support = vec!["support@acme.test".to_string()];
    let ctx = FilterContext {
        support_addresses: &support,
        origin: triage_core::provider::Origin::default(),
        ..FilterContext::default()
    };
    let rule_sets = [
        ("default", Rules::default_rules()),
        ("500kw", generated_rules(50, 10)),
    ];
    assert_eq!(rule_sets[1].1.keyword_count(), 501);

    for (label, size) in [("4KiB", 4 * 1024), ("256KiB", 256 * 1024)] {
        let msg = message(html_body(size));
        let html = msg.body.as_deref().unwrap_or_default();
        let text = visible_text(html, BodyFormat::Html);
        // The setup is what it claims: quotes gone, billing found.
        assert!(!text.contains("down for maintenance"));
        for (_, rules) in &rule_sets {
            assert_eq!(rules.classify(&msg, &text).category, "billing");
        }
        assert_eq!(skip_reason(&msg, &ctx), None);

        let mut group = c.benchmark_group("filters+classify");
        group.throughput(Throughput::Bytes(html.len() as u64));
        for (rules_label, rules) in &rule_sets {
            group.bench_with_input(
                BenchmarkId::new(*rules_label, label),
                &(&msg, &text),
                |b, (msg, text)| {
                    b.iter(|| {
                        let skip = skip_reason(black_box(msg), &ctx);
                        let class = rules.classify(black_box(msg), black_box(text));
                        black_box((skip, class))
                    })
                },
            );
        }
        group.finish();

        let mut group = c.benchmark_group("visible_text");
        group.throughput(Throughput::Bytes(html.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), html, |b, html| {
            b.iter(|| visible_text(black_box(html), BodyFormat::Html))
        });
        group.finish();

        let mut group = c.benchmark_group("html_to_text");
        group.throughput(Throughput::Bytes(html.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), html, |b, html| {
            b.iter(|| html_to_text(black_box(html)))
        });
        group.finish();

        let mut group = c.benchmark_group("pipeline");
        group.throughput(Throughput::Bytes(html.len() as u64));
        let rules = &rule_sets[0].1;
        group.bench_with_input(BenchmarkId::new("default", label), &msg, |b, msg| {
            b.iter(|| {
                let skip = skip_reason(black_box(msg), &ctx);
                let text = visible_text(msg.body.as_deref().unwrap_or_default(), BodyFormat::Html);
                let class = rules.classify(msg, &text);
                black_box((skip, class))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
