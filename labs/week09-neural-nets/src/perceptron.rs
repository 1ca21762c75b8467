//! The perceptron (Rosenblatt, 1958): one neuron, a step activation, and a learning rule that
//! nudges the weights towards every misclassified example.

use ndarray::{Array1, ArrayView2};
use wb_core::{MlError, Result, check_data, check_len};

/// A fitted perceptron and how its training went.
#[derive(Debug, Clone, PartialEq)]
pub struct Perceptron {
    /// weights: [n_features]
    pub weights: Array1<f64>,
    pub bias: f64,
    /// Passes over the data made.
    pub epochs: usize,
    /// True when a whole pass made no mistake (the data was separated).
    pub converged: bool,
    /// Mistakes in each pass.
    pub mistakes: Vec<usize>,
}

// ANCHOR: perceptron
/// Trains on labels 0/1 with the perceptron rule: for each example in order, predict
/// `w·x + b > 0`; if wrong, `w += lr·(y − ŷ)·x` and `b += lr·(y − ŷ)` (with y, ŷ in {−1, +1}
/// that is ±lr·x). Stops after a pass with no mistake, or after `max_epochs`. On linearly
/// separable data it always stops (Novikoff's theorem); on XOR it never can.
///
/// x: [n, d], y: [n] of 0/1
pub fn train_perceptron(
    x: ArrayView2<f64>,
    y: &[usize],
    learning_rate: f64,
    max_epochs: usize,
) -> Result<Perceptron> {
    check_data("x", &x)?;
    check_len("y", y.len(), x.nrows(), "one label per row of x")?;
    wb_core::check_positive("learning_rate", learning_rate)?;
    if let Some(&bad) = y.iter().find(|&&c| c > 1) {
        return Err(MlError::InvalidArgument {
            arg: "y".into(),
            detail: format!("labels must be 0 or 1, got {bad}"),
        });
    }
    // BEGIN SOLUTION perceptron
    let mut w = Array1::zeros(x.ncols());
    let mut b = 0.0;
    let mut mistakes = Vec::new();
    for _ in 0..max_epochs {
        let mut wrong = 0;
        for (row, &label) in x.rows().into_iter().zip(y) {
            let target = if label == 1 { 1.0 } else { -1.0 };
            let predicted = if row.dot(&w) + b > 0.0 { 1.0 } else { -1.0 };
            if predicted != target {
                w.scaled_add(learning_rate * target, &row);
                b += learning_rate * target;
                wrong += 1;
            }
        }
        mistakes.push(wrong);
        if wrong == 0 {
            break;
        }
    }
    let converged = mistakes.last() == Some(&0);
    Ok(Perceptron {
        weights: w,
        bias: b,
        epochs: mistakes.len(),
        converged,
        mistakes,
    })
    // END SOLUTION
}
// ANCHOR_END: perceptron

impl Perceptron {
    /// x: [n, d] → labels 0/1
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<usize>> {
        check_data("x", &x)?;
        check_len(
            "x (columns)",
            x.ncols(),
            self.weights.len(),
            "one column per weight",
        )?;
        Ok(x.rows()
            .into_iter()
            .map(|r| usize::from(r.dot(&self.weights) + self.bias > 0.0))
            .collect())
    }
}
