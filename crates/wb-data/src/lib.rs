//! Loaders for the workbook's data sets.
//!
//! - [`read_numeric_csv`]: a CSV file with a header row into an `ndarray` matrix plus column names;
//! - [`read_csv`]: the same file as strings, for data with categories or missing values;
//! - [`read_idx`]: the IDX format of MNIST and Fashion-MNIST;
//! - [`read_jsonl`]: one JSON object per line, into any `serde` type;
//! - [`dataset`]: the path of a shipped data set, after checking its SHA-256 against
//!   `datasets/SHA256SUMS`;
//! - [`models`]: the two real models of the LLM weeks, fetched once into a cache and checked.
//!
//! Every reader opens gzip-compressed files transparently (by their magic bytes) and reports
//! malformed input as a [`DataError`] naming the file, the line and the column.

mod checksum;
mod csv_table;
mod idx;
mod jsonl;
pub mod models;
mod split;

pub use checksum::{ChecksumStatus, dataset, datasets_dir, sha256_file, verify_all};
pub use csv_table::{CsvTable, NumericTable, read_csv, read_labelled_csv, read_numeric_csv};
pub use idx::{IdxData, read_idx};
pub use jsonl::read_jsonl;
pub use split::{SplitMix64, shuffled_indices, train_test_indices};

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// What can go wrong while reading a data file.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file's content is not what the reader expects. `line` is 1-based (the header of a CSV
    /// file is line 1); `column` names the column when there is one.
    #[error("{path}:{line}{}: {detail}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
    Malformed {
        path: PathBuf,
        line: u64,
        column: Option<String>,
        detail: String,
    },
    #[error("{path}: no column named `{name}`; the columns are: {}", available.join(", "))]
    UnknownColumn {
        path: PathBuf,
        name: String,
        available: Vec<String>,
    },
    /// A model could not be fetched into the model cache.
    #[error("cannot fetch the model {model}: {detail}")]
    Fetch { model: String, detail: String },
    /// A model file (or the package it came in) is not the one pinned in `models.rs`.
    #[error(
        "{path}: {got}, but the pinned model file is {expected}: it is damaged or not the expected release (`cargo run -p workbook -- models` fetches it again)"
    )]
    ModelChecksum {
        path: PathBuf,
        expected: String,
        got: String,
    },
    #[error(
        "{path}: SHA-256 is {got}, but datasets/SHA256SUMS says {expected}: the file is corrupt or was changed"
    )]
    Checksum {
        path: PathBuf,
        expected: String,
        got: String,
    },
    #[error("{0}")]
    NotFound(String),
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens `path` for reading, decompressing it on the fly when it starts with the gzip magic bytes.
pub fn open(path: &Path) -> Result<Box<dyn Read>> {
    let mut file = BufReader::new(File::open(path).map_err(io_err(path))?);
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(io_err(path))?;
    let head = std::io::Cursor::new(magic[..n].to_vec()).chain(file);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            head,
        ))))
    } else {
        Ok(Box::new(head))
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::PathBuf;

    /// A fresh file under the system's temp folder holding `bytes`.
    pub fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wb-data-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }
}
