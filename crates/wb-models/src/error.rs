//! The one error type of `wb-models`: `?` works from a lab's `anyhow::Result`, and from
//! `wb_train::TrainResult` through the `From` below.

use std::path::PathBuf;

/// What can go wrong when building, running, saving or loading a model of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Bad data or a bad argument (a character outside the vocabulary, an empty prompt, …).
    #[error(transparent)]
    Ml(#[from] wb_core::MlError),
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] wb_train::TrainError),
    /// A data set of the workbook could not be found or read.
    #[error(transparent)]
    Data(#[from] wb_data::DataError),
    /// A model's file could not be read, written or understood.
    #[error("{}: {detail}", path.display())]
    File { path: PathBuf, detail: String },
    /// A configuration, or weights, that no model can be built from.
    #[error("invalid model: {0}")]
    Invalid(String),
}

/// The result type of `wb-models`.
pub type ModelResult<T> = std::result::Result<T, ModelError>;

impl From<ModelError> for wb_train::TrainError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Ml(e) => e.into(),
            ModelError::Tensor(e) => e.into(),
            ModelError::Train(e) => e,
            ModelError::File { path, detail } => wb_train::TrainError::Checkpoint { path, detail },
            other => wb_core::MlError::InvalidArgument {
                arg: "model".into(),
                detail: other.to_string(),
            }
            .into(),
        }
    }
}
