//! # Week 23 — Fine-tuning: LoRA from scratch
//!
//! SmolLM2-135M-Instruct taught to tell spam from ham by the subject line of real e-mails
//! (SpamAssassin), four ways: asked as is (zero-shot), shown examples in the prompt
//! (few-shot), with LoRA adapters trained on its attention (the base frozen), and with every
//! weight trained (a full fine-tune). The model is [`wb_llm::trainable`]'s f32 copy of the
//! GGUF, differentiable end to end.
//!
//! - [`lora`]: the adapters (init, forward, merge/unmerge, saved alone in PEFT's format);
//! - [`data`]: the task: prompts, label tokens, the splits;
//! - [`tune`]: the loss, the evaluation and the training task for `wb_train::fit`;
//! - [`baseline`]: naive Bayes over the subject's words, the classical model to beat.

pub mod baseline;
pub mod data;
pub mod lora;
pub mod tune;

pub use wb_llm;
pub use week18_prompting::email;

use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong in the lab. Every variant names what was wrong.
#[derive(Debug, Error)]
pub enum TuneError {
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Llm(#[from] wb_llm::LlmError),
    #[error(transparent)]
    Prompt(#[from] week18_prompting::PromptError),
    #[error(transparent)]
    Train(#[from] wb_train::TrainError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = TuneError> = std::result::Result<T, E>;

pub(crate) fn invalid(arg: &str, detail: impl Into<String>) -> TuneError {
    TuneError::InvalidArgument {
        arg: arg.into(),
        detail: detail.into(),
    }
}

/// The process's peak resident memory (VmHWM) in MiB since the last [`reset_peak_memory`];
/// `None` where /proc is absent.
pub fn peak_memory_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// The process's resident memory now (VmRSS) in MiB; `None` where /proc is absent.
pub fn memory_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

fn status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Starts a new peak: Linux resets VmHWM to the current resident size when 5 is written to
/// `/proc/self/clear_refs`. Returns whether it could.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
