//! A reranker: the local LLM (SmolLM2-135M-Instruct) reads the question and one candidate
//! passage together and is asked whether the passage answers it; the passage's new score is
//! the log-odds of "Yes" over "No" as its next token. Unlike the retrievers, which embed or
//! index question and passage apart, it sees both at once (a cross-scorer) — and pays a
//! forward pass per passage, so it only re-orders the first few candidates. [`SentenceScorer`]
//! is the cheap alternative with the embedding model: the best-matching sentence of each
//! candidate instead of its average.

use crate::{Result, Scored, invalid};
use std::collections::HashMap;
use week19_embeddings_search::corpus::sentences;
use week19_embeddings_search::embed::embed_cached;
use week19_embeddings_search::wb_llm::{Embedder, LocalModel, Message};
use week19_embeddings_search::{Vectors, dot};

/// The instruction given before each passage and question.
pub const INSTRUCTION: &str = "Read the passage and the question. Answer Yes if the passage answers the question, otherwise No.";

/// SmolLM2 as a yes/no relevance judge.
pub struct Reranker {
    model: LocalModel,
    yes: u32,
    no: u32,
}

impl std::fmt::Debug for Reranker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reranker")
            .field("yes", &self.yes)
            .field("no", &self.no)
            .finish()
    }
}

/// The one token of `word` in the model's vocabulary.
fn single_token(model: &LocalModel, word: &str) -> Result<u32> {
    match model.tokenizer.encode(word)?.as_slice() {
        [t] => Ok(*t),
        other => Err(invalid(
            "model",
            format!("{word:?} is {} tokens, not one", other.len()),
        )),
    }
}

impl Reranker {
    pub fn new(model: LocalModel) -> Result<Self> {
        let yes = single_token(&model, "Yes")?;
        let no = single_token(&model, "No")?;
        Ok(Self { model, yes, no })
    }

    /// The chat prompt for one pair, as token ids; refused when it does not fit the model's
    /// context (a passage or question that long would be cut, and judged on what is left).
    pub fn prompt(&self, question: &str, passage: &str) -> Result<Vec<u32>> {
        if question.trim().is_empty() {
            return Err(invalid("question", "empty"));
        }
        if passage.trim().is_empty() {
            return Err(invalid("passage", "empty"));
        }
        let content = format!("{INSTRUCTION}\n\nPassage: {passage}\n\nQuestion: {question}");
        let tokens = self.model.chat_prompt(&[Message::user(content)])?;
        if tokens.len() >= self.model.context {
            return Err(invalid(
                "question",
                format!(
                    "with its passage and instruction it is {} tokens; the model's context holds {}",
                    tokens.len(),
                    self.model.context
                ),
            ));
        }
        Ok(tokens)
    }

    /// log P(Yes) − log P(No) for the next token after the prompt.
    pub fn score(&mut self, question: &str, passage: &str) -> Result<f64> {
        let prompt = self.prompt(question, passage)?;
        let logits = self.model.next_logits(&prompt)?;
        Ok(f64::from(
            logits[self.yes as usize] - logits[self.no as usize],
        ))
    }

    // ANCHOR: rerank
    /// `candidates` re-ordered by [`Reranker::score`] of their passages (`texts[id]`), best
    /// first; equal scores keep the candidates' order.
    pub fn rerank(
        &mut self,
        question: &str,
        candidates: &[Scored],
        texts: &[&str],
    ) -> Result<Vec<Scored>> {
        // BEGIN SOLUTION rerank
        let mut out = Vec::with_capacity(candidates.len());
        for c in candidates {
            let text = texts.get(c.id).ok_or_else(|| {
                invalid(
                    "candidates",
                    format!("passage {} of a corpus of {}", c.id, texts.len()),
                )
            })?;
            out.push(Scored {
                id: c.id,
                score: self.score(question, text)?,
            });
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(out)
        // END SOLUTION
    }
    // ANCHOR_END: rerank
}

/// A cheaper second stage with the embedding model: each candidate passage cut into its
/// sentences, and scored by the best cosine between the question and any one of them. A
/// passage's single vector averages all its sentences; the answer usually sits in one.
#[derive(Debug)]
pub struct SentenceScorer {
    vectors: Vectors,
    cached: bool,
    /// For each passage id: the rows of its sentences.
    rows: HashMap<usize, (usize, usize)>,
}

impl SentenceScorer {
    /// Embeds the sentences of the passages `ids` (of `texts`), through week 19's cache.
    pub fn build(
        embedder: &Embedder,
        texts: &[&str],
        ids: &[usize],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self> {
        if ids.is_empty() {
            return Err(invalid("ids", "no passage to cut into sentences"));
        }
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut all = Vec::new();
        let mut rows = HashMap::new();
        for &id in &ids {
            let text = texts.get(id).ok_or_else(|| {
                invalid(
                    "ids",
                    format!("passage {id} of a corpus of {}", texts.len()),
                )
            })?;
            let from = all.len();
            all.extend(sentences(text).into_iter().map(|(s, e)| &text[s..e]));
            if all.len() == from {
                return Err(invalid(&format!("texts[{id}]"), "no sentence in it"));
            }
            rows.insert(id, (from, all.len()));
        }
        let (vectors, cached) = embed_cached(embedder, &all, progress)?;
        Ok(Self {
            vectors,
            cached,
            rows,
        })
    }

    /// Whether the sentences' vectors came from the cache.
    pub fn cached(&self) -> bool {
        self.cached
    }

    /// How many sentences were embedded.
    pub fn sentences(&self) -> usize {
        self.vectors.len()
    }

    /// `candidates` re-ordered by their best sentence's cosine with `question` (a unit
    /// vector), best first; equal scores keep the candidates' order.
    pub fn rerank(&self, question: &[f32], candidates: &[Scored]) -> Result<Vec<Scored>> {
        if question.len() != self.vectors.dim() {
            return Err(invalid(
                "question",
                format!(
                    "expected {} numbers, got {}",
                    self.vectors.dim(),
                    question.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(candidates.len());
        for c in candidates {
            let &(from, to) = self.rows.get(&c.id).ok_or_else(|| {
                invalid(
                    "candidates",
                    format!("passage {} was not given to build", c.id),
                )
            })?;
            let best = (from..to)
                .map(|r| dot(question, self.vectors.row(r)))
                .fold(f32::NEG_INFINITY, f32::max);
            out.push(Scored {
                id: c.id,
                score: f64::from(best),
            });
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(out)
    }
}
