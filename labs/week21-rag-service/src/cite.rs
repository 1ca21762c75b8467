//! Checking an answer against the passages it was given. The prompt numbers the passages
//! [1]…[k] and asks for citations in that form; here each citation is parsed, checked to point
//! at a passage that was given, and each sentence of the answer is measured against what it
//! cites: the share of its content words found there. An answer's **groundedness** is the share
//! of its content words found in any passage given: words the model brought from elsewhere
//! (its training, or its imagination) lower it.
//!
//! A small model often cites nothing. A sentence without a valid citation is then **attributed**
//! to the passage that supports it best, when one supports at least half of its words (a
//! post-hoc citation, marked as the service's, not the model's); a sentence that nothing
//! supports is counted as unsupported.

use crate::week19::corpus::sentences;
use crate::week20::bm25::tokenize;
use std::collections::HashSet;

/// Words too common to show that a sentence comes from a passage.
const STOP_WORDS: [&str; 64] = [
    "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with",
    "from", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that",
    "these", "those", "he", "she", "they", "we", "you", "i", "his", "her", "their", "our", "your",
    "my", "me", "us", "them", "him", "what", "which", "who", "whom", "how", "why", "when", "where",
    "not", "no", "do", "does", "did", "has", "have", "had", "will", "would",
];

/// The words of `text` that carry meaning: [`tokenize`]'s words without the stop words.
pub fn content_words(text: &str) -> Vec<String> {
    tokenize(text)
        .into_iter()
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// One citation in an answer: the passage number and where the marker sits (byte offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Citation {
    pub number: usize,
    pub at: usize,
}

// ANCHOR: citations
/// The citations of `answer`: every `[n]` and every number of a list such as `[1, 3]` or
/// `[2,4]` (n a decimal number), in order. Brackets holding anything else (`[a]`, `[]`, `[1-2]`)
/// are not citations.
pub fn citations(answer: &str) -> Vec<Citation> {
    // BEGIN SOLUTION citations
    let mut out = Vec::new();
    let mut rest = answer;
    let mut offset = 0;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        let inside = &rest[open + 1..open + close];
        let numbers: Option<Vec<usize>> = inside
            .split(',')
            .map(|n| {
                let n = n.trim();
                if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                    n.parse().ok()
                } else {
                    None
                }
            })
            .collect();
        if let Some(numbers) = numbers {
            out.extend(numbers.into_iter().map(|number| Citation {
                number,
                at: offset + open,
            }));
        }
        offset += open + 1;
        rest = &rest[open + 1..];
    }
    out
    // END SOLUTION
}
// ANCHOR_END: citations

// ANCHOR: support
/// The share of `claim`'s distinct content words that `passage` holds (1 when the claim has
/// none: nothing in it needs support).
pub fn support(claim: &str, passage: &str) -> f64 {
    // BEGIN SOLUTION support
    let claim: HashSet<String> = content_words(claim).into_iter().collect();
    if claim.is_empty() {
        return 1.0;
    }
    let passage: HashSet<String> = content_words(passage).into_iter().collect();
    claim.iter().filter(|w| passage.contains(*w)).count() as f64 / claim.len() as f64
    // END SOLUTION
}
// ANCHOR_END: support

/// One sentence of an answer, measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SentenceCheck {
    pub text: String,
    /// The passage numbers it cites (valid ones only).
    pub cites: Vec<usize>,
    /// The best [`support`] among the passages it cites (0 when it cites none).
    pub cited_support: f64,
    /// The passage (number) that supports it best, and by how much.
    pub best: usize,
    pub best_support: f64,
    /// When it cites nothing valid but one passage supports it (≥ [`SUPPORTED`]): that passage,
    /// attributed by the service rather than cited by the model.
    pub attributed: Option<usize>,
}

/// An answer checked against its `k` passages.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CitationCheck {
    /// Distinct valid passage numbers cited, in order of first citation.
    pub cited: Vec<usize>,
    /// Citations of passages that were not given (0, or past k): the model made them up.
    pub invalid: Vec<usize>,
    pub sentences: Vec<SentenceCheck>,
    /// The answer's sources: the passages cited, then those attributed, each once.
    pub sources: Vec<usize>,
    /// Sentences neither supported by what they cite nor attributable to any passage.
    pub unsupported: usize,
    /// The share of the answer's content words found in some passage.
    pub groundedness: f64,
}

/// Sentences whose best cited support is at least this are supported by their citations.
pub const SUPPORTED: f64 = 0.5;

impl CitationCheck {
    /// Whether every citation points at a given passage and every sentence that cites is
    /// supported by what it cites.
    pub fn citations_hold(&self) -> bool {
        self.invalid.is_empty()
            && self
                .sentences
                .iter()
                .all(|s| s.cites.is_empty() || s.cited_support >= SUPPORTED)
    }
}

/// Checks `answer` against `passages` (passage n is `passages[n - 1]`).
pub fn check(answer: &str, passages: &[&str]) -> CitationCheck {
    let all = citations(answer);
    let valid = |n: usize| n >= 1 && n <= passages.len();
    let mut cited = Vec::new();
    let mut invalid = Vec::new();
    for c in &all {
        let list = if valid(c.number) {
            &mut cited
        } else {
            &mut invalid
        };
        if !list.contains(&c.number) {
            list.push(c.number);
        }
    }
    let mut checks = Vec::new();
    let spans = sentences(answer);
    for (i, &(s, e)) in spans.iter().enumerate() {
        // A sentence owns the citations inside it and those right after it, before the next one.
        let until = spans.get(i + 1).map_or(answer.len(), |n| n.0);
        let cites: Vec<usize> = all
            .iter()
            .filter(|c| c.at >= s && c.at < until && valid(c.number))
            .map(|c| c.number)
            .collect();
        let text = strip_citations(&answer[s..e]);
        if content_words(&text).is_empty() {
            continue;
        }
        let supports: Vec<f64> = passages.iter().map(|p| support(&text, p)).collect();
        let (best, best_support) =
            supports
                .iter()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
                );
        let cited_support = cites.iter().map(|&n| supports[n - 1]).fold(0.0, f64::max);
        let attributed = (cites.is_empty() && best_support >= SUPPORTED).then_some(best + 1);
        checks.push(SentenceCheck {
            text,
            cites,
            cited_support,
            best: best + 1,
            best_support: best_support.max(0.0),
            attributed,
        });
    }
    let mut sources = cited.clone();
    for n in checks.iter().filter_map(|s| s.attributed) {
        if !sources.contains(&n) {
            sources.push(n);
        }
    }
    let unsupported = checks
        .iter()
        .filter(|s| s.attributed.is_none() && s.cited_support < SUPPORTED)
        .count();
    let words = content_words(&strip_citations(answer));
    let given: HashSet<String> = passages.iter().flat_map(|p| content_words(p)).collect();
    let groundedness = if words.is_empty() {
        0.0
    } else {
        words.iter().filter(|w| given.contains(*w)).count() as f64 / words.len() as f64
    };
    CitationCheck {
        cited,
        invalid,
        sentences: checks,
        sources,
        unsupported,
        groundedness,
    }
}

/// `text` without its citation markers.
pub fn strip_citations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for c in citations(text) {
        let close = c.at + text[c.at..].find(']').map_or(0, |i| i + 1);
        if c.at >= last {
            out.push_str(&text[last..c.at]);
            last = close;
        }
    }
    out.push_str(&text[last..]);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
