//! The lab's data: a labelled CSV read as classes, its train/test split, and the accuracy of
//! predicted classes.

use anyhow::{Result, bail};
use ndarray::{Array2, Axis};
use wb_core::lab::display_path;

/// A labelled CSV: (x, class indices, class names, feature names).
type Labelled = (Array2<f64>, Vec<usize>, Vec<String>, Vec<String>);

/// Reads a labelled CSV.
pub fn load(path: &std::path::Path, label: &str) -> Result<Labelled> {
    let (t, labels) = wb_data::read_labelled_csv(path, label)?;
    let mut classes = labels.clone();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        bail!(
            "{}: column `{label}` has a single class ({:?}); a classifier needs at least two",
            display_path(path),
            classes
        );
    }
    // A column of many distinct numbers is a quantity to predict, not a set of classes.
    if classes.len() > 20 && classes.iter().all(|c| c.parse::<f64>().is_ok()) {
        bail!(
            "{}: column `{label}` holds {} distinct numbers: a continuous target, not classes. \
             Predict it with regression (week 2's lab, `--target {label}`), or bin it into a few classes first",
            display_path(path),
            classes.len()
        );
    }
    let y = labels
        .iter()
        .map(|l| classes.iter().position(|c| c == l).unwrap_or(0))
        .collect();
    Ok((t.data, y, classes, t.columns))
}

pub struct Split {
    pub xtr: Array2<f64>,
    pub xte: Array2<f64>,
    pub ytr: Vec<usize>,
    pub yte: Vec<usize>,
}

/// The rows split into training and test rows (a share `f` for testing); refused when a set is
/// empty or the training rows miss a class, which a tree could then never predict.
pub fn split(x: &Array2<f64>, y: &[usize], classes: &[String], f: f64, seed: u64) -> Result<Split> {
    let (tr, te) = wb_data::train_test_indices(x.nrows(), f, seed);
    let s = Split {
        xtr: x.select(Axis(0), &tr),
        xte: x.select(Axis(0), &te),
        ytr: tr.iter().map(|&i| y[i]).collect(),
        yte: te.iter().map(|&i| y[i]).collect(),
    };
    if s.yte.is_empty() || s.ytr.is_empty() {
        bail!(
            "{} rows split with --test-fraction {} leave {} training and {} test rows: both need some",
            x.nrows(),
            f,
            s.ytr.len(),
            s.yte.len()
        );
    }
    if let Some(missing) = (0..classes.len()).find(|c| !s.ytr.contains(c)) {
        bail!(
            "the training rows hold no example of class `{}`: a tree cannot learn it; use more data or a smaller --test-fraction",
            classes[missing]
        );
    }
    Ok(s)
}

/// The share of right answers (0 for an empty test set, which a test fraction in (0, 1) cannot
/// leave on data of two rows or more).
pub fn accuracy(predicted: &[usize], truth: &[usize]) -> f64 {
    wb_core::accuracy(truth, predicted).unwrap_or(0.0)
}
