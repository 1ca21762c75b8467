//! The training loop that ties the parts together, for any candle model.
//!
//! A lab describes its problem as a [`Task`] (the loss of a batch, and an evaluation after each
//! epoch); [`fit`] does the rest: seeded batches, the learning rate of each step, backward,
//! gradient clipping, the optimiser step, a progress bar, the metrics log, early stopping and
//! checkpoints that resume bit for bit.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::Tensor;
use candle_nn::Optimizer;
use wb_core::MlError;
use wb_data::SplitMix64;

use crate::adamw::ResumableAdamW;
use crate::checkpoint::{self, RunState};
use crate::clip::clip_grads;
use crate::early_stop::{EarlyStopping, Goal, StopDecision};
use crate::error::TrainResult;
use crate::loader::BatchLoader;
use crate::metrics::MetricsLog;
use crate::schedule::LrSchedule;
use crate::vars::NamedVars;

/// What a lab provides to [`fit`].
pub trait Task {
    /// The mean loss of the training rows `batch` (indices into the training set), as a scalar
    /// tensor built from the model's variables. `rng` is the run's generator (augmentation,
    /// dropout); it is saved in checkpoints, so draw from it and from nothing else.
    fn train_loss(&mut self, batch: &[usize], rng: &mut SplitMix64) -> candle_core::Result<Tensor>;

    /// Metrics after an epoch, e.g. `[("val_accuracy", 0.97)]`. The first one is the metric
    /// early stopping watches. Return an empty list to evaluate nothing.
    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>>;
}

/// How to train. [`FitConfig::new`] gives the defaults: no clipping, no early stopping, no
/// checkpoints, no log, no progress bar.
#[derive(Debug, Clone)]
pub struct FitConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Seeds the loader's order and the run's generator.
    pub seed: u64,
    pub schedule: LrSchedule,
    /// Clip the gradients' global norm to this value before each step.
    pub clip_norm: Option<f64>,
    /// Stop when the first evaluation metric has not improved for `patience` epochs.
    pub early_stopping: Option<(Goal, usize, f64)>,
    /// Save a checkpoint here after each epoch (and every `checkpoint_every` steps).
    pub checkpoint_dir: Option<PathBuf>,
    pub checkpoint_every: Option<u64>,
    /// Continue from the checkpoint in `checkpoint_dir` if there is one.
    pub resume: bool,
    /// Append one JSON line per `log_every` steps and one per epoch.
    pub metrics_path: Option<PathBuf>,
    pub log_every: u64,
    pub progress: bool,
    /// Stop after this many steps in total (after saving a checkpoint): an interruption on
    /// purpose, to show that resuming continues the same run.
    pub stop_after_steps: Option<u64>,
}

impl FitConfig {
    pub fn new(epochs: usize, batch_size: usize, schedule: LrSchedule) -> Self {
        Self {
            epochs,
            batch_size,
            seed: 0,
            schedule,
            clip_norm: None,
            early_stopping: None,
            checkpoint_dir: None,
            checkpoint_every: None,
            resume: false,
            metrics_path: None,
            log_every: 50,
            progress: false,
            stop_after_steps: None,
        }
    }
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochSummary {
    pub epoch: usize,
    pub train_loss: f64,
    pub metrics: Vec<(String, f64)>,
    /// The learning rate of the epoch's last step.
    pub last_lr: f64,
}

/// What a call to [`fit`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    /// Optimiser steps in total, including those before a resume.
    pub steps: u64,
    /// The epochs finished by this call.
    pub epochs: Vec<EpochSummary>,
    /// The monitored metric after every finished epoch of the run, resumed ones included.
    pub history: Vec<f64>,
    pub stopped_early: bool,
    /// True when `stop_after_steps` ended the call.
    pub interrupted: bool,
    /// The step a checkpoint resumed from.
    pub resumed_at_step: Option<u64>,
    pub seconds: f64,
}

