//! Week 13: attention and the transformer.
//!
//! - [`attention`]: scaled dot-product attention with causal and padding masks, multi-head
//!   attention — equal to a numpy reference computed by the fixtures script;
//! - [`block`]: layer norm, sinusoidal positions, a pre-LN transformer block;
//! - [`train`]: a small character GPT (`wb_models::Gpt`) on Moby-Dick, saved and reloaded, and
//!   raced against the week 12 LSTM (`wb_models::CharLstm`) at a similar size;
//! - [`copy_task`]: week 12's copy task, for a transformer.

pub mod attention;
pub mod block;
pub mod copy_task;
pub mod train;

/// Errors of this lab: bad arguments (which one, what was expected) or a tensor error.
pub type Result<T> = std::result::Result<T, wb_train::TrainError>;
