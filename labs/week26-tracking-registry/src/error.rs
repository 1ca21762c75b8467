//! The errors of the tracker and the registry: each says what was wrong and with what.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TrackError {
    /// No run has this id.
    #[error("no run has the id {0:?}")]
    UnknownRun(String),
    /// No model, version or alias of that name.
    #[error("{0}")]
    Unknown(String),
    /// A request the store refuses (bad value, illegal transition, duplicate).
    #[error("{0}")]
    Invalid(String),
    /// The database or a blob is damaged.
    #[error("{path} is damaged or not a tracking store: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    /// A metrics log that cannot be read, with the line.
    #[error("{path}, line {line}: {detail}")]
    BadLine {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    #[error("I/O: {0}")]
    Io(String),
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
}

pub type Result<T, E = TrackError> = std::result::Result<T, E>;