/// Trains `vars` (the model's variables, as [`crate::named_vars`] lists them) with `opt`
/// (built on the same variables in the same order) on `n_train` rows.
pub fn fit<T: Task>(
    task: &mut T,
    vars: &NamedVars,
    opt: &mut ResumableAdamW,
    n_train: usize,
    cfg: &FitConfig,
) -> TrainResult<FitReport> {
    let start = Instant::now();
    if cfg.epochs == 0 {
        return Err(MlError::InvalidArgument {
            arg: "epochs".to_string(),
            detail: "expected at least 1, got 0".to_string(),
        }
        .into());
    }
    if cfg.resume && cfg.checkpoint_dir.is_none() {
        return Err(MlError::InvalidArgument {
            arg: "resume".to_string(),
            detail: "resuming needs checkpoint_dir".to_string(),
        }
        .into());
    }
    let loader = BatchLoader::new(n_train, cfg.batch_size, true, false, cfg.seed)?;
    let per_epoch = loader.batches_per_epoch() as u64;
    let mut run = RunState {
        step: 0,
        epoch: 0,
        batch_in_epoch: 0,
        loader_seed: cfg.seed,
        rng_state: cfg.seed ^ 0x5eed_0fa1_10f1_ab5e,
        epoch_loss_sum: 0.0,
        epoch_loss_count: 0,
        history: Vec::new(),
    };
    let mut resumed_at_step = None;
    if let Some(dir) = cfg
        .checkpoint_dir
        .as_deref()
        .filter(|d| cfg.resume && checkpoint::exists(d))
    {
        run = checkpoint::load(dir, vars, opt)?;
        if run.loader_seed != cfg.seed {
            return Err(MlError::InvalidArgument {
                arg: "seed".to_string(),
                detail: format!(
                    "the checkpoint was trained with seed {}, this run asks for {}",
                    run.loader_seed, cfg.seed
                ),
            }
            .into());
        }
        resumed_at_step = Some(run.step);
    }
    let mut early = match cfg.early_stopping {
        Some((goal, patience, min_delta)) => {
            let mut e = EarlyStopping::new(goal, patience, min_delta)?;
            for &v in &run.history {
                e.update(v)?;
            }
            Some(e)
        }
        None => None,
    };
    let mut log = match &cfg.metrics_path {
        Some(p) if resumed_at_step.is_some() => Some(MetricsLog::append(p)?),
        Some(p) => Some(MetricsLog::create(p)?),
        None => None,
    };
    let bar = if cfg.progress {
        indicatif::ProgressBar::new(cfg.epochs as u64 * per_epoch)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} steps {elapsed}, {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_prefix("training");
    bar.set_position(run.step);
    let mut rng = SplitMix64::new(run.rng_state);
    let mut report = FitReport {
        steps: run.step,
        epochs: Vec::new(),
        history: Vec::new(),
        stopped_early: false,
        interrupted: false,
        resumed_at_step,
        seconds: 0.0,
    };
    let mut lr = cfg.schedule.lr_at(run.step as usize);
    'epochs: while (run.epoch as usize) < cfg.epochs {
        let batches = loader.epoch(run.epoch as usize);
        for batch in &batches[run.batch_in_epoch as usize..] {
            lr = cfg.schedule.lr_at(run.step as usize);
            opt.set_learning_rate(lr);
            let loss = task.train_loss(batch, &mut rng)?;
            let value = f64::from(loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?);
            if !value.is_finite() {
                return Err(MlError::Diverged(format!(
                    "the training loss is {value} at step {} (epoch {}): lower the learning rate or clip the gradients",
                    run.step, run.epoch
                ))
                .into());
            }
            let mut grads = loss.backward()?;
            let grad_norm = match cfg.clip_norm {
                Some(max) => Some(clip_grads(&mut grads, vars, max)?),
                None => None,
            };
            opt.step(&grads)?;
            run.step += 1;
            run.batch_in_epoch += 1;
            run.epoch_loss_sum += value;
            run.epoch_loss_count += 1;
            run.rng_state = rng.state();
            if let Some(log) = log
                .as_mut()
                .filter(|_| run.step.is_multiple_of(cfg.log_every.max(1)))
            {
                let mut values = vec![("loss", value), ("lr", lr)];
                if let Some(n) = grad_norm {
                    values.push(("grad_norm", n));
                }
                log.log(run.step, run.epoch, &values)?;
            }
            bar.inc(1);
            bar.set_message(format!("epoch {} loss {value:.4}", run.epoch + 1));
            let every = cfg
                .checkpoint_every
                .is_some_and(|n| n > 0 && run.step.is_multiple_of(n));
            let stop_here = cfg.stop_after_steps == Some(run.step);
            if let Some(dir) = cfg.checkpoint_dir.as_deref().filter(|_| every || stop_here) {
                checkpoint::save(dir, vars, opt, &run)?;
            }
            if stop_here {
                report.interrupted = true;
                break 'epochs;
            }
        }
        let metrics = task.evaluate()?;
        let train_loss = run.epoch_loss_sum / run.epoch_loss_count.max(1) as f64;
        if let Some(log) = log.as_mut() {
            let mut values: Vec<(&str, f64)> = vec![("train_loss", train_loss)];
            values.extend(metrics.iter().map(|(k, v)| (k.as_str(), *v)));
            log.log(run.step, run.epoch, &values)?;
        }
        let decision = match (early.as_mut(), metrics.first()) {
            (Some(e), Some((_, v))) => Some(e.update(*v)?),
            _ => None,
        };
        if let Some((_, v)) = metrics.first() {
            run.history.push(*v);
        }
        report.epochs.push(EpochSummary {
            epoch: run.epoch as usize,
            train_loss,
            metrics,
            last_lr: lr,
        });
        run.epoch += 1;
        run.batch_in_epoch = 0;
        run.epoch_loss_sum = 0.0;
        run.epoch_loss_count = 0;
        if let Some(dir) = cfg.checkpoint_dir.as_deref() {
            checkpoint::save(dir, vars, opt, &run)?;
        }
        if decision == Some(StopDecision::Stop) {
            report.stopped_early = true;
            break;
        }
    }
    bar.finish_and_clear();
    report.steps = run.step;
    report.history = run.history;
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}
