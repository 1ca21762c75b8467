//! Week 12: recurrent networks.
//!
//! - [`cells`]: the RNN and LSTM cells from tensor operations, checked against candle-nn's LSTM;
//! - [`sampling`]: temperature and sampling the next character;
//! - [`gradients`]: how the gradient fades with the distance in time, for both cells;
//! - [`copy_task`]: remember a symbol across a delay — where the plain RNN gives up;
//! - [`charlm`]: a character-level LSTM language model trained on Moby-Dick.

pub mod cells;
pub mod charlm;
pub mod copy_task;
pub mod gradients;
pub mod sampling;

/// Errors of this lab: bad arguments (which one, what was expected) or a tensor error.
pub type Result<T> = std::result::Result<T, wb_train::TrainError>;
