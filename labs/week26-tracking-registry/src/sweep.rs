//! A small hyperparameter sweep to track: logistic regression by mini-batch gradient descent on
//! the breast-cancer data, one run per (learning rate, L2) pair, logging its losses and accuracy
//! after every epoch, and saving its weights as the run's model artifact.

use crate::error::{Result, TrackError};
use crate::store::{RunSpec, Tracker};
use ndarray::{Array1, Array2, ArrayView1, Axis};
use serde::{Deserialize, Serialize};
use wb_data::SplitMix64;

/// The data of the sweep, standardised on its training rows.
pub struct Data {
    pub train_x: Array2<f64>,
    pub train_y: Array1<f64>,
    pub valid_x: Array2<f64>,
    pub valid_y: Array1<f64>,
    /// SHA-256 of the CSV file, the run's data lineage.
    pub sha256: String,
}

/// Loads `tabular/breast_cancer.csv` (positive: malignant) split 70/30 by `seed`.
pub fn load(seed: u64) -> Result<Data> {
    let path =
        wb_data::dataset("tabular/breast_cancer.csv").map_err(|e| TrackError::Io(e.to_string()))?;
    let sha256 = wb_data::sha256_file(&path).map_err(|e| TrackError::Io(e.to_string()))?;
    let (table, labels) = wb_data::read_labelled_csv(&path, "diagnosis")
        .map_err(|e| TrackError::Io(e.to_string()))?;
    let y: Array1<f64> = labels
        .iter()
        .map(|l| f64::from(u8::from(l == "malignant")))
        .collect();
    let (train, valid) = wb_data::train_test_indices(y.len(), 0.3, seed);
    let (train_x, valid_x) = wb_core::lab::standardise_with_train(
        &table.data.select(Axis(0), &train),
        &table.data.select(Axis(0), &valid),
    )
    .map_err(|e| TrackError::Invalid(e.to_string()))?;
    Ok(Data {
        train_x,
        train_y: y.select(Axis(0), &train),
        valid_x,
        valid_y: y.select(Axis(0), &valid),
        sha256,
    })
}

/// A trained model: what the run saves as `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub weights: Vec<f64>,
    pub bias: f64,
}

impl Model {
    /// P(malignant) of each row.
    pub fn predict(&self, x: &Array2<f64>) -> Array1<f64> {
        (x.dot(&ArrayView1::from(&self.weights)) + self.bias).mapv(|z| 1.0 / (1.0 + (-z).exp()))
    }

    /// Mean log loss and accuracy at 0.5 on (x, y).
    pub fn score(&self, x: &Array2<f64>, y: &Array1<f64>) -> (f64, f64) {
        let p = self.predict(x);
        let n = y.len() as f64;
        let eps = 1e-12;
        let loss = p
            .iter()
            .zip(y)
            .map(|(&p, &y)| -(y * p.max(eps).ln() + (1.0 - y) * (1.0 - p).max(eps).ln()))
            .sum::<f64>()
            / n;
        let hits = p
            .iter()
            .zip(y)
            .filter(|(p, y)| (**p >= 0.5) == (**y == 1.0))
            .count();
        (loss, hits as f64 / n)
    }
}

/// One configuration of the sweep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Config {
    pub lr: f64,
    pub l2: f64,
    pub epochs: usize,
    pub batch: usize,
    pub seed: u64,
}

/// Trains one configuration as a tracked run of `experiment` (its parameters, data hash and
/// code version recorded first; `train_loss`, `valid_loss`, `valid_accuracy` logged after every
/// epoch, one transaction per epoch; `model.json` saved at the end). Returns the run's id.
pub fn train_run(
    tracker: &mut Tracker,
    experiment: &str,
    data: &Data,
    cfg: Config,
    parent: Option<&str>,
) -> Result<String> {
    let name = match parent {
        None => format!("lr={} l2={}", cfg.lr, cfg.l2),
        Some(_) => format!("lr={} l2={} retrain", cfg.lr, cfg.l2),
    };
    let params = [
        ("lr", cfg.lr.to_string()),
        ("l2", cfg.l2.to_string()),
        ("epochs", cfg.epochs.to_string()),
        ("batch", cfg.batch.to_string()),
        ("seed", cfg.seed.to_string()),
        ("model", "logistic regression".to_string()),
    ];
    let run = tracker.start_run(&RunSpec {
        experiment,
        name: &name,
        params: &params,
        parent,
        data_hash: Some(&data.sha256),
        code_version: Some(concat!(
            env!("CARGO_PKG_NAME"),
            " ",
            env!("CARGO_PKG_VERSION")
        )),
    })?;
    let (n, d) = data.train_x.dim();
    let mut model = Model {
        weights: vec![0.0; d],
        bias: 0.0,
    };
    let mut rng = SplitMix64::new(cfg.seed);
    for epoch in 0..cfg.epochs {
        let order = wb_data::shuffled_indices(n, rng.next_u64());
        for batch in order.chunks(cfg.batch.max(1)) {
            let x = data.train_x.select(Axis(0), batch);
            let y = data.train_y.select(Axis(0), batch);
            let error = model.predict(&x) - &y;
            let m = batch.len() as f64;
            let grad = x.t().dot(&error) / m;
            for (w, g) in model.weights.iter_mut().zip(grad.iter()) {
                *w -= cfg.lr * (g + cfg.l2 * *w);
            }
            model.bias -= cfg.lr * error.sum() / m;
        }
        let (train_loss, _) = model.score(&data.train_x, &data.train_y);
        let (valid_loss, valid_accuracy) = model.score(&data.valid_x, &data.valid_y);
        let step = epoch as i64 + 1;
        tracker.log_metrics(
            &run,
            &[
                ("train_loss", step, train_loss),
                ("valid_loss", step, valid_loss),
                ("valid_accuracy", step, valid_accuracy),
            ],
        )?;
    }
    let bytes = serde_json::to_vec_pretty(&model)
        .map_err(|e| TrackError::Invalid(format!("cannot encode the model: {e}")))?;
    tracker.log_artifact(&run, "model.json", &bytes)?;
    tracker.end_run(&run, false)?;
    Ok(run)
}
