//! The parts of a training loop that every deep-learning lab needs, as complete library code.
//!
//! - [`loader`]: seeded shuffling and batching whose epoch order depends only on `(seed, epoch)`,
//!   so a run resumed from a checkpoint sees exactly the batches an uninterrupted run would;
//! - [`schedule`]: learning-rate schedules (constant, step, cosine, linear warm-up) with the
//!   formulas of PyTorch's `StepLR`/`CosineAnnealingLR` and Hugging Face's warm-up schedules;
//! - [`clip`]: gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_` does it;
//! - [`early_stop`]: early stopping with patience and a minimum improvement;
//! - [`metrics`]: a JSON-lines metrics log that later weeks' experiment tracking reads back.
//!
//! - [`adamw`]: AdamW whose moments and step count can be saved and restored (candle-nn keeps
//!   them private), so a checkpoint resumes bit for bit.

pub mod adamw;
pub mod clip;
pub mod early_stop;
pub mod loader;
pub mod metrics;
pub mod schedule;

pub use adamw::{AdamWState, ResumableAdamW};
pub use clip::clip_grad_norm;
pub use early_stop::{EarlyStopping, Goal, StopDecision};
pub use loader::BatchLoader;
pub use metrics::{MetricsLog, MetricsRecord, read_metrics};
pub use schedule::LrSchedule;
