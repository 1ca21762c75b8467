//! The baseline every fine-tune should beat first: multinomial naive Bayes over the subject's
//! words (Laplace smoothing), trained on the same e-mails in a millisecond.

use crate::data::Example;
use crate::email::Label;
use crate::{Result, invalid};
use std::collections::HashMap;

/// Word counts per class and the class priors.
#[derive(Debug, Clone)]
pub struct WordBayes {
    /// `[spam, ham]`: how often each word occurs in the class's subjects.
    counts: [HashMap<String, usize>; 2],
    /// `[spam, ham]`: words in the class's subjects, repeats counted.
    totals: [usize; 2],
    /// `[spam, ham]`: subjects of the class.
    docs: [usize; 2],
    /// Distinct words seen in training.
    vocabulary: usize,
}

/// The subject's words: runs of letters and digits, lower-cased.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn class(label: Label) -> usize {
    usize::from(label == Label::Ham)
}

impl WordBayes {
    /// Counts the words of `train`'s subjects; both classes must be present.
    pub fn fit(train: &[Example]) -> Result<Self> {
        let mut counts = [HashMap::new(), HashMap::new()];
        let mut totals = [0, 0];
        let mut docs = [0, 0];
        for x in train {
            let c = class(x.label);
            docs[c] += 1;
            for w in words(&x.subject) {
                *counts[c].entry(w).or_insert(0) += 1;
                totals[c] += 1;
            }
        }
        if docs.contains(&0) {
            return Err(invalid(
                "train",
                format!(
                    "expected both classes, got {} spam and {} ham",
                    docs[0], docs[1]
                ),
            ));
        }
        let mut all: Vec<&String> = counts[0].keys().chain(counts[1].keys()).collect();
        all.sort();
        all.dedup();
        let vocabulary = all.len();
        Ok(Self {
            counts,
            totals,
            docs,
            vocabulary,
        })
    }

    /// `[spam, ham]` log scores of a subject: log prior + Σ log((count + 1)/(total + V)) over
    /// its words seen in training (unseen words are skipped, as a fitted vocabulary does).
    pub fn scores(&self, subject: &str) -> [f64; 2] {
        let n = (self.docs[0] + self.docs[1]) as f64;
        let mut s = [0.0; 2];
        for (c, score) in s.iter_mut().enumerate() {
            *score = (self.docs[c] as f64 / n).ln();
        }
        for w in words(subject) {
            if !self.counts.iter().any(|m| m.contains_key(&w)) {
                continue;
            }
            for (c, score) in s.iter_mut().enumerate() {
                let k = self.counts[c].get(&w).copied().unwrap_or(0) as f64;
                *score += ((k + 1.0) / (self.totals[c] + self.vocabulary) as f64).ln();
            }
        }
        s
    }

    /// The likelier class (spam on a tie).
    pub fn predict(&self, subject: &str) -> Label {
        let [spam, ham] = self.scores(subject);
        if spam >= ham { Label::Spam } else { Label::Ham }
    }

    /// The share of `examples` predicted right.
    pub fn accuracy(&self, examples: &[Example]) -> f64 {
        let right = examples
            .iter()
            .filter(|x| self.predict(&x.subject) == x.label)
            .count();
        right as f64 / examples.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(subject: &str, label: Label) -> Example {
        Example {
            subject: subject.into(),
            label,
            tokens: Vec::new(),
        }
    }

    #[test]
    fn scores_are_the_smoothed_counts_worked_by_hand() {
        // Spam: "free money", "free offer"; ham: "meeting today". V = 5 words.
        let nb = WordBayes::fit(&[
            ex("FREE money!", Label::Spam),
            ex("free offer", Label::Spam),
            ex("Meeting today", Label::Ham),
        ])
        .unwrap();
        // "free": spam (2 + 1)/(4 + 5), ham (0 + 1)/(2 + 5); "unseen" skipped.
        let [spam, ham] = nb.scores("free unseen");
        assert!((spam - ((2.0f64 / 3.0).ln() + (3.0f64 / 9.0).ln())).abs() < 1e-12);
        assert!((ham - ((1.0f64 / 3.0).ln() + (1.0f64 / 7.0).ln())).abs() < 1e-12);
        assert_eq!(nb.predict("free"), Label::Spam);
        assert_eq!(nb.predict("meeting"), Label::Ham);
        assert!(WordBayes::fit(&[ex("a", Label::Spam)]).is_err());
    }
}
