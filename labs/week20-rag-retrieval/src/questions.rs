//! The labelled query set: 116 questions over the addresses, each with its gold sentence and
//! that sentence's place (`datasets/text/sotu_questions.jsonl`, made by
//! `datasets/make_sotu_questions.py`, the questions written by hand).

use crate::{Result, invalid};
use serde::{Deserialize, Serialize};
use week19_embeddings_search::corpus::{Chunk, Speech};

/// One question and where its answer lies.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Question {
    pub id: String,
    pub question: String,
    /// The address's position in the corpus.
    pub speech: usize,
    pub year: u32,
    pub president: String,
    /// The gold sentence and its byte range in the address.
    pub gold: String,
    pub start: usize,
    pub end: usize,
}

/// The shipped questions, each checked against `speeches`: its gold sentence must be where it
/// says.
pub fn load_questions(speeches: &[Speech]) -> Result<Vec<Question>> {
    let path = wb_data::dataset("text/sotu_questions.jsonl")?;
    let questions: Vec<Question> = wb_data::read_jsonl(&path)?;
    for q in &questions {
        let text = speeches
            .get(q.speech)
            .map(|s| s.text.as_str())
            .unwrap_or("");
        if text.get(q.start..q.end) != Some(q.gold.as_str()) {
            return Err(invalid(
                &format!("question {}", q.id),
                format!(
                    "its gold sentence is not at bytes {}..{} of address {}",
                    q.start, q.end, q.speech
                ),
            ));
        }
    }
    Ok(questions)
}

/// The passages that answer `q`: those of its address holding at least half of its gold
/// sentence (one passage for chunkers that keep sentences whole, up to two for the others,
/// more with overlap).
pub fn relevant(chunks: &[Chunk], q: &Question) -> Vec<usize> {
    // A range given backwards holds nothing (and relates no passage) rather than underflowing.
    let need = q.end.saturating_sub(q.start).div_ceil(2).max(1);
    chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.speech == q.speech && c.end.min(q.end).saturating_sub(c.start.max(q.start)) >= need
        })
        .map(|(i, _)| i)
        .collect()
}
