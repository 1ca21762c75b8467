//! The errors of a training run: bad arguments, tensor errors, checkpoint problems.

use std::path::PathBuf;

/// Everything that can stop a run, each with what went wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Ml(#[from] wb_core::MlError),
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error("checkpoint {}: {detail}", path.display())]
    Checkpoint { path: PathBuf, detail: String },
}

pub type TrainResult<T> = std::result::Result<T, TrainError>;
