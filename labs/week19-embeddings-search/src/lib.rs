//! # Week 19 — Embeddings, semantic search and vector indexes
//!
//! - [`corpus`]: the State of the Union addresses cut into paragraph-sized chunks of whole
//!   sentences;
//! - [`embed`]: MiniLM embeddings of the chunks (wb-llm), cached on disk by content;
//! - [`vectors`]: a matrix of unit vectors, cosine similarity, and the top-k of a search;
//! - [`flat`], [`ivf`], [`hnsw`]: three vector indexes from scratch — exact search, an inverted
//!   file over k-means cells ([`kmeans`]), and a hierarchical navigable small-world graph;
//! - [`file`]: saving and loading an index (versioned, checksummed);
//! - [`eval`]: recall@k against exact search and queries per second;
//! - [`shard`]: the index split across processes on loopback, queries fanned out, top-k merged.

pub mod corpus;
pub mod embed;
pub mod eval;
pub mod file;
pub mod flat;
pub mod hnsw;
pub mod ivf;
pub mod kmeans;
pub mod shard;
pub mod vectors;

pub use file::Index;
pub use flat::Flat;
pub use hnsw::{Hnsw, HnswParams};
pub use ivf::{Ivf, IvfParams};
pub use vectors::{Hit, Vectors, dot};
pub use wb_llm;

use thiserror::Error;

/// What can go wrong; every variant says which argument or file and what was wrong with it.
#[derive(Debug, Error)]
pub enum SearchError {
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    #[error("{path}: {detail}")]
    BadFile { path: String, detail: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Data(#[from] wb_data::DataError),
    #[error(transparent)]
    Llm(#[from] wb_llm::LlmError),
    #[error("shard {shard} ({url}): {detail}")]
    Shard {
        shard: usize,
        url: String,
        detail: String,
    },
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;

/// An [`SearchError::InvalidArgument`] naming `arg`.
pub fn invalid(arg: &str, detail: impl Into<String>) -> SearchError {
    SearchError::InvalidArgument {
        arg: arg.into(),
        detail: detail.into(),
    }
}

/// One search against an index: the `k` best hits for `query`, best first.
pub trait VectorIndex: Send + Sync {
    /// How many vectors the index holds.
    fn len(&self) -> usize;
    /// Whether it holds none (an index is never built empty: see the constructors).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The vectors' width.
    fn dim(&self) -> usize;
    /// The `k` hits with the largest inner product (cosine for unit vectors), best first, ties
    /// to the smaller id. `k` must be in 1..=len, the query `dim` finite numbers.
    fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>>;
}

/// Checks a query against an index of `len` vectors of width `dim`.
pub fn check_query(query: &[f32], k: usize, len: usize, dim: usize) -> Result<()> {
    if k == 0 || k > len {
        return Err(invalid(
            "k",
            format!("must be between 1 and the {len} vectors of the index, got {k}"),
        ));
    }
    if query.len() != dim {
        return Err(invalid(
            "query",
            format!(
                "expected {dim} numbers (the index's width), got {}",
                query.len()
            ),
        ));
    }
    if let Some(i) = query.iter().position(|v| !v.is_finite()) {
        return Err(invalid("query", format!("value {i} is {}", query[i])));
    }
    Ok(())
}
