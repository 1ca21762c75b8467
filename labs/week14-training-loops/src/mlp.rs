//! An MLP on Fashion-MNIST, trained with the whole loop: seeded batches, warm-up + cosine,
//! clipping, early stopping, checkpoints, a metrics log — and a run interrupted on purpose and
//! resumed from its checkpoint.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarMap};
use serde::{Deserialize, Serialize};
use wb_core::MlError;
use wb_data::SplitMix64;
use wb_train::{FitConfig, FitReport, Goal, LrSchedule, NamedVars, ResumableAdamW, Task};

use crate::Result;

/// Fashion-MNIST split three ways: 7,000 images train, 1,000 validate (early stopping watches
/// them), 2,000 test (the same test split as week 11).
pub struct Data {
    pub train: (Vec<f32>, Vec<u32>),
    pub valid: (Vec<f32>, Vec<u32>),
    pub test: (Vec<f32>, Vec<u32>),
}

const PIXELS: usize = 784;

/// Reads Fashion-MNIST (checked against datasets/SHA256SUMS) into the three splits.
pub fn load() -> anyhow::Result<Data> {
    let read = |name: &str| -> anyhow::Result<Vec<u8>> {
        let path = wb_data::dataset(&format!("images/fashion-mnist-{name}.gz"))?;
        let idx = wb_data::read_idx(&path)?;
        Ok(idx.data)
    };
    let images = read("images-idx3-ubyte")?;
    let labels = read("labels-idx1-ubyte")?;
    if images.len() != labels.len() * PIXELS || labels.len() != 10_000 {
        anyhow::bail!(
            "fashion-mnist: expected 10,000 images of 784 pixels, got {} labels and {} pixels",
            labels.len(),
            images.len()
        );
    }
    let px: Vec<f32> = images.iter().map(|&b| f32::from(b) / 255.0).collect();
    let ys: Vec<u32> = labels.iter().map(|&l| u32::from(l)).collect();
    let part = |a: usize, b: usize| (px[a * PIXELS..b * PIXELS].to_vec(), ys[a..b].to_vec());
    Ok(Data {
        train: part(0, 7_000),
        valid: part(7_000, 8_000),
        test: part(8_000, 10_000),
    })
}

/// A 784-256-10 MLP with ReLU (203,530 parameters).
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Mlp {
    pub fn new(varmap: &VarMap, seed: u64) -> Result<Self> {
        let vb = wb_train::init::seeded(varmap, seed, DType::F32, &Device::Cpu);
        Ok(Self {
            fc1: candle_nn::linear(PIXELS, 256, vb.pp("fc1"))?,
            fc2: candle_nn::linear(256, 10, vb.pp("fc2"))?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.fc2.forward(&self.fc1.forward(x)?.relu()?)
    }
}

fn rows(split: &(Vec<f32>, Vec<u32>), idx: &[usize]) -> candle_core::Result<(Tensor, Tensor)> {
    let mut x = Vec::with_capacity(idx.len() * PIXELS);
    let mut y = Vec::with_capacity(idx.len());
    for &i in idx {
        x.extend_from_slice(&split.0[i * PIXELS..(i + 1) * PIXELS]);
        y.push(split.1[i]);
    }
    Ok((
        Tensor::from_vec(x, (idx.len(), PIXELS), &Device::Cpu)?,
        Tensor::from_vec(y, idx.len(), &Device::Cpu)?,
    ))
}

/// Accuracy of `model` on a whole split.
pub fn accuracy(model: &Mlp, split: &(Vec<f32>, Vec<u32>)) -> candle_core::Result<f64> {
    let idx: Vec<usize> = (0..split.1.len()).collect();
    let (x, y) = rows(split, &idx)?;
    wb_train::accuracy(&model.forward(&x)?, &y)
}

struct Classify<'a> {
    model: &'a Mlp,
    data: &'a Data,
}

impl Task for Classify<'_> {
    fn train_loss(
        &mut self,
        batch: &[usize],
        _rng: &mut SplitMix64,
    ) -> candle_core::Result<Tensor> {
        let (x, y) = rows(&self.data.train, batch)?;
        candle_nn::loss::cross_entropy(&self.model.forward(&x)?, &y)
    }

    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>> {
        Ok(vec![(
            "valid_accuracy".to_string(),
            accuracy(self.model, &self.data.valid)?,
        )])
    }
}

/// One run's settings, saved beside its metrics log (experiment tracking reads both back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub name: String,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub warmup_steps: usize,
    pub clip_norm: f64,
    pub patience: usize,
    pub seed: u64,
}

