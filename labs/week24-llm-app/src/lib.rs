//! # Week 24 — a full LLM API: keys, rate limits, budgets and a usage ledger
//!
//! An OpenAI-compatible API in front of the local model (wb-llm's server, SmolLM2 behind it,
//! called in-process) that a team could hand out to its users:
//!
//! - [`keys`]: API keys — random secrets shown once, stored as SHA-256 hashes, compared in
//!   constant time;
//! - [`bucket`]: per-key rate limiting by token bucket (429 with `Retry-After`);
//! - [`pricing`]: token counts priced in integer nano-dollars, so that sums are exact;
//! - [`ledger`]: users, keys and the usage ledger in SQLite (WAL): a request's worst-case cost is
//!   reserved in the same transaction that checks the budget, settled at the tokens the model
//!   really used, released if the request fails; a restart releases what a crash left reserved;
//! - [`counter`]: the prompt's tokens counted before the model sees it (SmolLM2's own chat
//!   template and tokenizer), for the reservation;
//! - [`service`]: the HTTP API (axum) with OpenAPI: authentication (401), scopes and revoked
//!   keys (403), rate limits (429), budgets (402), streaming, usage and admin routes;
//! - [`stack`]: the model server and the API started on loopback.

pub mod bucket;
pub mod counter;
pub mod keys;
pub mod ledger;
pub mod pricing;
pub mod service;
pub mod stack;

pub use wb_llm;

use thiserror::Error;

/// What can go wrong; every variant says which argument, or what failed and how.
#[derive(Debug, Error)]
pub enum AppError {
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    /// What was asked for does not exist (an admin route answers 404).
    #[error("{0}")]
    NotFound(String),
    #[error("the ledger ({context}): {source}")]
    Db {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Llm(#[from] wb_llm::LlmError),
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// An [`AppError::InvalidArgument`] naming `arg`.
pub fn invalid(arg: &str, detail: impl Into<String>) -> AppError {
    AppError::InvalidArgument {
        arg: arg.into(),
        detail: detail.into(),
    }
}

/// Adds what was being done to a SQLite error.
pub(crate) trait DbContext<T> {
    fn during(self, context: &str) -> Result<T>;
}

impl<T> DbContext<T> for std::result::Result<T, rusqlite::Error> {
    fn during(self, context: &str) -> Result<T> {
        self.map_err(|source| AppError::Db {
            context: context.to_string(),
            source,
        })
    }
}
