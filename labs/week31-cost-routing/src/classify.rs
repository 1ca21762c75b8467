//! The two classifiers of the cascade, on week 18's e-mails (spam or ham):
//!
//! - [`NaiveBayes`]: multinomial naive Bayes over the words of the subject and body — trained in
//!   milliseconds, answering in microseconds, and confident about almost everything;
//! - [`LlmJudge`]: SmolLM2 shown two labelled examples and asked for one word, scored by the
//!   probabilities of its first token being "spam" or "ham" (one forward pass over the prompt,
//!   no generation): seconds per e-mail and a price per token.

use crate::wb_llm::{LocalModel, Message};
use crate::week22::email::{Email, Label};
use anyhow::{Result, ensure};
use std::collections::HashMap;

/// What an e-mail looks like to both classifiers: its subject, its sender and the start of its
/// body.
pub fn email_text(e: &Email, body_chars: usize) -> String {
    format!(
        "Subject: {}\nFrom: {}\n\n{}",
        e.subject,
        e.from,
        e.excerpt(body_chars)
    )
}

/// A classifier's answer as log-odds of spam, ln(P(spam) / P(ham)): kept as log-odds because
/// naive Bayes is so sure of most e-mails that their probability rounds to exactly 1 in 64-bit
/// floating point, and a cascade must still rank them.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scored {
    pub log_odds: f64,
}

impl Scored {
    /// From a probability of spam (0 < p < 1).
    pub fn from_probability(p_spam: f64) -> Self {
        Self {
            log_odds: (p_spam / (1.0 - p_spam)).ln(),
        }
    }
    pub fn p_spam(&self) -> f64 {
        1.0 / (1.0 + (-self.log_odds).exp())
    }
    pub fn label(&self) -> Label {
        if self.log_odds >= 0.0 {
            Label::Spam
        } else {
            Label::Ham
        }
    }
    /// How sure it is: |log-odds| (0: a coin flip; ln 9 ≈ 2.2: 90 % for its label).
    pub fn confidence(&self) -> f64 {
        self.log_odds.abs()
    }
}

/// Lower-cased runs of letters and digits, at least 2 characters long.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
}

/// Multinomial naive Bayes with Laplace smoothing (`alpha`), as scikit-learn's `MultinomialNB`:
/// log P(class) + Σ count(w) · log P(w | class), P(w | class) = (n(w, class) + α) / (N(class) +
/// α·|V|) over the training vocabulary V; words outside V are ignored.
#[derive(Debug, Clone)]
pub struct NaiveBayes {
    /// log P(w | spam), log P(w | ham) for each word of the vocabulary.
    log_likelihood: HashMap<String, (f64, f64)>,
    log_prior: (f64, f64),
}

impl NaiveBayes {
    pub fn fit(texts: &[String], labels: &[Label], alpha: f64) -> Result<Self> {
        ensure!(
            texts.len() == labels.len(),
            "invalid `labels`: {} labels for {} texts",
            labels.len(),
            texts.len()
        );
        ensure!(
            alpha.is_finite() && alpha > 0.0,
            "invalid `alpha`: expected a smoothing > 0, got {alpha}"
        );
        let spam = labels.iter().filter(|&&l| l == Label::Spam).count();
        ensure!(
            spam > 0 && spam < labels.len(),
            "invalid `labels`: both classes must occur (spam {spam} of {})",
            labels.len()
        );
        let mut counts: HashMap<String, (f64, f64)> = HashMap::new();
        let (mut n_spam, mut n_ham) = (0.0, 0.0);
        for (t, &l) in texts.iter().zip(labels) {
            for w in words(t) {
                let c = counts.entry(w).or_default();
                if l == Label::Spam {
                    c.0 += 1.0;
                    n_spam += 1.0;
                } else {
                    c.1 += 1.0;
                    n_ham += 1.0;
                }
            }
        }
        let v = counts.len() as f64;
        let log_likelihood = counts
            .into_iter()
            .map(|(w, (s, h))| {
                let ls = ((s + alpha) / (n_spam + alpha * v)).ln();
                let lh = ((h + alpha) / (n_ham + alpha * v)).ln();
                (w, (ls, lh))
            })
            .collect();
        let n = labels.len() as f64;
        Ok(Self {
            log_likelihood,
            log_prior: ((spam as f64 / n).ln(), ((n - spam as f64) / n).ln()),
        })
    }

