//! Hallucination detection. Groundedness: split an answer into claims (its sentences) and ask of
//! each whether the retrieved context supports it — by its words (every content word and every
//! figure found in the context) or by its meaning (its embedding near a context sentence's).
//! Self-consistency: sample the model several times; answers it makes up disagree with each
//! other more than answers it reads off a context. Both are scored on labelled sets: planted
//! hallucinations here, the local model's own answers in [`crate::eval`].

use crate::quality::{normalize_answer, token_f1};
use std::collections::HashSet;
use wb_core::{MlError, Result};
use week20_rag_retrieval::week19::corpus::sentences;

/// Words too common to tell whether a claim is in a context.
const STOPWORDS: &[&str] = &[
    "i", "me", "my", "we", "our", "us", "you", "your", "he", "him", "his", "she", "her", "it",
    "its", "they", "them", "their", "what", "which", "who", "whom", "this", "that", "these",
    "those", "am", "is", "are", "was", "were", "be", "been", "being", "have", "has", "had", "do",
    "does", "did", "and", "but", "if", "or", "because", "as", "until", "while", "of", "at", "by",
    "for", "with", "about", "into", "through", "during", "before", "after", "to", "from", "in",
    "out", "on", "off", "over", "under", "again", "then", "once", "here", "there", "when", "where",
    "why", "how", "all", "any", "both", "each", "more", "most", "other", "some", "such", "only",
    "own", "same", "so", "than", "too", "very", "can", "will", "just", "should", "now", "also",
    "would", "could", "must", "shall", "may", "upon",
];

/// Whether `word` is a common word (an article or a stop word), not a name, whatever its case.
pub fn is_common(word: &str) -> bool {
    let w = word.to_lowercase();
    matches!(w.as_str(), "a" | "an" | "the") || STOPWORDS.contains(&w.as_str())
}

/// The words of `text` that carry its content: normalised as SQuAD normalises answers
/// (lower case, no punctuation, no articles), stop words left out.
pub fn content_words(text: &str) -> Vec<String> {
    normalize_answer(text)
        .split_whitespace()
        .filter(|w| !STOPWORDS.contains(w))
        .map(str::to_string)
        .collect()
}

/// How well the context supports one claim.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Support {
    /// In [0, 1]: the share of the claim's content words found in the context, or 0 when a
    /// figure of the claim is not in it.
    pub score: f64,
    /// The claim's content words the context lacks.
    pub missing: Vec<String>,
}

// ANCHOR: claim_support
/// The support of `claim` by a context whose content words are `context`: the share of the
/// claim's content words found there; 0 if a figure (a word with a digit) or a name (see
/// [`names`]) is missing, since a wrong figure or a wrong name is a hallucination however many
/// words agree; 1 for a claim without content words (nothing to contradict).
pub fn claim_support(claim: &str, context: &HashSet<String>) -> Support {
    let names = names(claim);
    // BEGIN SOLUTION claim_support
    let words = content_words(claim);
    if words.is_empty() {
        return Support {
            score: 1.0,
            missing: Vec::new(),
        };
    }
    let missing: Vec<String> = words
        .iter()
        .filter(|w| !context.contains(*w))
        .cloned()
        .collect();
    let score = if missing
        .iter()
        .any(|w| w.chars().any(|c| c.is_ascii_digit()) || names.contains(w))
    {
        0.0
    } else {
        1.0 - missing.len() as f64 / words.len() as f64
    };
    Support { score, missing }
    // END SOLUTION
}
// ANCHOR_END: claim_support

/// The names of a claim: its capitalised words after the first (which any sentence capitalises),
/// "I" aside, normalised as [`content_words`] normalises.
pub fn names(claim: &str) -> HashSet<String> {
    claim
        .split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase) && *w != "I")
        .map(normalize_answer)
        .filter(|w| !w.is_empty())
        .collect()
}

