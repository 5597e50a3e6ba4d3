//! Keyword matching on word forms, for [`crate::classify`].
//!
//! A keyword (a word or a phrase) matches the same words in any inflected
//! form: both sides go through the same Snowball stemmer, word by word, so
//! "errors" matches `error`, "charged" matches `charge` and "cancelled" and
//! "canceled" match `cancel`. Matching stays whole-word: "download" is not
//! `down` (its stem is `download`) and "discharge" is not `charge` (the
//! match must start at a word boundary). A keyword with characters that are
//! neither letters, digits nor single spaces (`c++`, `e-mail`) matches as
//! written, at word boundaries, as before.
//!
//! Finding candidates costs one Aho-Corasick pass over the text with each
//! keyword's stable prefix (the longest common prefix of the keyword and
//! its stem); only the words at a candidate are stemmed and compared.
//!
//! In a language that writes compounds as one word (German, Dutch, the
//! Scandinavian languages, Finnish, Hungarian) a keyword also matches as
//! the head, the last part, of a compound: `ausfall` is found in
//! "Serverausfall" and `problem` in "Anmeldeprobleme", but `rechnung` is not
//! found in "Rechnungsadresse" (there it is the modifier, not the thing
//! meant). The part before the head must be at least
//! [`MIN_COMPOUND_MODIFIER`] letters.
//!
//! A match preceded, within [`NEGATION_WINDOW`] words of the same sentence,
//! by a negation ("not urgent", "no outage", "no longer broken", "isn't
//! down") is not evidence.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use rust_stemmers::{Algorithm, Stemmer};

/// Letters a compound's first part needs before a keyword is taken as its
/// head.
pub const MIN_COMPOUND_MODIFIER: usize = 3;

/// Words looked at before a match for a negation.
pub const NEGATION_WINDOW: usize = 3;

/// Words that negate what follows them (English and German; contractions
/// as their first part: "isn't" is the words `isn` `t`).
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "without", "nothing", "none", "nor", "neither", "cannot", "isn", "aren",
    "wasn", "weren", "don", "doesn", "didn", "hasn", "haven", "hadn", "won", "wouldn", "shouldn",
    "couldn", "nicht", "kein", "keine", "keinen", "keinem", "keiner", "nie", "ohne",
];

/// One keyword of one rule.
#[derive(Debug, Clone)]
pub struct Keyword {
    /// Index of the rule it belongs to.
    pub rule: usize,
    /// The keyword as normalized (for `applied_rules`).
    pub text: String,
    /// The stems of its words; empty for a keyword matched as written.
    stems: Vec<String>,
    /// Its words as written (a word equal to one needs no stemming).
    words: Vec<String>,
    /// It starts / ends with a letter or digit: a word boundary is
    /// required on that side (as-written keywords).
    bound_start: bool,
    bound_end: bool,
}

/// One piece of evidence: a keyword found, not negated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index into [`KeywordSet::keywords`].
    pub keyword: usize,
    /// Byte offset in the haystack.
    pub start: usize,
}

/// Stems remembered across texts (a candidate word, like "download" for
/// `down`, recurs from message to message).
pub const STEM_MEMORY: usize = 4096;

type Memory = std::sync::Arc<std::sync::Mutex<lru::LruCache<String, String>>>;

fn memory() -> Memory {
    let size = std::num::NonZeroUsize::new(STEM_MEMORY).unwrap_or(std::num::NonZeroUsize::MIN);
    std::sync::Arc::new(std::sync::Mutex::new(lru::LruCache::new(size)))
}

/// Compiled keywords. Clones share the stem memory.
#[derive(Clone)]
pub struct KeywordSet {
    keywords: Vec<Keyword>,
    automaton: Option<AhoCorasick>,
    algorithm: Algorithm,
    /// Keywords also match as the head of a compound word.
    compounds: bool,
    /// Keywords and text are matched with umlauts folded (`ä` as `a`, `ß`
    /// as `ss`), as the German stemmer does: "Ausfälle" is `ausfall`.
    folds_umlauts: bool,
    memory: Memory,
}

