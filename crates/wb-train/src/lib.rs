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
//!   them private), so a checkpoint resumes bit for bit;
//! - [`checkpoint`]: weights, optimiser moments, step, loader position and generator state in a
//!   safetensors file and a JSON file, checked in full before anything is loaded;
//! - [`init`]: seeded initial weights (candle's CPU generator cannot be seeded);
//! - [`fit`]: the loop for any candle model described as a [`Task`], with a progress bar.
//!
//! Build with the `cuda` feature to train on an NVIDIA GPU; [`device`] picks it when present.

pub mod adamw;
pub mod checkpoint;
pub mod clip;
pub mod early_stop;
pub mod error;
pub mod fit;
pub mod init;
pub mod loader;
pub mod metrics;
pub mod schedule;
pub mod vars;

pub use adamw::{AdamWState, ResumableAdamW, adamw};
/// Every program that links wb-train allocates with mimalloc. candle allocates a new buffer for
/// each tensor operation's result; with glibc's malloc, buffers of a few megabytes are mapped
/// and unmapped from the kernel every time, and the page faults dominate small CPU trainings
/// (measured on week 11's CNN in a release build, forward and backward of 64 images: 197–208 ms
/// with glibc, 77–78 ms with mimalloc; ReLU forward + backward on 800,000 values: 17.6 ms
/// against 1.4 ms).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use checkpoint::RunState;
pub use clip::clip_grads;
pub use early_stop::{EarlyStopping, Goal, StopDecision};
pub use error::{TrainError, TrainResult};
pub use fit::{EpochSummary, FitConfig, FitReport, Task, fit};
pub use loader::BatchLoader;
pub use metrics::{MetricsLog, MetricsRecord, accuracy, read_metrics};
pub use schedule::LrSchedule;
pub use vars::{NamedVars, named_vars};

/// The device to train on: the first CUDA GPU when the crate is built with the `cuda` feature
/// and one is present, the CPU otherwise.
pub fn device() -> candle_core::Device {
    #[cfg(feature = "cuda")]
    if let Ok(d) = candle_core::Device::new_cuda(0) {
        return d;
    }
    candle_core::Device::Cpu
}