impl RunConfig {
    /// The lab's default run: 12 epochs, batches of 64, AdamW at 2e-3 with 100 warm-up steps and
    /// cosine decay, clipping at 1.0, patience 3 on validation accuracy, seed 14.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            epochs: 12,
            batch_size: 64,
            lr: 2e-3,
            warmup_steps: 100,
            clip_norm: 1.0,
            patience: 3,
            seed: 14,
        }
    }
}

/// A model, its variables and an optimiser on them, freshly initialised from `cfg.seed`.
pub struct Fresh {
    pub varmap: VarMap,
    pub model: Mlp,
    pub vars: NamedVars,
    pub opt: ResumableAdamW,
}

pub fn fresh(cfg: &RunConfig) -> Result<Fresh> {
    let varmap = VarMap::new();
    let model = Mlp::new(&varmap, cfg.seed)?;
    let vars = wb_train::named_vars(&varmap);
    let opt = wb_train::adamw(&vars, cfg.lr)?;
    Ok(Fresh {
        varmap,
        model,
        vars,
        opt,
    })
}

/// The loop's settings for `cfg`, logging and checkpointing into `dir`.
pub fn fit_config(cfg: &RunConfig, n_train: usize, dir: &Path) -> Result<FitConfig> {
    let total = cfg.epochs * n_train.div_ceil(cfg.batch_size);
    let mut fit = FitConfig::new(
        cfg.epochs,
        cfg.batch_size,
        LrSchedule::warmup_cosine(cfg.lr, cfg.warmup_steps, total)?,
    );
    fit.seed = cfg.seed;
    fit.clip_norm = Some(cfg.clip_norm);
    fit.early_stopping = Some((Goal::Maximise, cfg.patience, 0.0));
    fit.checkpoint_dir = Some(dir.join("checkpoint"));
    fit.metrics_path = Some(dir.join("metrics.jsonl"));
    fit.log_every = 20;
    Ok(fit)
}

/// Trains one run in `dir` (created; its config saved as `config.json`).
pub fn train_run(
    data: &Data,
    cfg: &RunConfig,
    dir: &Path,
    progress: bool,
) -> Result<(Fresh, FitReport)> {
    std::fs::create_dir_all(dir).map_err(|e| bad_dir(dir, e))?;
    let json = serde_json::to_string_pretty(cfg).map_err(|e| bad_dir(dir, e))?;
    std::fs::write(dir.join("config.json"), json).map_err(|e| bad_dir(dir, e))?;
    let mut f = fresh(cfg)?;
    let mut fit = fit_config(cfg, data.train.1.len(), dir)?;
    fit.progress = progress;
    let mut task = Classify {
        model: &f.model,
        data,
    };
    let report = wb_train::fit(&mut task, &f.vars, &mut f.opt, data.train.1.len(), &fit)?;
    Ok((f, report))
}

fn bad_dir(dir: &Path, e: impl std::fmt::Display) -> wb_train::TrainError {
    MlError::InvalidArgument {
        arg: "dir".to_string(),
        detail: format!("{}: {e}", dir.display()),
    }
    .into()
}

// ANCHOR: resume
/// Trains `cfg` in `dir` but stops after `stop_after` optimiser steps, as a crash would; then,
/// as a new process would, builds a fresh model and optimiser and continues from the checkpoint
/// to the end. Returns the final model and the two reports (before, after the interruption).
pub fn train_interrupted(
    data: &Data,
    cfg: &RunConfig,
    dir: &Path,
    stop_after: u64,
) -> Result<(Fresh, FitReport, FitReport)> {
    let n = data.train.1.len();
    // BEGIN SOLUTION resume
    let _ = std::fs::remove_dir_all(dir.join("checkpoint"));
    let mut first = fresh(cfg)?;
    let mut fit = fit_config(cfg, n, dir)?;
    fit.stop_after_steps = Some(stop_after);
    let mut task = Classify {
        model: &first.model,
        data,
    };
    let before = wb_train::fit(&mut task, &first.vars, &mut first.opt, n, &fit)?;
    drop(first); // the "crash": nothing survives but the checkpoint on disk
    let mut second = fresh(cfg)?;
    let mut fit = fit_config(cfg, n, dir)?;
    fit.resume = true;
    let mut task = Classify {
        model: &second.model,
        data,
    };
    let after = wb_train::fit(&mut task, &second.vars, &mut second.opt, n, &fit)?;
    Ok((second, before, after))
    // END SOLUTION
}
// ANCHOR_END: resume

/// The values of every variable, in name order, for bitwise comparison.
pub fn weights(vars: &NamedVars) -> Result<Vec<Vec<f32>>> {
    vars.iter()
        .map(|(_, v)| Ok(v.as_tensor().flatten_all()?.to_vec1::<f32>()?))
        .collect()
}
