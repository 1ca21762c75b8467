//! The training pipeline's steps, each a command the workflow calls: train a candidate as a
//! tracked run (week 26's store), measure the noise of the metric by retraining the production
//! configuration under several seeds, and gate the candidate against the registry's production
//! model on the same validation rows.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::path::Path;
use wb_core::{MlError, Result};
use wb_data::SplitMix64;
use week26_tracking_registry::sweep::{self, Config, Data, Model};
use week26_tracking_registry::{TrackError, Tracker};

/// The registered model's name.
pub const MODEL: &str = "cancer-classifier";
/// The experiment the pipeline's runs go to.
pub const EXPERIMENT: &str = "week28-pipeline";
/// The split of the data every step uses (validation rows fixed across runs).
pub const SPLIT_SEED: u64 = 26;

/// The production configuration (week 26's best run).
pub fn production_config(seed: u64) -> Config {
    Config {
        lr: 0.1,
        l2: 0.0,
        epochs: 30,
        batch: 32,
        seed,
    }
}

fn track(e: TrackError) -> MlError {
    MlError::InvalidArgument {
        arg: "store".into(),
        detail: e.to_string(),
    }
}

/// The data, with `label_noise` of the training labels flipped (a planted bug: a join that
/// mislabels rows), seeded.
pub fn data(label_noise: f64, seed: u64) -> Result<Data> {
    if !(0.0..=1.0).contains(&label_noise) {
        return Err(MlError::InvalidArgument {
            arg: "label_noise".into(),
            detail: format!("a share from 0 to 1, got {label_noise}"),
        });
    }
    let mut d = sweep::load(SPLIT_SEED).map_err(track)?;
    let mut rng = SplitMix64::new(seed ^ 0xbad);
    for y in d.train_y.iter_mut() {
        if rng.next_f64() < label_noise {
            *y = 1.0 - *y;
        }
    }
    Ok(d)
}

/// A candidate: its run and its validation metrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Candidate {
    pub run: String,
    pub valid_loss: f64,
    pub valid_accuracy: f64,
}

/// Trains `cfg` on `data` as a tracked run and scores it.
pub fn train(tracker: &mut Tracker, data: &Data, cfg: Config) -> Result<Candidate> {
    let run = sweep::train_run(tracker, EXPERIMENT, data, cfg, None).map_err(track)?;
    let model = load_model(tracker, &run)?;
    let clean = sweep::load(SPLIT_SEED).map_err(track)?;
    let (valid_loss, valid_accuracy) = model.score(&clean.valid_x, &clean.valid_y);
    Ok(Candidate {
        run,
        valid_loss,
        valid_accuracy,
    })
}

/// The model a run saved.
pub fn load_model(tracker: &Tracker, run: &str) -> Result<Model> {
    let bytes = tracker.read_artifact(run, "model.json").map_err(track)?;
    serde_json::from_slice(&bytes).map_err(|e| MlError::InvalidArgument {
        arg: format!("run {run}"),
        detail: format!("model.json is not a model: {e}"),
    })
}

/// The noise of the metric: the production configuration retrained under `seeds`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Noise {
    pub losses: Vec<f64>,
    pub mean: f64,
    pub sd: f64,
    /// The regression the gate tolerates: the one-sided 99.9 % prediction bound of the
    /// difference of two honest runs, t(0.999, n − 1)·√2·sd, and never less than the largest gap
    /// seen between two of the runs.
    pub threshold: f64,
}

