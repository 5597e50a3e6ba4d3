//! The subject signal: a subject normalised so that a reply or forward of a
//! message compares equal to it, and whether it says enough to thread on.
//!
//! [`normalise`]: lower case; ticket tags ([`super::reference`]) removed
//! wherever they are; control characters and runs of whitespace made one
//! space; then, at the start and any number of times, reply/forward
//! prefixes ([`PREFIXES`], case-insensitive, with a counter `[2]`, `(2)` or
//! `^2`, a space before the colon, an ASCII or full-width colon) and
//! mailing-list tags (`[list-name]`) are stripped. It is idempotent.
//!
//! [`subject_key`] is what a store keys its subject pointer on: a digest of
//! the normalised subject, or `None` when the subject is too generic to
//! thread on ([`is_generic`]).

use sha2::{Digest, Sha256};

use super::reference;

/// Reply and forward prefixes, lower case, without their colon.
#[rustfmt::skip]
pub const PREFIXES: &[&str] = &[
    "re", "fwd", "fw",                  // English
    "aw", "wg",                         // German: Antwort, Weitergeleitet
    "sv", "vb",                         // Swedish, Danish, Norwegian: Svar, Vidarebefordrat
    "vs", "vl",                         // Finnish: Vastaus, Välitetty
    "antw", "doorst",                   // Dutch: Antwoord, Doorgestuurd
    "réf", "ref", "tr",                 // French: Réf., Transféré
    "rv", "res", "enc",                 // Spanish, Portuguese: Reenviado, Resposta, Encaminhado
    "rif",                              // Italian: Riferimento
    "odp", "pd",                        // Polish: Odpowiedź, Przekazanie dalej
    "ynt", "ilt", "i\u{307}lt",         // Turkish: Yanıt, İlet (`İ` lower-cases to i + dot)
    "回复", "回覆", "答复", "答覆",      // Chinese: reply
    "转发", "轉寄", "転送", "返信",      // Chinese, Japanese: forward; Japanese: reply
    "отв", "пересл", "σχετ", "πρθ",     // Russian, Greek
];

/// Subjects that never thread, normalised and without punctuation at
/// either end. Anything shorter than [`MIN_SUBJECT_CHARS`] never threads
/// either.
pub const GENERIC_SUBJECTS: &[&str] = &[
    "help",
    "hello",
    "hi",
    "question",
    "questions",
    "support",
    "request",
    "inquiry",
    "enquiry",
    "information",
    "feedback",
    "problem",
    "issue",
    "urgent",
    "test",
    "thanks",
    "thank you",
    "need help",
    "help needed",
    "support request",
    "no subject",
    "hilfe",
    "anfrage",
    "frage",
    "kein betreff",
    "sans objet",
    "sin asunto",
    "senza oggetto",
    "geen onderwerp",
    "untitled",
    // What an acknowledgement of a message without a subject says.
    "we received your message",
];

/// Fewest letters and digits a normalised subject needs to thread on.
pub const MIN_SUBJECT_CHARS: usize = 8;
/// Longest normalised subject, in characters (a ticket keeps 256).
pub const MAX_NORMALISED_CHARS: usize = 256;
/// Characters of a subject looked at; the rest is ignored.
const MAX_INPUT_CHARS: usize = 1024;
/// Longest mailing-list tag stripped, in characters between the brackets.
const MAX_LIST_TAG_CHARS: usize = 64;
/// Most digits in a counter such as `Re[12]:`.
const MAX_COUNTER_DIGITS: usize = 4;

/// The subject as threading compares it (see the module doc).
pub fn normalise(subject: &str) -> String {
    let mut s: String = subject.chars().take(MAX_INPUT_CHARS).collect();
    // After the first round `s` is lower case and collapsed, so a round
    // that changes it makes it shorter: this ends.
    loop {
        let next = round(&s);
        if next == s {
            break;
        }
        s = next;
    }
    crate::ticket::cap_chars(&s, MAX_NORMALISED_CHARS)
        .trim_end()
        .to_string()
}

/// The key of a subject pointer for `subject`: `s_` and 32 hex digits of
/// the SHA-256 of its normalised form, or `None` when it must not thread.
pub fn subject_key(subject: &str) -> Option<String> {
    let normalised = normalise(subject);
    if is_generic(&normalised) {
        return None;
    }
    let digest = Sha256::digest(normalised.as_bytes());
    Some(format!("s_{}", &hex::encode(digest)[..32]))
}