/// The claims of an answer: its sentences (at least the whole answer when it has no sentence end).
pub fn claims(answer: &str) -> Vec<&str> {
    let spans: Vec<&str> = sentences(answer)
        .into_iter()
        .map(|(s, e)| answer[s..e].trim())
        .filter(|c| !c.is_empty())
        .collect();
    if spans.is_empty() && !answer.trim().is_empty() {
        vec![answer.trim()]
    } else {
        spans
    }
}

/// The groundedness of `answer` in `context` by words: its least supported claim's score (an
/// answer is as grounded as its weakest claim). Errors on an empty answer or context.
pub fn lexical_groundedness(answer: &str, context: &str) -> Result<f64> {
    for (arg, t) in [("answer", answer), ("context", context)] {
        if t.trim().is_empty() {
            return Err(MlError::Empty {
                arg: arg.into(),
                detail: "needs some text to judge groundedness".into(),
            });
        }
    }
    let words: HashSet<String> = content_words(context).into_iter().collect();
    Ok(claims(answer)
        .iter()
        .map(|c| claim_support(c, &words).score)
        .fold(1.0, f64::min))
}

/// The groundedness of an answer by meaning: for each claim the best cosine similarity to a
/// context sentence (embeddings unit-normed, as MiniLM's are), and the least of those.
pub fn semantic_groundedness(claims: &[Vec<f32>], context: &[Vec<f32>]) -> Result<f64> {
    if claims.is_empty() || context.is_empty() {
        return Err(MlError::Empty {
            arg: if claims.is_empty() {
                "claims"
            } else {
                "context"
            }
            .into(),
            detail: "needs at least one embedding".into(),
        });
    }
    let dot = |a: &[f32], b: &[f32]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    };
    Ok(claims
        .iter()
        .map(|c| {
            context
                .iter()
                .map(|s| dot(c, s))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .fold(f64::INFINITY, f64::min))
}

// ANCHOR: consistency
/// Self-consistency of several sampled answers to one question: the mean token F1 over every
/// pair of them (1 when they all say the same words). Needs at least two answers.
pub fn self_consistency(answers: &[String]) -> Result<f64> {
    if answers.len() < 2 {
        return Err(MlError::InvalidArgument {
            arg: "answers".into(),
            detail: format!("needs at least 2 samples to compare, got {}", answers.len()),
        });
    }
    // BEGIN SOLUTION self_consistency
    let mut sum = 0.0;
    let mut pairs = 0usize;
    for i in 0..answers.len() {
        for j in i + 1..answers.len() {
            sum += token_f1(&answers[i], &answers[j]);
            pairs += 1;
        }
    }
    Ok(sum / pairs as f64)
    // END SOLUTION
}
// ANCHOR_END: consistency

/// A detector's results at one threshold: an item is flagged when its score is below it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Detection {
    pub threshold: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub flagged: usize,
}

/// Precision and recall of flagging `scores < threshold` as hallucinations, `labels[i]` true for
/// a hallucination. Precision is 1 when nothing is flagged (no false alarm was raised).
pub fn detect(scores: &[f64], labels: &[bool], threshold: f64) -> Result<Detection> {
    if scores.len() != labels.len() || scores.is_empty() {
        return Err(MlError::ShapeMismatch {
            arg: "labels".into(),
            expected: format!("{} labels, one per score (at least one)", scores.len()),
            got: format!("{}", labels.len()),
        });
    }
    if let Some((index, &value)) = scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        return Err(MlError::NonFinite {
            arg: "scores".into(),
            index: index.to_string(),
            value,
        });
    }
    let flagged: Vec<bool> = scores.iter().map(|&s| s < threshold).collect();
    let tp = flagged
        .iter()
        .zip(labels)
        .filter(|(f, l)| **f && **l)
        .count();
    let n_flagged = flagged.iter().filter(|f| **f).count();
    let positives = labels.iter().filter(|l| **l).count();
    let precision = if n_flagged == 0 {
        1.0
    } else {
        tp as f64 / n_flagged as f64
    };
    let recall = if positives == 0 {
        1.0
    } else {
        tp as f64 / positives as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Ok(Detection {
        threshold,
        precision,
        recall,
        f1,
        flagged: n_flagged,
    })
}