impl std::fmt::Debug for KeywordSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordSet")
            .field("keywords", &self.keywords.len())
            .finish_non_exhaustive()
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Whether `s` is words of letters and digits separated by single spaces.
fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && s.split(' ')
            .all(|w| !w.is_empty() && w.chars().all(is_word_char))
}

impl KeywordSet {
    /// No keywords: nothing matches.
    pub fn empty() -> KeywordSet {
        KeywordSet {
            keywords: Vec::new(),
            automaton: None,
            algorithm: Algorithm::English,
            compounds: false,
            folds_umlauts: false,
            memory: memory(),
        }
    }

    /// Keywords of rules written for `language`: its stemmer, and compound
    /// heads in the languages that write compounds as one word.
    pub fn for_language(
        entries: impl IntoIterator<Item = (usize, String)>,
        language: crate::language::Language,
    ) -> Result<KeywordSet, String> {
        let folds = language.code() == "de";
        let entries: Vec<(usize, String)> = entries
            .into_iter()
            .map(|(rule, text)| {
                let text = if folds {
                    fold_umlauts(&text).into_owned()
                } else {
                    text
                };
                (rule, text)
            })
            .collect();
        let mut set = match language.algorithm() {
            Some(algorithm) => KeywordSet::with_algorithm(entries, algorithm)?,
            None => KeywordSet::as_written(entries)?,
        };
        set.folds_umlauts = folds;
        set.compounds = matches!(
            language.code(),
            "de" | "nl" | "sv" | "da" | "nb" | "fi" | "hu"
        );
        Ok(set)
    }

    /// Keywords as `(rule index, normalized keyword)`, stemmed with the
    /// English Snowball stemmer.
    pub fn new(entries: impl IntoIterator<Item = (usize, String)>) -> Result<KeywordSet, String> {
        KeywordSet::with_algorithm(entries, Algorithm::English)
    }

    pub fn with_algorithm(
        entries: impl IntoIterator<Item = (usize, String)>,
        algorithm: Algorithm,
    ) -> Result<KeywordSet, String> {
        KeywordSet::build(entries, algorithm, true)
    }

    /// Keywords matched as written (whole words, no stemming): the rules
    /// without a language, on mail in a language other than English, where
    /// English stems would find false friends ("Termin" is not
    /// `terminate`).
    pub fn as_written(
        entries: impl IntoIterator<Item = (usize, String)>,
    ) -> Result<KeywordSet, String> {
        KeywordSet::build(entries, Algorithm::English, false)
    }