/// Whether a normalised subject is too generic to thread on: fewer than
/// [`MIN_SUBJECT_CHARS`] letters and digits, or one of [`GENERIC_SUBJECTS`].
pub fn is_generic(normalised: &str) -> bool {
    let letters = normalised.chars().filter(|c| c.is_alphanumeric()).count();
    let core = normalised.trim_matches(|c: char| !c.is_alphanumeric());
    letters < MIN_SUBJECT_CHARS || GENERIC_SUBJECTS.contains(&core)
}

/// One pass: lower case, tags out, whitespace collapsed, prefixes stripped.
fn round(s: &str) -> String {
    let lower = s.to_lowercase();
    let collapsed = collapse(&reference::remove(&lower));
    let mut rest = collapsed.as_str();
    while let Some(r) = strip_one(rest) {
        rest = r.trim_start();
    }
    collapse(rest)
}

/// Control characters and whitespace runs made one space, ends trimmed.
fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `s` without one leading prefix or list tag, if it starts with one.
fn strip_one(s: &str) -> Option<&str> {
    if let Some(inner) = s.strip_prefix('[') {
        let end = inner.find(']')?;
        let tag = &inner[..end];
        let chars = tag.chars().count();
        return ((1..=MAX_LIST_TAG_CHARS).contains(&chars) && !tag.contains('['))
            .then(|| &inner[end + 1..]);
    }
    PREFIXES.iter().find_map(|p| {
        let rest = counter(s.strip_prefix(p)?).trim_start();
        rest.strip_prefix(':').or_else(|| rest.strip_prefix('：'))
    })
}