    /// The joint log-probabilities (spam, ham) of `text`, up to the same constant.
    pub fn joint_log(&self, text: &str) -> (f64, f64) {
        let (mut s, mut h) = self.log_prior;
        for w in words(text) {
            if let Some(&(ls, lh)) = self.log_likelihood.get(&w) {
                s += ls;
                h += lh;
            }
        }
        (s, h)
    }

    pub fn score(&self, text: &str) -> Scored {
        let (s, h) = self.joint_log(text);
        Scored { log_odds: s - h }
    }

    pub fn vocabulary(&self) -> usize {
        self.log_likelihood.len()
    }
}

/// SmolLM2 as a spam judge, by the probability of its first answer token.
pub struct LlmJudge {
    pub model: LocalModel,
    examples: Vec<Message>,
    spam_token: u32,
    ham_token: u32,
    /// The log-odds it gives an e-mail with no content, subtracted from every score
    /// ([`LlmJudge::calibrate`]); 0 until calibrated.
    pub bias: f64,
}

/// An e-mail with no content, for [`LlmJudge::calibrate`].
pub const CONTENT_FREE: &str = "Subject: N/A\nFrom: N/A\n\nN/A";

pub const JUDGE_SYSTEM: &str =
    "You sort e-mails into spam and ham (wanted mail). Answer with one word: spam or ham.";

impl LlmJudge {
    /// `examples`: e-mails shown with their labels before each question (few-shot).
    pub fn new(model: LocalModel, examples: &[(String, Label)]) -> Result<Self> {
        let first = |w: &str| -> Result<u32> {
            let ids = model.tokenizer.encode(w)?;
            ids.first()
                .copied()
                .ok_or_else(|| anyhow::anyhow!("the tokenizer gives no token for {w:?}"))
        };
        let (spam_token, ham_token) = (first("spam")?, first("ham")?);
        ensure!(
            spam_token != ham_token,
            "\"spam\" and \"ham\" start with the same token: the first token cannot tell them apart"
        );
        let mut msgs = vec![Message::system(JUDGE_SYSTEM)];
        for (text, label) in examples {
            msgs.push(Message::user(text.clone()));
            msgs.push(Message::assistant(match label {
                Label::Spam => "spam",
                Label::Ham => "ham",
            }));
        }
        Ok(Self {
            model,
            examples: msgs,
            spam_token,
            ham_token,
            bias: 0.0,
        })
    }

    /// Contextual calibration (Zhao et al., 2021, "Calibrate before use"): a small model given
    /// a prompt leans to one label whatever the e-mail says. Its log-odds on a content-free
    /// e-mail measure that lean; subtracting them centres the scores. Returns the bias.
    pub fn calibrate(&mut self) -> Result<f64> {
        self.bias = 0.0;
        let (s, _) = self.score(CONTENT_FREE)?;
        self.bias = s.log_odds;
        Ok(self.bias)
    }

    /// The prompt's tokens for `text`.
    pub fn prompt(&self, text: &str) -> Result<Vec<u32>> {
        let mut msgs = self.examples.clone();
        msgs.push(Message::user(text.to_string()));
        Ok(self.model.chat_prompt(&msgs)?)
    }

    /// P(spam) from the two tokens' probabilities, renormalised; and the prompt's length.
    pub fn score(&mut self, text: &str) -> Result<(Scored, usize)> {
        let prompt = self.prompt(text)?;
        let logits = self.model.next_logits(&prompt)?;
        let (s, h) = (
            logits[self.spam_token as usize] as f64,
            logits[self.ham_token as usize] as f64,
        );
        Ok((
            Scored {
                log_odds: s - h - self.bias,
            },
            prompt.len(),
        ))
    }
}
