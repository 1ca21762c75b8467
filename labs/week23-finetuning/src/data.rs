//! The task: is an e-mail spam or ham, judged by its subject line alone? Each e-mail becomes a
//! plain-text prompt whose next token is the answer:
//!
//! ```text
//! Subject: Re: [SAdev] bug 1012 fixed
//! This e-mail is ␣ham
//! ```
//!
//! The answer is one token (`" spam"` or `" ham"`), so training is next-token prediction at one
//! position, and the model's verdict is whichever of the two tokens it finds likelier.

use crate::email::{self, Email, Label};
use crate::{Result, invalid};
use std::collections::HashSet;
use wb_llm::ChatTokenizer;

/// What follows the subject line; the answer token comes next.
pub const QUESTION: &str = "\nThis e-mail is";

/// Subjects longer than this many tokens are cut to it (a handful of spam subjects run on).
pub const MAX_SUBJECT_TOKENS: usize = 16;

/// One example: the prompt's tokens and the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub subject: String,
    pub label: Label,
    /// `Subject: …` + [`QUESTION`], tokenized.
    pub tokens: Vec<u32>,
}

/// The tokenizer and the two answer tokens.
#[derive(Clone)]
pub struct Prompter {
    pub tokenizer: ChatTokenizer,
    /// The ids of `" spam"` and `" ham"`.
    pub spam: u32,
    pub ham: u32,
}

impl Prompter {
    /// Checks that `" spam"` and `" ham"` are one token each.
    pub fn new(tokenizer: ChatTokenizer) -> Result<Self> {
        let one = |word: &str| -> Result<u32> {
            match tokenizer.encode(word)?.as_slice() {
                [id] => Ok(*id),
                ids => Err(invalid(
                    "tokenizer",
                    format!("expected {word:?} to be one token, got {ids:?}"),
                )),
            }
        };
        Ok(Self {
            spam: one(" spam")?,
            ham: one(" ham")?,
            tokenizer,
        })
    }

    /// The answer token of `label`.
    pub fn answer(&self, label: Label) -> u32 {
        match label {
            Label::Spam => self.spam,
            Label::Ham => self.ham,
        }
    }

    /// The prompt of a subject: `Subject: {subject}` (cut to [`MAX_SUBJECT_TOKENS`]) and
    /// [`QUESTION`].
    pub fn prompt(&self, subject: &str) -> Result<Vec<u32>> {
        let mut tokens = self.tokenizer.encode("Subject:")?;
        let mut words = self.tokenizer.encode(&format!(" {subject}"))?;
        words.truncate(MAX_SUBJECT_TOKENS);
        tokens.extend(words);
        tokens.extend(self.tokenizer.encode(QUESTION)?);
        Ok(tokens)
    }

    /// An example from an e-mail; `None` when its subject is empty or holds a character the
    /// model's vocabulary cannot spell.
    pub fn example(&self, e: &Email) -> Option<Example> {
        let subject = e.subject.split_whitespace().collect::<Vec<_>>().join(" ");
        if subject.is_empty() {
            return None;
        }
        let tokens = self.prompt(&subject).ok()?;
        Some(Example {
            subject,
            label: e.label,
            tokens,
        })
    }

    /// The few-shot prefix: each shot as `Subject: …` + [`QUESTION`] + its answer, then a
    /// blank line.
    pub fn shots(&self, shots: &[Example]) -> Result<Vec<u32>> {
        let mut tokens = Vec::new();
        for s in shots {
            tokens.extend(&s.tokens);
            tokens.push(self.answer(s.label));
            tokens.extend(self.tokenizer.encode("\n\n")?);
        }
        Ok(tokens)
    }
}

/// The splits: `train` and `test` hold `per_class` spam and ham each, `shots` the few-shot
/// examples (alternating spam, ham), drawn from the e-mails left after the two.
#[derive(Debug, Clone)]
pub struct Splits {
    pub train: Vec<Example>,
    pub test: Vec<Example>,
    pub shots: Vec<Example>,
    /// E-mails dropped because their subject was empty, unspellable or seen before.
    pub dropped: usize,
}

/// Draws the splits from the corpus by a seeded shuffle, one subject once: an e-mail whose
/// subject (lower-cased, `Re:`/`Fwd:` and spaces aside) came earlier is dropped, so that no
/// test subject was seen in training.
pub fn splits(
    prompter: &Prompter,
    emails: &[Email],
    train_per_class: usize,
    test_per_class: usize,
    shots: usize,
    seed: u64,
) -> Result<Splits> {
    if train_per_class == 0 || test_per_class == 0 {
        return Err(invalid(
            "train_per_class, test_per_class",
            format!(
                "expected at least 1 training and 1 test e-mail per class, got {train_per_class} and {test_per_class}"
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut dropped = 0;
    let mut by_label: [Vec<Example>; 2] = [Vec::new(), Vec::new()];
    for i in wb_data::shuffled_indices(emails.len(), seed) {
        match prompter.example(&emails[i]) {
            Some(x) if seen.insert(subject_key(&x.subject)) => {
                by_label[usize::from(x.label == Label::Ham)].push(x)
            }
            _ => dropped += 1,
        }
    }
    let shots_per_class = shots.div_ceil(2);
    let need = train_per_class + test_per_class + shots_per_class;
    for (pool, name) in by_label.iter().zip(["spam", "ham"]) {
        if pool.len() < need {
            return Err(invalid(
                "train_per_class, test_per_class, shots",
                format!(
                    "{need} distinct {name} subjects asked for, the corpus has {}",
                    pool.len()
                ),
            ));
        }
    }
    let [spam, ham] = by_label;
    let take = |from: usize, n: usize| -> Vec<Example> {
        spam[from..from + n]
            .iter()
            .chain(&ham[from..from + n])
            .cloned()
            .collect()
    };
    let train = take(0, train_per_class);
    let test = take(train_per_class, test_per_class);
    let base = train_per_class + test_per_class;
    let shots = (0..shots)
        .map(|i| {
            let pool = if i % 2 == 0 { &spam } else { &ham };
            pool[base + i / 2].clone()
        })
        .collect();
    Ok(Splits {
        train,
        test,
        shots,
        dropped,
    })
}

/// A subject as compared for duplicates: lower case, replies' and forwards' prefixes off,
/// spaces collapsed.
fn subject_key(subject: &str) -> String {
    let mut s = subject.trim().to_lowercase();
    loop {
        let before = s.len();
        for p in ["re:", "fwd:", "fw:"] {
            if let Some(rest) = s.strip_prefix(p) {
                s = rest.trim_start().to_string();
            }
        }
        if s.len() == before {
            return s.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }
}

/// Every usable e-mail of the corpus (week 18's parser).
pub fn emails() -> Result<Vec<Email>> {
    Ok(email::load()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_forwards_share_their_subject() {
        assert_eq!(subject_key("Re: RE: Fwd:  Lunch  today"), "lunch today");
        assert_eq!(subject_key("Lunch today"), "lunch today");
        assert_ne!(subject_key("Lunch tomorrow"), "lunch today");
    }
}
