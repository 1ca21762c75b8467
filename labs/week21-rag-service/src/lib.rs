//! # Week 21 — a RAG service: ingestion, a persistent store, cited answers over HTTP
//!
//! Week 20's retrieval made into a service that keeps its data:
//!
//! - [`ingest`]: documents read from text, Markdown and JSON lines, each checked and hashed;
//! - [`store`]: one SQLite file (WAL) holding documents, passages, their vectors and a full-text
//!   index; a document is written whole in one transaction or not at all, re-ingesting it changes
//!   nothing, a changed one replaces its old passages;
//! - [`pipeline`]: retrieve (BM25 + dense, fused) → rerank (MiniLM per sentence) → a prompt with
//!   numbered passages → the local LLM's answer, streamed;
//! - [`cite`]: the answer's citations checked against the passages it was given, and how much
//!   of the answer those passages support;
//! - [`client`]: a streaming client that times the first token;
//! - [`service`]: the HTTP API (axum, OpenAPI), one worker thread owning the models and the store.

pub mod cite;
pub mod client;
pub mod ingest;
pub mod pipeline;
pub mod service;
pub mod store;

pub use week20_rag_retrieval as week20;
pub use week20_rag_retrieval::week19;
pub use week20_rag_retrieval::week19::wb_llm;

use thiserror::Error;

/// What can go wrong; every variant says which argument or file and what was wrong with it.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    /// A document, passage or source that is not in the store.
    #[error("not found: {0}")]
    NotFound(String),
    /// A fault of the service itself (a 500), not of the request.
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Retrieval(#[from] week20::RagError),
    #[error(transparent)]
    Llm(#[from] wb_llm::LlmError),
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// An [`ServiceError::InvalidArgument`] naming `arg`.
pub fn invalid(arg: &str, detail: impl Into<String>) -> ServiceError {
    ServiceError::InvalidArgument {
        arg: arg.into(),
        detail: detail.into(),
    }
}

impl From<week19::SearchError> for ServiceError {
    fn from(e: week19::SearchError) -> Self {
        Self::Retrieval(e.into())
    }
}

/// Turns week 20's "invalid argument" into ours (same argument, same detail), so that a caller
/// sees one kind of error for bad input whichever layer found it.
pub(crate) fn lift(e: week20::RagError) -> ServiceError {
    match e {
        week20::RagError::InvalidArgument { arg, detail } => {
            ServiceError::InvalidArgument { arg, detail }
        }
        other => ServiceError::Retrieval(other),
    }
}
