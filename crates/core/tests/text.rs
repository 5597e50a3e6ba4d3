//! visible_text on real replies (talon's html-replies fixtures) and
//! properties on arbitrary input.

mod common;
use common::fixtures;

use proptest::prelude::*;
use triage_core::BodyFormat;
use triage_core::text::{html_to_text, strip_quoted, visible_text};

fn html_replies() -> Vec<(String, String)> {
    let dir = fixtures().join("email/html-replies");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((name, String::from_utf8_lossy(&bytes).into_owned()));
    }
    out.sort();
    assert!(
        out.len() >= 9,
        "expected the 9 html-replies fixtures, found {}",
        out.len()
    );
    out
}

#[test]
fn every_html_reply_keeps_the_new_text_and_drops_the_history() {
    for (name, html) in html_replies() {
        let text = visible_text(&html, BodyFormat::Html);
        // The new text of every fixture.
        for kept in ["Hi. I am fine.", "Thanks,", "Alex"] {
            assert!(text.contains(kept), "{name}: lost {kept:?}:\n{text}");
        }
        // The quoted message and its attribution / header block.
        for gone in [
            "Hello! How are you?",
            "Sasha",
            "wrote:",
            "abc@example.com",
            "Subject:",
            "Test message",
        ] {
            assert!(!text.contains(gone), "{name}: kept {gone:?}:\n{text}");
        }
        // The converted (unstripped) text does hold the quoted message, so
        // the assertions above test the stripping, not the conversion.
        assert!(
            html_to_text(&html).contains("Hello! How are you?"),
            "{name}: conversion lost the quoted text"
        );
    }
}

#[test]
fn html_reply_text_is_exactly_the_new_text() {
    for (name, html) in html_replies() {
        let text = visible_text(&html, BodyFormat::Html);
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(
            words,
            ["Hi.", "I", "am", "fine.", "Thanks,", "Alex"],
            "{name}:\n{text}"
        );
    }
}

#[test]
fn plain_text_reply_with_quoted_lines() {
    let body = "Please refund my last invoice.\n\nOn Tue, 5 Mar 2024, Support <support@example.com> wrote:\n> the service was down\n> sorry";
    assert_eq!(
        visible_text(body, BodyFormat::Text),
        "Please refund my last invoice."
    );
    assert_eq!(
        strip_quoted("a\n> b\nc"),
        "a\nc",
        "inline replies between quotes are kept"
    );
}

#[test]
fn markdown_cleaned_body_is_text_stripped() {
    let md = "**Thanks**, that works.\n\n> the old answer\n";
    assert_eq!(
        visible_text(md, BodyFormat::Markdown),
        "**Thanks**, that works."
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn visible_text_never_panics_on_arbitrary_strings(s in any::<String>()) {
        let _ = visible_text(&s, BodyFormat::Html);
        let _ = visible_text(&s, BodyFormat::Text);
        let _ = visible_text(&s, BodyFormat::Markdown);
    }

    #[test]
    fn visible_text_never_panics_on_tag_soup(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("<div>".to_string()), Just("</div>".to_string()),
                Just("<blockquote>".to_string()), Just("</blockquote>".to_string()),
                Just("<div class=\"gmail_quote\">".to_string()), Just("<hr id=stopSpelling>".to_string()),
                Just("<div id='divRplyFwdMsg'>".to_string()), Just("<table><tr><td>".to_string()),
                Just("<!--".to_string()), Just("-->".to_string()), Just("<script>".to_string()),
                Just("\n> ".to_string()), Just("\nOn Mon wrote:\n".to_string()),
                Just("\nFrom: a\nSent: b\n".to_string()), Just("<a href='".to_string()), Just("'>".to_string()),
                "[a-zé< >/=\"'\n:@]{0,12}",
            ],
            0..64,
        )
    ) {
        let s: String = parts.concat();
        let _ = visible_text(&s, BodyFormat::Html);
        let _ = visible_text(&s, BodyFormat::Text);
    }

    #[test]
    fn plain_text_without_quote_markers_keeps_its_words(words in proptest::collection::vec("[a-z]{1,8}", 1..40)) {
        let text = words.join(" ");
        prop_assert_eq!(visible_text(&text, BodyFormat::Text), text);
    }
}

// ------------------------------------------------------------ HTML conversion

