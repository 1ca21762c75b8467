//! Checkpoints that resume a run exactly: weights, optimiser moments, step, loader position and
//! random-generator state.
//!
//! A checkpoint is a folder with two files:
//! - `tensors.safetensors`: every weight under `model/<name>`, and AdamW's first and second
//!   moments under `adamw.m/<name>` and `adamw.v/<name>` (safetensors: the format Hugging Face
//!   uses, readable from Python with `safetensors.torch.load_file`);
//! - `state.json`: the step counts, the loader's position, the generator's state, the history of
//!   evaluations (so early stopping resumes with its memory), the names and shapes of the
//!   tensors, and the SHA-256 of the tensors file.
//!
//! Loading checks everything before it changes anything: a corrupt file, a missing or extra
//! tensor, or a shape that differs from the model's is an error naming it, and the model and
//! optimiser are left as they were (never half a model).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::adamw::{AdamWState, ResumableAdamW};
use crate::error::{TrainError, TrainResult};
use crate::vars::NamedVars;

/// The format tag written into `state.json`; a checkpoint with another tag is refused.
pub const FORMAT: &str = "wb-train-checkpoint/1";
const TENSORS: &str = "tensors.safetensors";
const STATE: &str = "state.json";

/// Where a run stands, besides its tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Optimiser steps taken so far.
    pub step: u64,
    /// The epoch in progress (0-based) and how many of its batches are done.
    pub epoch: u64,
    pub batch_in_epoch: u64,
    /// The seed of the data loader (its order depends only on the seed and the epoch).
    pub loader_seed: u64,
    /// The state of the run's random generator (augmentation, dropout, sampling).
    pub rng_state: u64,
    /// Sum and count of the training losses of the epoch in progress (its mean is reported).
    pub epoch_loss_sum: f64,
    pub epoch_loss_count: u64,
    /// The monitored validation metric after each finished epoch.
    pub history: Vec<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    format: String,
    run: RunState,
    adamw_step: usize,
    /// Tensor name → shape, for a readable refusal of a mismatched model.
    shapes: BTreeMap<String, Vec<usize>>,
    tensors_sha256: String,
}

fn io(path: &Path, what: &str, e: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        detail: format!("cannot {what}: {e}"),
    }
}

fn bad(path: &Path, detail: String) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        detail,
    }
}

/// Whether `dir` holds a checkpoint (both files present).
pub fn exists(dir: &Path) -> bool {
    dir.join(TENSORS).is_file() && dir.join(STATE).is_file()
}

/// Writes a checkpoint of `vars` and `opt` (built on the same `vars`, in the same order) into
/// `dir`, creating it. Each file is written to a temporary name and renamed, so a run killed
/// mid-write leaves the previous checkpoint intact.
pub fn save(dir: &Path, vars: &NamedVars, opt: &ResumableAdamW, run: &RunState) -> TrainResult<()> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, "create the folder", e))?;
    let state = opt.state()?;
    if state.moments.len() != vars.len() {
        return Err(bad(
            dir,
            format!(
                "the optimiser holds {} variables and the model {}: build the optimiser from the same named_vars",
                state.moments.len(),
                vars.len()
            ),
        ));
    }
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let mut shapes = BTreeMap::new();
    for ((name, var), (m, v)) in vars.iter().zip(&state.moments) {
        tensors.insert(format!("model/{name}"), var.as_tensor().clone());
        tensors.insert(format!("adamw.m/{name}"), m.clone());
        tensors.insert(format!("adamw.v/{name}"), v.clone());
        shapes.insert(name.clone(), var.dims().to_vec());
    }
    let tmp = dir.join(format!("{TENSORS}.tmp"));
    candle_core::safetensors::save(&tensors, &tmp)?;
    let sha = wb_data::sha256_file(&tmp).map_err(|e| io(&tmp, "hash", e))?;
    let file = StateFile {
        format: FORMAT.to_string(),
        run: run.clone(),
        adamw_step: state.step_t,
        shapes,
        tensors_sha256: sha,
    };
    let json = serde_json::to_string_pretty(&file).map_err(|e| io(dir, "encode state.json", e))?;
    let tmp_state = dir.join(format!("{STATE}.tmp"));
    std::fs::write(&tmp_state, json).map_err(|e| io(&tmp_state, "write", e))?;
    std::fs::rename(&tmp, dir.join(TENSORS)).map_err(|e| io(&tmp, "rename", e))?;
    std::fs::rename(&tmp_state, dir.join(STATE)).map_err(|e| io(&tmp_state, "rename", e))?;
    Ok(())
}

