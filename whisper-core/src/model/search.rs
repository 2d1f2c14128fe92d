//! What a reader searches for (protocol.md §16): words that must all appear,
//! `"quoted phrases"` whose words must appear in that order, and `-word` or
//! `-"a phrase"` that must not. Parsed once, here, so every store searches
//! for the same thing and every answer is marked the same way.
//!
//! A *word* is a run of letters and digits (Unicode's alphabetic and numeric
//! characters); everything else separates words. Words compare without case
//! (`Deploy` finds `deploy`), and whole: `deploy` does not find `deployed`.
//! That is what SQLite's `unicode61` tokenizer and PostgreSQL's `simple`
//! configuration index, so the stores and the in-memory scan agree.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest search, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// The most terms (words and phrases, excluded or not) in one search.
pub const MAX_QUERY_TERMS: usize = 16;

/// A parsed search: at least one term to find, and at most
/// [`MAX_QUERY_TERMS`] in all, each distinct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<SearchTerm>,
}

/// One word or phrase of a [`SearchQuery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchTerm {
    /// Its words, lower-cased, in order: more than one makes a phrase.
    pub words: Vec<Box<str>>,
    /// Whether a message must *not* hold it (`-word`).
    pub excluded: bool,
}

/// Why a search could not be parsed: each says what to fix, in words a
/// reader understands (it is the 400's message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SearchQueryError {
    /// Nothing to look for: empty, or no letters or digits.
    #[error("type a word to search for")]
    Empty,
    /// Longer than [`MAX_QUERY_CHARS`].
    #[error("a search is at most 256 characters")]
    TooLong,
    /// More than [`MAX_QUERY_TERMS`] words and phrases.
    #[error("a search has at most 16 words and phrases")]
    TooManyTerms,
    /// A `"` that opens a phrase and none that closes it.
    #[error("a quoted phrase is not closed: add the closing \"")]
    UnclosedQuote,
    /// Only `-word`s: a search needs something to find.
    #[error("a search needs a word to find, not only words to leave out")]
    OnlyExclusions,
}

/// Where a search's words are in a message's text: `[start, end)` in UTF-16
/// code units, so a browser can `slice` the text at them directly. Never
/// markup: the client marks the text itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct TextMark {
    /// The first code unit marked.
    pub start: u32,
    /// One past the last code unit marked.
    pub end: u32,
}

/// The words of `text`, each with its byte offset: the one tokenizer every
/// matching and marking uses.
pub fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = rest.by_ref().find(|(_, c)| c.is_alphanumeric())?;
        let mut end = text.len();
        while let Some(&(i, c)) = rest.peek() {
            if !c.is_alphanumeric() {
                end = i;
                break;
            }
            rest.next();
        }
        Some((start, &text[start..end]))
    })
}

/// `text`'s words, lower-cased, one space between each: what a store hands
/// an index that tokenizes on its own (PostgreSQL's), so that it indexes
/// exactly the words [`SearchQuery::matches`] sees, whatever its parser
/// and locale make of punctuation, URLs or case.
pub fn index_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (_, word) in words(text) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

/// A word as the index keeps it: without case.
fn fold(word: &str) -> Box<str> {
    word.to_lowercase().into_boxed_str()
}

impl SearchQuery {
    /// Parses what a reader typed.
    ///
    /// # Errors
    ///
    /// A [`SearchQueryError`] saying what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, SearchQueryError> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchQueryError::TooLong);
        }
        let mut terms: Vec<SearchTerm> = Vec::new();
        let mut rest = text.trim_start();
        while !rest.is_empty() {
            let (excluded, body) = match rest.strip_prefix('-') {
                Some(body) if body.starts_with(|c: char| c == '"' || c.is_alphanumeric()) => (true, body),
                _ => (false, rest),
            };
            let (chunk, after) = if let Some(quoted) = body.strip_prefix('"') {
                let end = quoted.find('"').ok_or(SearchQueryError::UnclosedQuote)?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = body.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(body.len());
                (&body[..end], &body[end..])
            };
            // `foo.bar` outside quotes is a phrase too: its words, adjacent.
            let words: Vec<Box<str>> = self::words(chunk).map(|(_, w)| fold(w)).collect();
            let term = SearchTerm { words, excluded };
            if !term.words.is_empty() && !terms.contains(&term) {
                terms.push(term);
            }
            rest = after.trim_start();
        }
        if terms.is_empty() {
            return Err(SearchQueryError::Empty);
        }
        if terms.len() > MAX_QUERY_TERMS {
            return Err(SearchQueryError::TooManyTerms);
        }
        if terms.iter().all(|t| t.excluded) {
            return Err(SearchQueryError::OnlyExclusions);
        }
        Ok(SearchQuery { terms })
    }

    /// Its terms, in the order typed.
    pub fn terms(&self) -> &[SearchTerm] {
        &self.terms
    }

    /// Whether `text` holds every term to find and none to leave out: the
    /// in-memory stores' search, and the reference the indexes agree with.
    pub fn matches(&self, text: &str) -> bool {
        let folded: Vec<Box<str>> = words(text).map(|(_, w)| fold(w)).collect();
        self.terms.iter().all(|term| term.excluded != term.occurs_in(&folded).next().is_some())
    }

    /// Where the terms to find occur in `text`, in order, overlaps merged.
    pub fn marks(&self, text: &str) -> Vec<TextMark> {
        let found: Vec<(usize, &str)> = words(text).collect();
        let folded: Vec<Box<str>> = found.iter().map(|(_, w)| fold(w)).collect();
        let mut spans: Vec<(usize, usize)> = self
            .terms
            .iter()
            .filter(|t| !t.excluded)
            .flat_map(|term| {
                term.occurs_in(&folded).map(|first| {
                    let (start, _) = found[first];
                    let (last_start, last) = found[first + term.words.len() - 1];
                    (start, last_start + last.len())
                })
            })
            .collect();
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
            .into_iter()
            .map(|(start, end)| TextMark { start: utf16_at(text, start), end: utf16_at(text, end) })
            .collect()
    }
}

