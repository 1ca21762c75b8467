//! Experiment tracking, minimal: a run is a folder with its `config.json` and the training
//! loop's `metrics.jsonl`; reading them back compares runs. (Week 26 builds a real tracker on
//! an embedded database; the metrics log stays the same.)

use std::path::Path;

use wb_core::MlError;
use wb_train::read_metrics;

use crate::Result;
use crate::mlp::RunConfig;

/// What one run achieved, read back from its files.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub config: RunConfig,
    /// Validation accuracy after each epoch, from the log.
    pub valid_accuracy: Vec<f64>,
    pub best: f64,
    /// 0-based epoch of the best validation accuracy.
    pub best_epoch: usize,
    /// The training loss after each epoch.
    pub train_loss: Vec<f64>,
}

/// Reads one run folder. A missing or malformed file is an error naming it.
pub fn read_run(dir: &Path) -> Result<RunSummary> {
    let cfg_path = dir.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| MlError::InvalidArgument {
        arg: "run".to_string(),
        detail: format!("cannot read {}: {e}", cfg_path.display()),
    })?;
    let config: RunConfig = serde_json::from_str(&text).map_err(|e| MlError::InvalidArgument {
        arg: "run".to_string(),
        detail: format!("{} is not a run config: {e}", cfg_path.display()),
    })?;
    let log = read_metrics(&dir.join("metrics.jsonl"))?;
    let epochs: Vec<_> = log
        .iter()
        .filter(|r| r.values.contains_key("valid_accuracy"))
        .collect();
    let valid_accuracy: Vec<f64> = epochs.iter().map(|r| r.values["valid_accuracy"]).collect();
    let train_loss: Vec<f64> = epochs
        .iter()
        .map(|r| r.values.get("train_loss").copied().unwrap_or(f64::NAN))
        .collect();
    let (best_epoch, best) =
        valid_accuracy
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |b, (i, v)| if v > b.1 { (i, v) } else { b },
            );
    if valid_accuracy.is_empty() {
        return Err(MlError::Empty {
            arg: "run".to_string(),
            detail: format!("{} logged no finished epoch", dir.display()),
        }
        .into());
    }
    Ok(RunSummary {
        config,
        valid_accuracy,
        best,
        best_epoch,
        train_loss,
    })
}

/// Every run folder under `root` (those with a config.json), best validation accuracy first.
pub fn compare_runs(root: &Path) -> Result<Vec<RunSummary>> {
    let entries = std::fs::read_dir(root).map_err(|e| MlError::InvalidArgument {
        arg: "root".to_string(),
        detail: format!("cannot list {}: {e}", root.display()),
    })?;
    let mut dirs: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("config.json").is_file())
        .collect();
    dirs.sort();
    let mut runs = dirs
        .iter()
        .map(|d| read_run(d))
        .collect::<Result<Vec<_>>>()?;
    runs.sort_by(|a, b| b.best.total_cmp(&a.best));
    Ok(runs)
}