/// `s` without a leading reply counter (`[2]`, `(2)`, `^2`).
fn counter(s: &str) -> &str {
    let digits = |r: &str| r.len() - r.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    for (open, close) in [('[', Some(']')), ('(', Some(')')), ('^', None)] {
        let Some(r) = s.strip_prefix(open) else {
            continue;
        };
        let n = digits(r);
        if !(1..=MAX_COUNTER_DIGITS).contains(&n) {
            return s;
        }
        return match close {
            Some(c) => r[n..].strip_prefix(c).unwrap_or(s),
            None => &r[n..],
        };
    }
    s
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::threading::reference::tag;
    use crate::ticket::ticket_id;

    #[test]
    fn every_prefix_family_is_stripped() {
        for prefix in [
            "Re:",
            "RE:",
            "re:",
            "Fwd:",
            "FWD:",
            "Fw:",
            "FW:",
            "AW:",
            "Aw:",
            "WG:",
            "SV:",
            "Sv:",
            "VB:",
            "VS:",
            "VL:",
            "Antw:",
            "Doorst:",
            "Réf:",
            "RÉF:",
            "Réf :",
            "Ref:",
            "TR:",
            "TR :",
            "RV:",
            "RES:",
            "ENC:",
            "Rif:",
            "Odp:",
            "PD:",
            "Ynt:",
            "İlt:",
            "回复:",
            "回复：",
            "回覆:",
            "答复:",
            "转发:",
            "轉寄:",
            "転送:",
            "返信:",
            "Отв:",
            "Пересл:",
            "ΣΧΕΤ:",
            "Re[2]:",
            "Re(2):",
            "Re^2:",
            "RE[12]:",
            "Re :",
            "Re\u{a0}:",
        ] {
            assert_eq!(
                normalise(&format!("{prefix} Order 1234 never arrived")),
                "order 1234 never arrived",
                "{prefix}"
            );
        }
    }

    #[test]
    fn any_number_of_prefixes_tags_and_list_names() {
        let id = ticket_id("g", "m");
        assert_eq!(
            normalise(&format!(
                "  RE: Fwd:AW:  [support-list] Re[3]: {}  Order\t1234 \r\n never arrived",
                tag(&id)
            )),
            "order 1234 never arrived"
        );
        assert_eq!(
            normalise(&format!("Re: Order 1234 never arrived {}", tag(&id))),
            "order 1234 never arrived",
            "the acknowledgement's tag at the end"
        );
        assert_eq!(
            normalise("[ext] [list] Re: Invoice"),
            "invoice",
            "list tags at the start"
        );
    }

    #[test]
    fn words_that_only_start_like_a_prefix_stay() {
        assert_eq!(normalise("Rest: the api"), "rest: the api");
        assert_eq!(
            normalise("Report: weekly numbers"),
            "report: weekly numbers"
        );
        assert_eq!(normalise("Re[x]: a"), "re[x]: a");
        assert_eq!(normalise("Re[12345]: a"), "re[12345]: a");
        assert_eq!(normalise("Re^: a"), "re^: a");
        assert_eq!(
            normalise("Refund for order 1234: where?"),
            "refund for order 1234: where?"
        );
        assert_eq!(normalise("Invoice re: order"), "invoice re: order");
        assert_eq!(
            normalise("[] Re: a"),
            "[] re: a",
            "an empty tag is no list tag"
        );
    }

    #[test]
    fn generic_and_short_subjects_never_thread() {
        for subject in [
            "",
            "   ",
            "Re:",
            "Help",
            "RE: help!",
            "Question?",
            "Support",
            "Hello",
            "hi",
            "(no subject)",
            "Hilfe",
            "AW: Anfrage",
            "Frage",
            "Re: Re: (No Subject)",
            "[list] Thanks!",
            "Order 12",
            "!!!!!!!!!!!!!!",
            "[t_0123456789abcdef01234567] We received your message",
        ] {
            assert_eq!(subject_key(subject), None, "{subject:?}");
        }
        assert!(subject_key("Order 1234 never arrived").is_some());
        assert!(subject_key("Questions about my invoice").is_some());
    }

    #[test]
    fn keys_are_equal_for_replies_and_distinct_otherwise() {
        let key = subject_key("Order 1234 never arrived");
        assert_eq!(key, subject_key("RE: order 1234   never arrived"));
        assert_eq!(key, subject_key("AW: WG: Order 1234 never arrived"));
        assert_ne!(key, subject_key("Order 1235 never arrived"));
        let k = key.unwrap_or_default();
        assert!(k.starts_with("s_") && k.len() == 34, "{k}");
        assert!(!k.contains("order"), "a digest, not the subject");
    }

    #[test]
    fn long_subjects_are_cut() {
        let long = format!("Re: {}", "word ".repeat(1_000));
        let n = normalise(&long);
        assert!(n.chars().count() <= MAX_NORMALISED_CHARS);
        assert_eq!(normalise(&n), n);
    }

    fn subject_like() -> impl Strategy<Value = String> {
        let atoms = prop::sample::select(vec![
            "Re:",
            "RE: ",
            "re[2]:",
            "Re(3) :",
            "Re^4:",
            "AW:",
            "Fwd: ",
            "回复：",
            "Réf :",
            "İlt:",
            "[list]",
            "[",
            "]",
            "[t_0123456789abcdef01234567]",
            "[t_",
            "(",
            ")",
            "^",
            ":",
            "：",
            " ",
            "\t",
            "\r\n",
            "\u{a0}",
            "\u{0}",
            "ΣΑΣ",
            "İ",
            "ẞ",
            "é",
            "x",
            "1",
            "Order",
            "never arrived",
            "re",
            "t_",
            "0123456789abcdef01234567",
        ]);
        prop_oneof![
            prop::collection::vec(atoms, 0..24).prop_map(|v| v.concat()),
            any::<String>(),
            "\\PC{0,300}",
        ]
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent(s in subject_like()) {
            let n = normalise(&s);
            prop_assert_eq!(normalise(&n), n.clone());
            prop_assert_eq!(subject_key(&n), subject_key(&s));
            prop_assert!(n.chars().count() <= MAX_NORMALISED_CHARS);
            prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
        }

        #[test]
        fn reply_prefixes_never_change_the_key(
            prefixes in prop::collection::vec(prop::sample::select(PREFIXES.to_vec()), 0..4),
            upper in any::<bool>(),
            s in subject_like(),
        ) {
            let mut prefixed = String::new();
            for p in prefixes {
                prefixed.push_str(&if upper { p.to_uppercase() } else { p.to_string() });
                prefixed.push_str(": ");
            }
            prefixed.push_str(&normalise(&s));
            prop_assert_eq!(normalise(&prefixed), normalise(&s));
        }
    }
}