/// The area under the ROC curve of a score where low means suspect: the chance that a random
/// positive (a hallucination) scores below a random negative, ties counted half.
pub fn auc_low(positives: &[f64], negatives: &[f64]) -> Result<f64> {
    if positives.is_empty() || negatives.is_empty() {
        return Err(MlError::Empty {
            arg: if positives.is_empty() {
                "positives"
            } else {
                "negatives"
            }
            .into(),
            detail: "needs at least one score on each side".into(),
        });
    }
    let mut wins = 0.0;
    for p in positives {
        for n in negatives {
            wins += if p < n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Ok(wins / (positives.len() * negatives.len()) as f64)
}

/// The threshold with the best F1 among the midpoints between distinct scores (chosen on one
/// half of a labelled set, reported on the other).
pub fn best_threshold(scores: &[f64], labels: &[bool]) -> Result<Detection> {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let mut cuts: Vec<f64> = sorted.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    cuts.push(sorted.last().copied().unwrap_or(0.0) + 1e-9);
    let mut best = detect(scores, labels, sorted.first().copied().unwrap_or(0.0))?;
    for t in cuts {
        let d = detect(scores, labels, t)?;
        if d.f1 > best.f1 {
            best = d;
        }
    }
    Ok(best)
}

/// How an answer was planted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The context's sentence answering the question, as it is.
    Grounded,
    /// Another sentence of the context (grounded, but not the answer).
    Neighbour,
    /// A figure of the answer changed.
    Number,
    /// A name in the answer replaced by one from another address.
    Entity,
    /// The answer's statement negated (or its negation removed).
    Negation,
    /// A sentence from another address altogether.
    OffContext,
}

impl Kind {
    pub fn is_hallucination(self) -> bool {
        !matches!(self, Kind::Grounded | Kind::Neighbour)
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::Grounded => "grounded",
            Kind::Neighbour => "neighbour",
            Kind::Number => "number",
            Kind::Entity => "entity",
            Kind::Negation => "negation",
            Kind::OffContext => "off_context",
        }
    }
}

/// One labelled answer in its context.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Planted {
    pub question: String,
    pub context: String,
    pub answer: String,
    pub kind: Kind,
}

/// The first figure in `s` changed (a digit run n becomes n + 7, so "65 cents" becomes "72
/// cents"); None without a figure.
pub fn change_number(s: &str) -> Option<String> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let len = s[start..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(s.len() - start);
    let n: u64 = s[start..start + len].parse().ok()?;
    Some(format!("{}{}{}", &s[..start], n + 7, &s[start + len..]))
}

/// The first capitalised word after the start of `s` replaced by `name`; None without one (or
/// when it already is `name`).
pub fn swap_entity(s: &str, name: &str) -> Option<String> {
    let mut offset = 0;
    for (i, word) in s.split(' ').enumerate() {
        let w = word.trim_matches(|c: char| !c.is_alphanumeric());
        if i > 0
            && w.len() > 2
            && w.chars().next().is_some_and(char::is_uppercase)
            && w != "I"
            && w != name
        {
            let at = offset + word.find(w).unwrap_or(0);
            return Some(format!("{}{}{}", &s[..at], name, &s[at + w.len()..]));
        }
        offset += word.len() + 1;
    }
    None
}

/// `s` negated: " not" added after its first auxiliary verb, or its first "not" taken out.
pub fn negate(s: &str) -> Option<String> {
    if let Some(i) = s.find(" not ") {
        return Some(format!("{}{}", &s[..i], &s[i + 4..]));
    }
    for aux in [
        " is ", " are ", " was ", " were ", " will ", " can ", " must ", " should ", " have ",
        " has ",
    ] {
        if let Some(i) = s.find(aux) {
            let end = i + aux.len() - 1;
            return Some(format!("{} not{}", &s[..end], &s[end..]));
        }
    }
    None
}

/// The first capitalised word after the start of `s` (a name, usually).
pub fn first_name(s: &str) -> Option<&str> {
    s.split(' ')
        .skip(1)
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .find(|w| w.len() > 2 && w.chars().next().is_some_and(char::is_uppercase))
}