    fn build(
        entries: impl IntoIterator<Item = (usize, String)>,
        algorithm: Algorithm,
        stemmed: bool,
    ) -> Result<KeywordSet, String> {
        let stemmer = Stemmer::create(algorithm);
        let mut keywords = Vec::new();
        let mut prefixes = Vec::new();
        for (rule, text) in entries {
            let (stems, prefix) = if stemmed && is_plain(&text) {
                let stems: Vec<String> = text
                    .split(' ')
                    .map(|w| stemmer.stem(w).into_owned())
                    .collect();
                let stemmed = stems.join(" ");
                let common = text
                    .char_indices()
                    .zip(stemmed.chars())
                    .take_while(|((_, a), b)| a == b)
                    .last()
                    .map_or(0, |((i, a), _)| i + a.len_utf8());
                // A stem that shares nothing with its word (rare) is found
                // from the word's first letter.
                let cut = if common == 0 {
                    text.chars().next().map_or(0, char::len_utf8)
                } else {
                    common
                };
                (stems, text[..cut].to_string())
            } else {
                (Vec::new(), text.clone())
            };
            let words = if stems.is_empty() {
                Vec::new()
            } else {
                text.split(' ').map(str::to_string).collect()
            };
            keywords.push(Keyword {
                rule,
                words,
                bound_start: text.chars().next().is_some_and(is_word_char),
                bound_end: text.chars().last().is_some_and(is_word_char),
                text,
                stems,
            });
            prefixes.push(prefix);
        }
        let automaton = if prefixes.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    // A DFA: the overlapping scan over every mail is the
                    // hot loop; a few hundred short prefixes keep it small.
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&prefixes)
                    .map_err(|e| format!("keywords: {e}"))?,
            )
        };
        Ok(KeywordSet {
            keywords,
            automaton,
            algorithm,
            compounds: false,
            folds_umlauts: false,
            memory: memory(),
        })
    }

    /// Whether the text must go through [`fold_umlauts`] before
    /// [`KeywordSet::hits`] (the keywords have).
    pub fn folds_umlauts(&self) -> bool {
        self.folds_umlauts
    }

    pub fn keywords(&self) -> &[Keyword] {
        &self.keywords
    }

    /// Every keyword found in `haystack` (normalized: lower case, single
    /// spaces), not negated, in the order found.
    pub fn hits(&self, haystack: &str) -> Vec<Hit> {
        let Some(automaton) = &self.automaton else {
            return Vec::new();
        };
        let mut stems = StemCache::new(Stemmer::create(self.algorithm), &self.memory);
        let mut out = Vec::new();
        for m in automaton.find_overlapping_iter(haystack) {
            let index = m.pattern().as_usize();
            let Some(kw) = self.keywords.get(index) else {
                continue;
            };
            let start = m.start();
            if kw.bound_start
                && !boundary_before(haystack, start)
                && !(self.compounds && !kw.stems.is_empty() && compound_head(haystack, start))
            {
                continue;
            }
            let matched = if kw.stems.is_empty() {
                !kw.bound_end || boundary_after(haystack, m.end())
            } else {
                words_match(haystack, start, kw, &mut stems)
            };
            if matched && !negated(haystack, start) {
                out.push(Hit {
                    keyword: index,
                    start,
                });
            }
        }
        out
    }
}

fn boundary_before(haystack: &str, start: usize) -> bool {
    haystack
        .get(..start)
        .and_then(|s| s.chars().next_back())
        .is_none_or(|c| !is_word_char(c))
}

/// `ä`, `ö`, `ü` as `a`, `o`, `u` and `ß` as `ss` (lower-case text), as the
/// German Snowball stemmer reads them; other text is borrowed.
pub fn fold_umlauts(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['ä', 'ö', 'ü', 'ß']) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ä' => out.push('a'),
            'ö' => out.push('o'),
            'ü' => out.push('u'),
            'ß' => out.push_str("ss"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether `start` is inside a word after at least
/// [`MIN_COMPOUND_MODIFIER`] letters of it: where a compound's head starts.
fn compound_head(haystack: &str, start: usize) -> bool {
    haystack.get(..start).is_some_and(|before| {
        before
            .chars()
            .rev()
            .take_while(|c| is_word_char(*c))
            .take(MIN_COMPOUND_MODIFIER)
            .count()
            >= MIN_COMPOUND_MODIFIER
    })
}

fn boundary_after(haystack: &str, end: usize) -> bool {
    haystack
        .get(end..)
        .and_then(|s| s.chars().next())
        .is_none_or(|c| !is_word_char(c))
}

/// Stems of the words of one text, each word stemmed once (texts repeat
/// their words), and looked up first in the set's memory of earlier texts.
struct StemCache<'a> {
    stemmer: Stemmer,
    /// The keys are words of untrusted mail: foldhash with a per-process
    /// random seed (colliding keys cannot be crafted without it), about a
    /// third of SipHash's cost on short words.
    seen: std::collections::HashMap<&'a str, String, foldhash::fast::RandomState>,
    memory: &'a Memory,
}

