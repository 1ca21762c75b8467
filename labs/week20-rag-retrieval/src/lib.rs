//! # Week 20 — RAG retrieval: chunking, BM25, dense and hybrid search, evaluation
//!
//! The retrieval half of retrieval-augmented generation, measured on a labelled set of 116
//! questions over the State of the Union addresses:
//!
//! - [`document`]: a document accepted only as non-empty UTF-8 of bounded size;
//! - [`chunk`]: four chunkers (fixed token windows, whole sentences, recursive by structure,
//!   each with overlap) and the proof that chunks cover the text;
//! - [`bm25`]: lexical search from scratch (an inverted index scored by BM25), with
//!   [`engine`] the same corpus in tantivy, a real search engine;
//! - [`dense`]: MiniLM embeddings searched exactly (week 19's vectors and cache);
//! - [`fuse`]: hybrid search by reciprocal-rank fusion;
//! - [`rerank`]: the local LLM (SmolLM2) re-scoring the best candidates;
//! - [`questions`] and [`metrics`]: the labelled set, recall@k, MRR and nDCG.

pub mod bm25;
pub mod chunk;
pub mod dense;
pub mod document;
pub mod engine;
pub mod fuse;
pub mod metrics;
pub mod questions;
pub mod rerank;

pub use week19_embeddings_search as week19;

use thiserror::Error;

/// What can go wrong; every variant says which argument or file and what was wrong with it.
#[derive(Debug, Error)]
pub enum RagError {
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Data(#[from] wb_data::DataError),
    #[error(transparent)]
    Search(#[from] week19::SearchError),
    #[error(transparent)]
    Llm(#[from] week19::wb_llm::LlmError),
    #[error("tantivy: {0}")]
    Engine(#[from] tantivy::TantivyError),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

pub type Result<T, E = RagError> = std::result::Result<T, E>;

/// An [`RagError::InvalidArgument`] naming `arg`.
pub fn invalid(arg: &str, detail: impl Into<String>) -> RagError {
    RagError::InvalidArgument {
        arg: arg.into(),
        detail: detail.into(),
    }
}

/// One retrieved passage: its id in the corpus and its score (larger is better).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scored {
    pub id: usize,
    pub score: f64,
}

/// The `k` best of `scores` (one per passage), best first, ties to the smaller id; passages
/// scoring exactly 0 are left out when `skip_zero` (BM25: no query word in them).
pub fn top_k(scores: &[f64], k: usize, skip_zero: bool) -> Result<Vec<Scored>> {
    check_k(k, scores.len())?;
    let mut all: Vec<Scored> = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| !(skip_zero && **s == 0.0))
        .map(|(id, &score)| Scored { id, score })
        .collect();
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    all.truncate(k);
    Ok(all)
}

/// `k` must be between 1 and the `n` passages searched.
pub fn check_k(k: usize, n: usize) -> Result<()> {
    if k == 0 || k > n {
        return Err(invalid(
            "k",
            format!("must be between 1 and the {n} passages of the corpus, got {k}"),
        ));
    }
    Ok(())
}
