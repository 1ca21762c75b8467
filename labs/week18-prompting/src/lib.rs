//! # Week 18 — Prompt engineering, few-shot vs zero-shot, output control with JSON schemas
//!
//! One task, four ways, on a real model and real e-mails: classify SpamAssassin e-mails as spam
//! or ham and extract their sender and subject, zero-shot, few-shot (examples chosen by embedding
//! similarity), as JSON asked for and repaired, and as JSON by constrained decoding.
//!
//! - [`email`]: the task set, parsed from raw e-mails;
//! - [`prompts`]: templates (minijinja), the conversations, reading answers, choosing examples;
//! - [`schema`]: JSON Schema from Rust types (schemars), validation with the path, JSON in prose;
//! - [`repair`]: the repair-and-retry loop;
//! - [`eval`]: the approaches measured side by side through the `ChatModel` interface.

pub mod email;
pub mod eval;
pub mod prompts;
pub mod repair;
pub mod schema;

pub use wb_llm;

use thiserror::Error;

/// What can go wrong; every variant says which argument and what was wrong with it.
#[derive(Debug, Error)]
pub enum PromptError {
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error(transparent)]
    Llm(#[from] wb_llm::LlmError),
    #[error(transparent)]
    Data(#[from] wb_data::DataError),
}

// For the checks' servers (a fake OpenAI-compatible server among them) and templates.
pub use axum;
pub use minijinja;
pub use tokio;
