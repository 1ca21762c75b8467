//! # Week 22 — streaming, retries, circuit breakers and guardrails
//!
//! A gateway in front of the local model's OpenAI-compatible server (wb-llm's, SmolLM2 behind
//! it), made to survive a faulty network and to refuse what it must:
//!
//! - [`retry`]: exponential backoff with full jitter, a retry budget, which failures to retry;
//! - [`breaker`]: a circuit breaker (closed → open → half-open → closed);
//! - [`idempotency`]: idempotency keys, so that a retried request never runs twice;
//! - [`guard`]: guardrails — prompt-injection heuristics, PII found and redacted (e-mail,
//!   phone, card numbers with Luhn, IBAN with its mod-97 check), output length and schema checks;
//! - [`proxy`]: a fault-injecting TCP proxy on loopback (latency, resets, 5xx, truncated
//!   streams) that every experiment and check goes through;
//! - [`upstream`]: the gateway's resilient streaming client of the model server;
//! - [`gateway`]: the HTTP service (axum): SSE token streaming with event ids, client
//!   disconnects that stop the generation upstream, guardrails on the way in and out;
//! - [`stack`]: the model server and a gateway started on loopback;
//! - [`client`]: a client of the gateway that reads its stream and checks its order;
//! - [`fixtures`]: real mail with personal data and injections planted at known places;
//! - [`echo`]: a deterministic stand-in model for the checks whose answers must be known.

pub mod breaker;
pub mod client;
pub mod echo;
pub mod fixtures;
pub mod gateway;
pub mod guard;
pub mod idempotency;
pub mod proxy;
pub mod retry;
pub mod stack;
pub mod upstream;

pub use week18_prompting::email;
pub use week18_prompting::wb_llm;

use thiserror::Error;

/// What can go wrong; every variant says which argument, or what failed and how.
#[derive(Debug, Error)]
pub enum ReliabilityError {
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Llm(#[from] wb_llm::LlmError),
    #[error(transparent)]
    Prompt(#[from] week18_prompting::PromptError),
    #[error(transparent)]
    Regex(#[from] regex::Error),
}

pub type Result<T, E = ReliabilityError> = std::result::Result<T, E>;

/// An [`ReliabilityError::InvalidArgument`] naming `arg`.
pub fn invalid(arg: &str, detail: impl Into<String>) -> ReliabilityError {
    ReliabilityError::InvalidArgument {
        arg: arg.into(),
        detail: detail.into(),
    }
}