#[test]
fn entities_are_decoded() {
    let t = html_to_text("<p>Fish &amp; chips &lt;3 &eacute;t&eacute; &#233;&#x41; caf&eacute</p>");
    assert_eq!(t, "Fish & chips <3 été éA café");
    // A no-break space stays one (it is whitespace to the classifier).
    assert_eq!(html_to_text("a&nbsp;b"), "a\u{a0}b");
}

#[test]
fn whitespace_collapses_and_blocks_make_lines() {
    assert_eq!(
        html_to_text("<div>a\n   b\t c</div><div>d</div>"),
        "a b c\nd"
    );
    assert_eq!(html_to_text("<p>x</p><p>y</p>"), "x\n\ny");
    assert_eq!(html_to_text("one<br>two<br><br>three"), "one\ntwo\n\nthree");
    assert_eq!(
        html_to_text("<div>Hi</div><div><br></div><div>Bye</div>"),
        "Hi\n\nBye"
    );
    assert_eq!(html_to_text("a<b>b</b> <i>c</i>d"), "ab cd");
    assert_eq!(
        html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>"),
        "a b\nc"
    );
    assert_eq!(html_to_text("<pre>  x\n    y</pre>"), "  x\n    y");
}

#[test]
fn invisible_content_is_dropped() {
    let t = html_to_text(
        "<noscript>ns</noscript><template><p>tpl</p></template><iframe>frame</iframe>\
         <svg><title>icon</title></svg><p>shown &amp; kept</p>",
    );
    assert_eq!(t, "shown & kept");
}

#[test]
fn quote_markers_are_only_read_in_start_tags() {
    // In raw text, comments, other attributes and end tags they mean nothing.
    let html = r#"<script>var q = '<div class="gmail_quote">';</script><!-- <div id="divRplyFwdMsg"> -->
        <p title="gmail_quote">kept</p></div class="gmail_quote"><p>after</p>"#;
    let t = visible_text(html, BodyFormat::Html);
    assert_eq!(t, "kept\n\nafter");
}

#[test]
fn every_history_container_cuts_case_insensitively() {
    for start in [
        r#"<div class="gmail_quote_container">"#,
        r#"<div class="x YAHOO_QUOTED y">"#,
        r#"<div class=OutlookMessageHeader>"#,
        r#"<div id="x_divRplyFwdMsg">"#,
        r#"<div id='APPENDONSEND'>"#,
        r#"<hr id=stopSpelling>"#,
    ] {
        let html = format!("<div>new text</div>{start}<p>old text</p></div><p>later</p>");
        assert_eq!(visible_text(&html, BodyFormat::Html), "new text", "{start}");
        // Converted in full when not cutting.
        assert!(html_to_text(&html).contains("old text"), "{start}");
    }
    // An `id="stopSpelling"` only counts on a rule.
    let html = r#"<div id="stopSpelling">kept</div>"#;
    assert_eq!(visible_text(html, BodyFormat::Html), "kept");
}

#[test]
fn blockquote_drops_the_attribution_line_above_it() {
    let html = "<p>Sure, done.</p><p>Bob &lt;bob@example.com&gt;:</p>\
                <blockquote><p>Can you <b>refund</b> me?</p></blockquote><p>Anything else?</p>";
    assert_eq!(
        visible_text(html, BodyFormat::Html),
        "Sure, done.\n\nAnything else?"
    );
    let converted = html_to_text(html);
    assert!(converted.contains("> Can you refund me?"), "{converted}");
}

#[test]
fn pathological_html_stays_linear() {
    // Each about 1 MiB; debug builds, a loaded machine: a loose bound.
    let n = 1 << 20;
    for (name, html) in [
        (
            "open attribute",
            format!("<p>x</p><a href='{}", "a".repeat(n)),
        ),
        (
            "open comment",
            format!("<p>x</p><!--{}", "<div>".repeat(n / 5)),
        ),
        (
            "ampersands",
            format!("<p>x</p>{}", "&amp&#x;&#99999999;&".repeat(n / 20)),
        ),
        ("tag soup", "<p>x</p><b><i><u>".repeat(n / 16)),
        ("unclosed quotes", "<blockquote><p>y".repeat(n / 16)),
        ("attributes", format!("<p {}>x</p>", "a=b ".repeat(n / 4))),
        ("breaks", "<br>".repeat(n / 4)),
    ] {
        let text = visible_text(&html, BodyFormat::Html);
        let _ = html_to_text(&html);
        assert!(text.len() <= html.len(), "{name}");
    }
}