impl<'a> StemCache<'a> {
    fn new(stemmer: Stemmer, memory: &'a Memory) -> Self {
        StemCache {
            stemmer,
            seen: std::collections::HashMap::default(),
            memory,
        }
    }

    fn stem(&mut self, word: &'a str) -> &str {
        let (stemmer, memory) = (&self.stemmer, self.memory);
        self.seen.entry(word).or_insert_with(|| {
            // A poisoned memory is only a memo: stem without it.
            if let Ok(mut m) = memory.lock()
                && let Some(stem) = m.get(word)
            {
                return stem.clone();
            }
            let stem = stemmer.stem(word).into_owned();
            if let Ok(mut m) = memory.lock() {
                m.put(word.to_string(), stem.clone());
            }
            stem
        })
    }
}

/// The words from `start`, one per stem, separated by single spaces, stem
/// to the keyword's stems.
fn words_match<'a>(
    haystack: &'a str,
    start: usize,
    kw: &Keyword,
    cache: &mut StemCache<'a>,
) -> bool {
    let stems = &kw.stems;
    let Some(mut rest) = haystack.get(start..) else {
        return false;
    };
    for (i, stem) in stems.iter().enumerate() {
        if i > 0 {
            match rest.strip_prefix(' ') {
                Some(r) => rest = r,
                None => return false,
            }
        }
        let len = rest
            .char_indices()
            .find(|(_, c)| !is_word_char(*c))
            .map_or(rest.len(), |(i, _)| i);
        let word = &rest[..len];
        let written = kw.words.get(i).map(String::as_str);
        if len == 0 || !(written == Some(word) || stem_matches(cache.stem(word), stem, written)) {
            return false;
        }
        rest = &rest[len..];
    }
    true
}

/// A word's stem matches the keyword word's stem, or the keyword word as
/// written: Snowball is not always consistent between forms (German
/// "problem" stems to `probl` but "probleme" to `problem`).
fn stem_matches(word_stem: &str, keyword_stem: &str, written: Option<&str>) -> bool {
    word_stem == keyword_stem || written == Some(word_stem)
}