impl SearchTerm {
    /// The indexes into `words` at which this term's words begin.
    fn occurs_in<'a>(&'a self, words: &'a [Box<str>]) -> impl Iterator<Item = usize> + 'a {
        words.windows(self.words.len()).enumerate().filter(|(_, w)| *w == &self.words[..]).map(|(i, _)| i)
    }
}

/// The UTF-16 offset of byte offset `at` (a char boundary) of `text`.
fn utf16_at(text: &str, at: usize) -> u32 {
    u32::try_from(text[..at].encode_utf16().count()).unwrap_or(u32::MAX)
}

/// The canonical form: `word "two words" -left -"out phrase"`, lower-cased.
/// PostgreSQL's `websearch_to_tsquery` reads it as meant, since a term
/// holds letters and digits only.
impl fmt::Display for SearchQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if term.excluded {
                f.write_str("-")?;
            }
            if term.words.len() > 1 {
                write!(f, "\"{}\"", term.words.join(" "))?;
            } else {
                f.write_str(&term.words[0])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> SearchQuery {
        SearchQuery::parse(text).expect("valid search")
    }

    #[test]
    fn words_are_runs_of_letters_and_digits() {
        let found: Vec<(usize, &str)> = words("Hi, Zoë! v2.0 — 東京 ok_go").collect();
        assert_eq!(found, vec![(0, "Hi"), (4, "Zoë"), (10, "v2"), (13, "0"), (19, "東京"), (26, "ok"), (29, "go")]);
        assert_eq!(words("").count(), 0);
        assert_eq!(words("!!! ...").count(), 0);
        assert_eq!(index_text("Hi, ZOË! see https://x.io/a_b"), "hi zoë see https x io a b");
    }

    #[test]
    fn parses_words_phrases_and_exclusions() {
        let query = q(r#"  Deploy "Friday NIGHT" -staging -"dry run" "#);
        assert_eq!(query.to_string(), r#"deploy "friday night" -staging -"dry run""#);
        assert_eq!(q("foo.bar baz").to_string(), r#""foo bar" baz"#);
        assert_eq!(q("a-b").to_string(), r#""a b""#, "a hyphen inside a word is not an exclusion");
        assert_eq!(q("x - y").to_string(), "x y", "a lone hyphen is not a term");
        assert_eq!(q("same SAME same").terms().len(), 1, "repeated terms count once");
    }

    #[test]
    fn refuses_what_cannot_be_searched() {
        assert_eq!(SearchQuery::parse(""), Err(SearchQueryError::Empty));
        assert_eq!(SearchQuery::parse("  ?! ... "), Err(SearchQueryError::Empty));
        assert_eq!(SearchQuery::parse(r#"say "hello"#), Err(SearchQueryError::UnclosedQuote));
        assert_eq!(SearchQuery::parse("-spam -ads"), Err(SearchQueryError::OnlyExclusions));
        assert_eq!(SearchQuery::parse(&"a".repeat(MAX_QUERY_CHARS + 1)), Err(SearchQueryError::TooLong));
        assert!(SearchQuery::parse(&"a".repeat(MAX_QUERY_CHARS)).is_ok());
        let many: Vec<String> = (0..=MAX_QUERY_TERMS).map(|i| format!("w{i}")).collect();
        assert_eq!(SearchQuery::parse(&many.join(" ")), Err(SearchQueryError::TooManyTerms));
    }

    #[test]
    fn matches_whole_words_without_case() {
        assert!(q("deploy").matches("Time to DEPLOY."));
        assert!(!q("deploy").matches("deployed it"), "whole words only");
        assert!(q("friday deploy").matches("deploy on friday"), "words in any order");
        assert!(!q(r#""friday deploy""#).matches("deploy on friday"), "a phrase in order");
        assert!(q(r#""on friday""#).matches("deploy on Friday!"));
        assert!(!q("deploy -friday").matches("deploy on friday"));
        assert!(q("deploy -friday").matches("deploy on monday"));
        assert!(!q("deploy").matches(""));
    }

    #[test]
    fn marks_are_utf16_offsets_of_the_found_words() {
        let text = "Zoë said: deploy 🚀 deploy now";
        let marks = q("DEPLOY now -later").marks(text);
        let utf16: Vec<u16> = text.encode_utf16().collect();
        let shown: Vec<String> =
            marks.iter().map(|m| String::from_utf16_lossy(&utf16[m.start as usize..m.end as usize])).collect();
        assert_eq!(shown, vec!["deploy", "deploy", "now"]);
        assert_eq!(marks[1], TextMark { start: 20, end: 26 }, "the rocket is two UTF-16 units");
        let phrase = q(r#""deploy now" now"#).marks(text);
        assert_eq!(phrase, vec![TextMark { start: 20, end: 30 }], "overlapping marks merge");
        assert_eq!(q("absent").marks(text), Vec::new());
    }
}
