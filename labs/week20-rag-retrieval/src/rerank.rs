//! A reranker: the local LLM (SmolLM2-135M-Instruct) reads the question and one candidate
//! passage together and is asked whether the passage answers it; the passage's new score is
//! the log-odds of "Yes" over "No" as its next token. Unlike the retrievers, which embed or
//! index question and passage apart, it sees both at once (a cross-scorer) — and pays a
//! forward pass per passage, so it only re-orders the first few candidates.

use crate::{Result, Scored, invalid};
use week19_embeddings_search::wb_llm::{LocalModel, Message};

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

    /// `candidates` re-ordered by [`Reranker::score`] of their passages (`texts[id]`), best
    /// first; equal scores keep the candidates' order.
    // ANCHOR: rerank
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