/// A negation among the [`NEGATION_WINDOW`] words before `start`, in the
/// same sentence.
fn negated(haystack: &str, start: usize) -> bool {
    let Some(before) = haystack.get(..start) else {
        return false;
    };
    let mut words = 0;
    let mut end = before.len();
    let mut in_word = false;
    for (i, c) in before.char_indices().rev() {
        if is_word_char(c) {
            if !in_word {
                in_word = true;
                end = i + c.len_utf8();
            }
            continue;
        }
        if in_word {
            if NEGATIONS.contains(&&before[i + c.len_utf8()..end]) {
                return true;
            }
            words += 1;
            in_word = false;
            if words >= NEGATION_WINDOW {
                return false;
            }
        }
        // A sentence or a field (subject / body) ends here.
        if matches!(c, '.' | '!' | '?' | ';' | ':' | '\n' | '\u{1f}') {
            return false;
        }
    }
    in_word && NEGATIONS.contains(&&before[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(words: &[&str]) -> KeywordSet {
        KeywordSet::new(words.iter().enumerate().map(|(i, w)| (i, w.to_string()))).unwrap()
    }

    fn found(set: &KeywordSet, text: &str) -> Vec<String> {
        set.hits(text)
            .iter()
            .map(|h| set.keywords()[h.keyword].text.clone())
            .collect()
    }

    #[test]
    fn word_forms_match() {
        let s = set(&[
            "error", "crash", "charge", "payment", "refund", "invoice", "cancel",
        ]);
        for (text, want) in [
            ("we keep getting errors", "error"),
            ("the app crashes when i open settings", "crash"),
            ("i was charged twice", "charge"),
            ("our payments are failing", "payment"),
            ("how do refunds work?", "refund"),
            ("please send the invoices", "invoice"),
            ("i cancelled my plan", "cancel"),
            ("i canceled my plan", "cancel"),
        ] {
            assert_eq!(found(&s, text), [want], "{text}");
        }
    }

    #[test]
    fn matching_stays_whole_word() {
        let s = set(&["down", "charge", "bug"]);
        assert!(found(&s, "the download failed").is_empty());
        assert!(found(&s, "a discharge form").is_empty());
        assert!(found(&s, "debugging session").is_empty());
        assert_eq!(found(&s, "the site is down"), ["down"]);
    }

    #[test]
    fn phrases_match_word_by_word() {
        let s = set(&["not working", "close account"]);
        assert_eq!(found(&s, "login is not working"), ["not working"]);
        assert_eq!(found(&s, "please close accounts for us"), ["close account"]);
        assert!(found(&s, "not  yet working").is_empty());
        assert!(found(&s, "close the account").is_empty());
    }

    #[test]
    fn negated_mentions_are_not_evidence() {
        let s = set(&["urgent", "outage", "broken", "down"]);
        assert!(found(&s, "this is not urgent").is_empty());
        assert!(found(&s, "there was no outage").is_empty());
        assert!(found(&s, "it is no longer broken").is_empty());
        assert!(found(&s, "the site isn't down").is_empty());
        // Only within a few words, and not across a sentence.
        assert_eq!(found(&s, "not sure why, but it is urgent"), ["urgent"]);
        assert_eq!(found(&s, "no. the site is down"), ["down"]);
        assert_eq!(found(&s, "no idea why the outage"), ["outage"]);
    }

    #[test]
    fn keywords_with_punctuation_match_as_written() {
        let s = set(&["c++", "e-mail"]);
        assert_eq!(found(&s, "our c++ sdk"), ["c++"]);
        assert_eq!(found(&s, "the e-mail bounced"), ["e-mail"]);
        assert!(found(&s, "the e-mails bounced").is_empty());
    }

    #[test]
    fn a_stem_that_is_not_a_prefix_still_matches() {
        // "cry" stems to "cri", which "crying" does not start with.
        let s = set(&["cry"]);
        assert_eq!(found(&s, "users are crying"), ["cry"]);
        assert_eq!(found(&s, "a cry for help"), ["cry"]);
    }

    #[test]
    fn as_written_keywords_match_whole_words_only() {
        let s =
            KeywordSet::as_written([(0, "terminate".to_string()), (1, "bug".to_string())]).unwrap();
        assert!(s.hits("wegen des termins").is_empty());
        assert!(s.hits("wir terminated").is_empty());
        assert_eq!(s.hits("ein bug im export").len(), 1);
    }

    #[test]
    fn german_words_stem_with_the_german_stemmer() {
        let s =
            KeywordSet::with_algorithm([(0, "rechnung".to_string())], Algorithm::German).unwrap();
        assert_eq!(s.hits("zwei rechnungen fehlen").len(), 1);
    }

    #[test]
    fn german_keywords_match_compound_heads_not_modifiers() {
        let de = crate::language::Language::from_code("de").unwrap();
        let s = KeywordSet::for_language(
            [
                (0, "ausfall".to_string()),
                (1, "rechnung".to_string()),
                (2, "problem".to_string()),
            ],
            de,
        )
        .unwrap();
        let found = |t: &str| -> Vec<usize> {
            s.hits(&fold_umlauts(t)).iter().map(|h| h.keyword).collect()
        };
        assert_eq!(found("totaler serverausfall seit heute"), [0]);
        assert_eq!(found("mehrere serverausfälle"), [0]);
        assert_eq!(found("wir haben anmeldeprobleme"), [2]);
        assert!(found("bitte die rechnungsadresse ändern").is_empty());
        // Too short a first part is not a compound.
        assert!(found("abausfall").is_empty());
        // English keeps whole words.
        let en = KeywordSet::new([(0, "charge".to_string())]).unwrap();
        assert!(en.hits("a discharge form").is_empty());
    }
}
