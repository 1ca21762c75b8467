//! Week 14: training loops.
//!
//! The learner writes the parts of a training loop — learning-rate schedules, gradient clipping,
//! early stopping, resuming from a checkpoint — and checks each against `wb_train`, the loop
//! every deep-learning lab of the workbook uses. Then: experiment tracking from the loop's
//! metrics logs, and what a GPU changes.
//!
//! - [`schedules`], [`clip`], [`early`]: the parts, from scratch;
//! - [`mlp`]: an MLP on Fashion-MNIST trained by `wb_train::fit`, with an interruption and a
//!   resume that must end bit for bit where the uninterrupted run ends;
//! - [`tracking`]: runs as folders (config + metrics log), compared and ranked;
//! - [`gflops`]: matrix-product speed over sizes on the CPU (and a GPU with `--features cuda`).

pub mod clip;
pub mod early;
pub mod gflops;
pub mod mlp;
pub mod schedules;
pub mod tracking;

/// Errors of this lab: bad arguments (which one, what was expected), tensor or checkpoint errors.
pub type Result<T> = std::result::Result<T, wb_train::TrainError>;
