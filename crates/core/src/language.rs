//! The language of a message's visible text, for per-language rules and
//! routing ([`crate::classify`]).
//!
//! Detection is `whichlang`'s linear model over the subject and the first
//! [`SAMPLE_BYTES`] of the text: sixteen languages, about 2 µs a message
//! (a trigram-profile detector cost 30 µs here, more than the whole
//! classification budget). It always names a language, so a text with
//! fewer than [`MIN_LETTERS`] letters gets none: short texts ("server
//! down!!") are too short to tell, and then only the rules without a
//! language apply. A language outside the sixteen is taken for the nearest
//! of them; that limit is in the README.

use rust_stemmers::Algorithm;
use whichlang::Lang;

/// Bytes of visible text looked at (after the subject).
pub const SAMPLE_BYTES: usize = 120;

/// Letters the sample needs before a language is named.
pub const MIN_LETTERS: usize = 20;

/// A language mail can be detected in: its ISO 639-1 code, the detector's
/// language and its Snowball stemmer (none for the languages without one:
/// their keywords match as written).
#[derive(Debug, Clone, Copy)]
pub struct Language {
    code: &'static str,
    lang: Lang,
    algorithm: Option<Algorithm>,
}

impl Language {
    /// ISO 639-1 code (`en`, `de`, ...): what tickets and rules files say.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// The Snowball stemmer, if the language has one.
    pub(crate) fn algorithm(self) -> Option<Algorithm> {
        self.algorithm
    }

    /// The language of an ISO 639-1 code (case-insensitive), if it can be
    /// detected.
    pub fn from_code(code: &str) -> Option<Language> {
        let code = code.trim();
        SUPPORTED
            .iter()
            .copied()
            .find(|l| l.code.eq_ignore_ascii_case(code))
    }

    /// Every language that can be detected.
    pub fn all() -> &'static [Language] {
        SUPPORTED
    }

    /// English: the stemmer of rules that name no language.
    pub const ENGLISH: Language = Language {
        code: "en",
        lang: Lang::Eng,
        algorithm: Some(Algorithm::English),
    };
}

/// Compared by code: the code names the language.
impl PartialEq for Language {
    fn eq(&self, other: &Language) -> bool {
        self.code == other.code
    }
}

impl Eq for Language {}

const fn l(code: &'static str, lang: Lang, algorithm: Option<Algorithm>) -> Language {
    Language {
        code,
        lang,
        algorithm,
    }
}

const SUPPORTED: &[Language] = &[
    Language::ENGLISH,
    l("de", Lang::Deu, Some(Algorithm::German)),
    l("fr", Lang::Fra, Some(Algorithm::French)),
    l("es", Lang::Spa, Some(Algorithm::Spanish)),
    l("it", Lang::Ita, Some(Algorithm::Italian)),
    l("pt", Lang::Por, Some(Algorithm::Portuguese)),
    l("nl", Lang::Nld, Some(Algorithm::Dutch)),
    l("sv", Lang::Swe, Some(Algorithm::Swedish)),
    l("ru", Lang::Rus, Some(Algorithm::Russian)),
    l("tr", Lang::Tur, Some(Algorithm::Turkish)),
    l("ar", Lang::Ara, Some(Algorithm::Arabic)),
    l("zh", Lang::Cmn, None),
    l("ja", Lang::Jpn, None),
    l("ko", Lang::Kor, None),
    l("hi", Lang::Hin, None),
    l("vi", Lang::Vie, None),
];

/// Detects the language of mail.
#[derive(Debug, Clone, Default)]
pub struct LanguageDetector;

impl LanguageDetector {
    pub fn new() -> LanguageDetector {
        LanguageDetector
    }

    /// The language of `subject` and the start of `text`, when there is
    /// enough of it to tell.
    pub fn detect(&self, subject: &str, text: &str) -> Option<Language> {
        let sample = prefix(text, SAMPLE_BYTES);
        let letters = subject
            .chars()
            .chain(sample.chars())
            .filter(|c| c.is_alphabetic())
            .take(MIN_LETTERS)
            .count();
        if letters < MIN_LETTERS {
            return None;
        }
        let mut joined = String::with_capacity(subject.len() + sample.len() + 1);
        joined.push_str(subject);
        joined.push('\n');
        joined.push_str(sample);
        let lang = whichlang::detect_language(&joined);
        SUPPORTED.iter().copied().find(|l| l.lang == lang)
    }
}

/// At most `max` bytes of `s`, cut on a char boundary.
fn prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_english_and_german_support_mail() {
        let d = LanguageDetector::new();
        let en = d.detect(
            "Export keeps failing",
            "Hello, since yesterday the export of our monthly report fails with an error \
             message and we cannot send the numbers to our accountant. Could you help?",
        );
        assert_eq!(en.map(Language::code), Some("en"));
        let de = d.detect(
            "Export funktioniert nicht",
            "Guten Tag, seit gestern bricht der Export unseres Monatsberichts mit einer \
             Fehlermeldung ab und wir können die Zahlen nicht an die Buchhaltung schicken.",
        );
        assert_eq!(de.map(Language::code), Some("de"));
    }

    #[test]
    fn too_little_text_is_no_answer() {
        let d = LanguageDetector::new();
        assert_eq!(d.detect("", ""), None);
        assert_eq!(d.detect("ok", ""), None);
        assert_eq!(d.detect("server down!!", "pls help"), None);
    }

    #[test]
    fn codes_round_trip() {
        for l in Language::all() {
            assert_eq!(Language::from_code(l.code()), Some(*l));
        }
        assert_eq!(Language::from_code(" DE "), Language::from_code("de"));
        assert_eq!(Language::from_code("xx"), None);
        assert_eq!(Language::from_code("da"), None, "not detected");
        assert!(Language::from_code("ja").is_some_and(|l| l.algorithm().is_none()));
    }

    #[test]
    fn long_text_is_sampled_on_a_char_boundary() {
        let text = "ä".repeat(SAMPLE_BYTES);
        assert!(prefix(&text, SAMPLE_BYTES + 1).len() <= SAMPLE_BYTES + 1);
        assert!(prefix(&text, 5).is_char_boundary(4));
        assert_eq!(prefix("abc", 10), "abc");
    }
}