// ANCHOR: noise
/// The gate's threshold from repeated runs: the validation losses of retrains that differ only
/// in their seed. Two honest runs differ by √2·σ; with σ estimated by the sample sd of n runs,
/// the difference over √2·sd follows Student's t with n − 1 degrees of freedom, so
/// t(0.999, n − 1)·√2·sd fails 0.1 % of honest retrains (if losses are normal). The largest
/// observed gap is a floor.
pub fn noise(losses: &[f64]) -> Result<Noise> {
    if losses.len() < 3 {
        return Err(MlError::InvalidArgument {
            arg: "losses".into(),
            detail: format!(
                "needs at least 3 runs to estimate the noise, got {}",
                losses.len()
            ),
        });
    }
    // BEGIN SOLUTION noise
    let n = losses.len() as f64;
    let mean = losses.iter().sum::<f64>() / n;
    let sd = (losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let max = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let t = StudentsT::new(0.0, 1.0, n - 1.0)
        .map_err(|e| MlError::InvalidArgument {
            arg: "losses".into(),
            detail: e.to_string(),
        })?
        .inverse_cdf(0.999);
    let threshold = (t * std::f64::consts::SQRT_2 * sd).max(max - min);
    Ok(Noise {
        losses: losses.to_vec(),
        mean,
        sd,
        threshold,
    })
    // END SOLUTION
}
// ANCHOR_END: noise

/// The gate's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gate {
    pub production_version: i64,
    pub production_loss: f64,
    pub candidate_loss: f64,
    pub threshold: f64,
    pub passed: bool,
}

// ANCHOR: gate
/// Gates `candidate` against the production model (re-scored on the same validation rows): it
/// fails when its loss is worse by more than the noise threshold.
pub fn gate(tracker: &Tracker, candidate: &Candidate, noise: &Noise) -> Result<Gate> {
    let production = tracker.resolve(MODEL, "production").map_err(track)?;
    let model = load_model(tracker, &production.run_id)?;
    let clean = sweep::load(SPLIT_SEED).map_err(track)?;
    let (production_loss, _) = model.score(&clean.valid_x, &clean.valid_y);
    Ok(Gate {
        production_version: production.version,
        production_loss,
        candidate_loss: candidate.valid_loss,
        threshold: noise.threshold,
        passed: passes(candidate.valid_loss, production_loss, noise.threshold),
    })
}

/// The gate's rule: lower loss is better; a candidate passes while it is worse than production
/// by at most `threshold` (an improvement always passes).
pub fn passes(candidate_loss: f64, production_loss: f64, threshold: f64) -> bool {
    // BEGIN SOLUTION gate
    candidate_loss - production_loss <= threshold
    // END SOLUTION
}
// ANCHOR_END: gate

/// Registers a passed candidate as the next version and stages it; returns the version.
pub fn register(tracker: &mut Tracker, candidate: &Candidate) -> Result<i64> {
    let v = tracker
        .register(MODEL, &candidate.run, "model.json")
        .map_err(track)?;
    tracker
        .set_alias(MODEL, "staging", v, "passed the gate")
        .map_err(track)?;
    Ok(v)
}

/// Makes the first production model if the store has none (the pipeline's bootstrap).
pub fn bootstrap(tracker: &mut Tracker) -> Result<i64> {
    if let Ok(v) = tracker.resolve(MODEL, "production") {
        return Ok(v.version);
    }
    let c = train(tracker, &data(0.0, 0)?, production_config(0))?;
    let v = register(tracker, &c)?;
    tracker
        .promote(MODEL, v, "bootstrap: the first production model")
        .map_err(track)?;
    Ok(v)
}

/// Reads a JSON file a previous step wrote.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| MlError::InvalidArgument {
        arg: path.display().to_string(),
        detail: format!("cannot read it ({e}): did the step that writes it run?"),
    })?;
    serde_json::from_str(&text).map_err(|e| MlError::InvalidArgument {
        arg: path.display().to_string(),
        detail: format!("not what the pipeline wrote: {e}"),
    })
}

/// Writes a JSON file for the next step.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| MlError::InvalidArgument {
        arg: path.display().to_string(),
        detail: e.to_string(),
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| MlError::InvalidArgument {
            arg: dir.display().to_string(),
            detail: e.to_string(),
        })?;
    }
    std::fs::write(path, text).map_err(|e| MlError::InvalidArgument {
        arg: path.display().to_string(),
        detail: e.to_string(),
    })
}
