//! The lab's data: a numeric CSV, its target column, and the train/test split.

use crate::Args;
use anyhow::{Result, bail};
use ndarray::{Array1, Array2, Axis};
use std::path::PathBuf;

/// The rows of `--data` split for training and testing (no test rows with `--test-fraction 0`).
pub struct Data {
    pub path: PathBuf,
    /// The feature columns' names.
    pub names: Vec<String>,
    pub n_rows: usize,
    pub x_train: Array2<f64>,
    pub y_train: Array1<f64>,
    pub x_test: Array2<f64>,
    pub y_test: Array1<f64>,
}

/// Reads `--data` (diabetes by default) and splits it; refuses a split that leaves fewer training
/// rows than features, or fewer than two test rows.
pub fn load(args: &Args) -> Result<Data> {
    if !(0.0..1.0).contains(&args.test_fraction) {
        bail!(
            "--test-fraction must be in [0, 1), got {}",
            args.test_fraction
        );
    }
    let path = match &args.data {
        Some(p) => p.clone(),
        None => wb_data::dataset("tabular/diabetes.csv")?,
    };
    let table = wb_data::read_numeric_csv(&path)?;
    let (x, y, names) = table.split_target(&args.target)?;
    let (train, test) = wb_data::train_test_indices(x.nrows(), args.test_fraction, args.seed);
    if train.len() <= names.len() {
        bail!(
            "only {} training rows for {} features: a linear model needs more rows than features",
            train.len(),
            names.len()
        );
    }
    if args.test_fraction > 0.0 && test.len() < 2 {
        bail!(
            "--test-fraction {} leaves {} test rows; at least 2 are needed",
            args.test_fraction,
            test.len()
        );
    }
    Ok(Data {
        path,
        names,
        n_rows: x.nrows(),
        x_train: x.select(Axis(0), &train),
        y_train: y.select(Axis(0), &train),
        x_test: x.select(Axis(0), &test),
        y_test: y.select(Axis(0), &test),
    })
}
