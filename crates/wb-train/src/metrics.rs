//! A metrics log in JSON lines: one object per line, `{"step": …, "epoch": …, "name": value, …}`.
//!
//! JSON lines append safely (a crash loses at most the line being written), stream, and are read
//! by anything: `jq`, pandas' `read_json(lines=True)`, and the experiment tracking of later weeks.
//! [`accuracy`] is the value most evaluations put in it.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wb_core::{MlError, Result};

/// One line of the log: where in training, and the named values measured there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRecord {
    pub step: u64,
    pub epoch: u64,
    #[serde(flatten)]
    pub values: BTreeMap<String, f64>,
}

/// Appends [`MetricsRecord`]s to a file, one JSON object per line, flushed after each line.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    out: BufWriter<File>,
}

fn io_err(path: &Path, what: &str, e: impl std::fmt::Display) -> MlError {
    MlError::InvalidArgument {
        arg: "path".to_string(),
        detail: format!("cannot {what} {}: {e}", path.display()),
    }
}

fn make_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, "create", e))
        }
        _ => Ok(()),
    }
}

impl MetricsLog {
    /// Creates (or truncates) the log at `path`. Use [`MetricsLog::append`] to continue a resumed run.
    pub fn create(path: &Path) -> Result<Self> {
        make_parent(path)?;
        let f = File::create(path).map_err(|e| io_err(path, "create", e))?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
        })
    }

    /// Opens the log at `path` for appending, creating it if needed.
    pub fn append(path: &Path) -> Result<Self> {
        make_parent(path)?;
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io_err(path, "open", e))?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
        })
    }

    /// Writes one line. Names `step` and `epoch` are reserved; values must be finite (JSON has
    /// no NaN), so a diverged loss is reported here rather than written as `null`.
    pub fn log(&mut self, step: u64, epoch: u64, values: &[(&str, f64)]) -> Result<()> {
        let mut map = BTreeMap::new();
        for &(name, v) in values {
            if name == "step" || name == "epoch" {
                return Err(MlError::InvalidArgument {
                    arg: "values".to_string(),
                    detail: format!("`{name}` is reserved for the record's position"),
                });
            }
            if !v.is_finite() {
                return Err(MlError::NonFinite {
                    arg: "values".to_string(),
                    index: name.to_string(),
                    value: v,
                });
            }
            map.insert(name.to_string(), v);
        }
        let rec = MetricsRecord {
            step,
            epoch,
            values: map,
        };
        let line = serde_json::to_string(&rec).map_err(|e| io_err(&self.path, "encode", e))?;
        writeln!(self.out, "{line}").map_err(|e| io_err(&self.path, "write", e))?;
        self.out.flush().map_err(|e| io_err(&self.path, "flush", e))
    }
}

/// Reads a log back; a malformed line is an error naming its line number.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricsRecord>> {
    let f = File::open(path).map_err(|e| io_err(path, "open", e))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| io_err(path, "read", e))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: MetricsRecord = serde_json::from_str(&line)
            .map_err(|e| io_err(path, "parse", format!("line {}: {e}", i + 1)))?;
        out.push(rec);
    }
    Ok(out)
}

/// The share of rows whose largest logit is at their label: `logits` `[n, classes]`, `labels`
/// `[n]` (u32 class indices).
pub fn accuracy(
    logits: &candle_core::Tensor,
    labels: &candle_core::Tensor,
) -> candle_core::Result<f64> {
    let hits = logits.argmax(candle_core::D::Minus1)?.eq(labels)?;
    let share = hits
        .to_dtype(candle_core::DType::F32)?
        .mean_all()?
        .to_scalar::<f32>()?;
    Ok(f64::from(share))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts_the_rows_whose_top_logit_is_the_label() {
        let dev = candle_core::Device::Cpu;
        let logits = candle_core::Tensor::new(
            &[
                [0.1f32, 2.0, 0.3],
                [1.0, 0.0, -1.0],
                [0.0, 0.5, 0.4],
                [3.0, 1.0, 4.0],
            ],
            &dev,
        )
        .unwrap();
        // Top logits at 1, 0, 1, 2; the labels agree in rows 0, 1 and 3.
        let labels = candle_core::Tensor::new(&[1u32, 0, 2, 2], &dev).unwrap();
        assert_eq!(accuracy(&logits, &labels).unwrap(), 0.75);
        assert!(
            accuracy(
                &logits,
                &candle_core::Tensor::new(&[1u32, 0], &dev).unwrap()
            )
            .is_err()
        );
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("wb-train-{}-{name}", std::process::id()))
    }

    #[test]
    fn lines_are_plain_json_and_read_back() {
        let p = temp_path("log.jsonl");
        let mut log = MetricsLog::create(&p).unwrap();
        log.log(0, 0, &[("loss", 2.5), ("lr", 0.001)]).unwrap();
        drop(log);
        let mut log = MetricsLog::append(&p).unwrap();
        log.log(10, 1, &[("loss", 1.25)]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "{\"step\":0,\"epoch\":0,\"loss\":2.5,\"lr\":0.001}\n{\"step\":10,\"epoch\":1,\"loss\":1.25}\n"
        );
        let recs = read_metrics(&p).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].values["loss"], 1.25);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn nan_reserved_names_and_bad_lines_are_errors() {
        let p = temp_path("bad.jsonl");
        let mut log = MetricsLog::create(&p).unwrap();
        let e = log
            .log(0, 0, &[("loss", f64::NAN)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("loss"), "{e}");
        let e = log.log(0, 0, &[("step", 1.0)]).unwrap_err().to_string();
        assert!(e.contains("reserved"), "{e}");
        std::fs::write(&p, "{\"step\":0,\"epoch\":0}\nnot json\n").unwrap();
        let e = read_metrics(&p).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        std::fs::remove_file(&p).unwrap();
    }
}