/// Reads a checkpoint into `vars` and `opt` and returns the run's state. Everything is checked
/// first (format, hash, every tensor's presence and shape); on any error nothing was changed.
pub fn load(dir: &Path, vars: &NamedVars, opt: &mut ResumableAdamW) -> TrainResult<RunState> {
    let state_path = dir.join(STATE);
    let tensors_path = dir.join(TENSORS);
    let text = std::fs::read_to_string(&state_path).map_err(|e| io(&state_path, "read", e))?;
    let file: StateFile = serde_json::from_str(&text)
        .map_err(|e| bad(&state_path, format!("not a checkpoint state file: {e}")))?;
    if file.format != FORMAT {
        return Err(bad(
            &state_path,
            format!("format `{}`, expected `{FORMAT}`", file.format),
        ));
    }
    let sha = wb_data::sha256_file(&tensors_path).map_err(|e| io(&tensors_path, "hash", e))?;
    if sha != file.tensors_sha256 {
        return Err(bad(
            &tensors_path,
            format!(
                "SHA-256 {sha} differs from the {} recorded in state.json: the file is corrupt or from another checkpoint",
                file.tensors_sha256
            ),
        ));
    }
    let device = vars
        .first()
        .map(|(_, v)| v.device().clone())
        .unwrap_or(Device::Cpu);
    let mut tensors = candle_core::safetensors::load(&tensors_path, &device)
        .map_err(|e| bad(&tensors_path, format!("cannot read the tensors: {e}")))?;
    let model_names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    let saved_names: Vec<&str> = file.shapes.keys().map(String::as_str).collect();
    let missing: Vec<&&str> = model_names
        .iter()
        .filter(|n| !file.shapes.contains_key(**n))
        .collect();
    let extra: Vec<&&str> = saved_names
        .iter()
        .filter(|n| !model_names.contains(n))
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(bad(
            dir,
            format!(
                "the checkpoint does not fit this model: missing {missing:?}, not in the model {extra:?}"
            ),
        ));
    }
    let mut weights = Vec::with_capacity(vars.len());
    let mut moments = Vec::with_capacity(vars.len());
    for (name, var) in vars {
        let mut take = |prefix: &str| -> TrainResult<Tensor> {
            let key = format!("{prefix}/{name}");
            let t = tensors
                .remove(&key)
                .ok_or_else(|| bad(&tensors_path, format!("tensor `{key}` is missing")))?;
            if t.dims() != var.dims() || t.dtype() != var.dtype() {
                return Err(bad(
                    &tensors_path,
                    format!(
                        "tensor `{key}` has shape {:?} ({:?}), the model's `{name}` is {:?} ({:?})",
                        t.dims(),
                        t.dtype(),
                        var.dims(),
                        var.dtype()
                    ),
                ));
            }
            Ok(t)
        };
        weights.push(take("model")?);
        moments.push((take("adamw.m")?, take("adamw.v")?));
    }
    // Every check has passed: now change the model and the optimiser.
    opt.load_state(&AdamWState {
        step_t: file.adamw_step,
        moments,
    })?;
    for ((_, var), w) in vars.iter().zip(&weights) {
        var.set(w)?;
    }
    Ok(file.run)
}

/// The folder's two file paths, for messages and tests.
pub fn files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join(TENSORS), dir.join(STATE))
}
