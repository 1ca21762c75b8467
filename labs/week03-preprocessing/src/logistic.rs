//! A simple model for a yes/no question: logistic regression from scratch, and the metrics that
//! say how good it is.
//!
//! The model scores each row with a linear function `z = x·w + b` and squashes the score into a
//! probability with the sigmoid `σ(z) = 1 / (1 + e^(−z))`. It is fitted by gradient descent on
//! the log-loss (binary cross-entropy), whose gradient has the same shape as linear regression's:
//! `∂L/∂w = Xᵀ(p − y)/n`.

use ndarray::{Array1, ArrayView1, ArrayView2};
use wb_core::{MlError, Result, check_data, check_len, check_positive};

fn check_binary(arg: &str, y: ArrayView1<f64>) -> Result<()> {
    check_data(arg, &y)?;
    if let Some((i, v)) = y.iter().enumerate().find(|(_, v)| **v != 0.0 && **v != 1.0) {
        return Err(MlError::InvalidArgument {
            arg: arg.into(),
            detail: format!("labels must be 0 or 1; index {i} holds {v}"),
        });
    }
    Ok(())
}

// ANCHOR: sigmoid
/// `σ(z) = 1 / (1 + e^(−z))`, computed so that it neither overflows nor loses precision for
/// large |z|: for z < 0 use the equal form `e^z / (1 + e^z)`.
pub fn sigmoid(z: f64) -> f64 {
    // BEGIN SOLUTION sigmoid
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
    // END SOLUTION
}
// ANCHOR_END: sigmoid

/// The mean log-loss `−(1/n) Σ [y log p + (1 − y) log(1 − p)]`, with p clipped to
/// [1e−15, 1 − 1e−15] so that a confident mistake costs a lot but not infinity.
///
/// y: [n] of 0/1, p: [n] probabilities
pub fn log_loss(y: ArrayView1<f64>, p: ArrayView1<f64>) -> Result<f64> {
    check_binary("y", y)?;
    check_data("p", &p)?;
    check_len("p", p.len(), y.len(), "one probability per label")?;
    let eps = 1e-15;
    let total: f64 = y
        .iter()
        .zip(p.iter())
        .map(|(&y, &p)| {
            let p = p.clamp(eps, 1.0 - eps);
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum();
    Ok(total / y.len() as f64)
}

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticModel {
    /// weights: [n_features]
    pub weights: Array1<f64>,
    pub intercept: f64,
}

impl LogisticModel {
    /// P(y = 1 | x) for each row. x: [n_samples, n_features] → [n_samples]
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        check_data("x", &x)?;
        check_len(
            "x (columns)",
            x.ncols(),
            self.weights.len(),
            "one column per weight",
        )?;
        Ok((x.dot(&self.weights) + self.intercept).mapv(sigmoid))
    }

    /// 1 where P(y = 1 | x) ≥ 0.5, else 0. x: [n_samples, n_features] → [n_samples]
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        Ok(self
            .predict_proba(x)?
            .mapv(|p| if p >= 0.5 { 1.0 } else { 0.0 }))
    }
}

// ANCHOR: fit_logistic
/// Batch gradient descent on the log-loss from all-zero parameters. Returns the model and the
/// training log-loss before each step and after the last (`iterations + 1` values).
///
/// x: [n_samples, n_features], y: [n_samples] of 0/1
pub fn fit_logistic(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    learning_rate: f64,
    iterations: usize,
) -> Result<(LogisticModel, Vec<f64>)> {
    check_data("x", &x)?;
    check_binary("y", y)?;
    check_len("y", y.len(), x.nrows(), "one label per row of x")?;
    check_positive("learning_rate", learning_rate)?;
    if y.iter().all(|&v| v == y[0]) {
        return Err(MlError::InvalidArgument {
            arg: "y".into(),
            detail: format!(
                "every label is {}: a classifier needs both classes to learn from",
                y[0]
            ),
        });
    }
    // BEGIN SOLUTION fit_logistic
    let n = x.nrows() as f64;
    let mut model = LogisticModel {
        weights: Array1::zeros(x.ncols()),
        intercept: 0.0,
    };
    let mut losses = Vec::with_capacity(iterations + 1);
    for _ in 0..iterations {
        let p = model.predict_proba(x)?;
        losses.push(log_loss(y, p.view())?);
        let r = &p - &y; // [n_samples]
        model.weights.scaled_add(-learning_rate / n, &x.t().dot(&r));
        model.intercept -= learning_rate * r.sum() / n;
    }
    losses.push(log_loss(y, model.predict_proba(x)?.view())?);
    Ok((model, losses))
    // END SOLUTION
}
// ANCHOR_END: fit_logistic

/// Counts and rates of a binary classifier's decisions (1 = positive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryMetrics {
    pub true_positives: usize,
    pub false_positives: usize,
    pub true_negatives: usize,
    pub false_negatives: usize,
    /// (TP + TN) / n: the share of right answers
    pub accuracy: f64,
    /// TP / (TP + FP): of the rows called positive, the share that are (0 when none is called)
    pub precision: f64,
    /// TP / (TP + FN): of the positive rows, the share found (0 when there are none)
    pub recall: f64,
}

// ANCHOR: metrics
/// Accuracy, precision and recall of `y_pred` against `y_true`, both of 0/1.
///
/// y_true: [n], y_pred: [n]
pub fn binary_metrics(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<BinaryMetrics> {
    check_binary("y_true", y_true)?;
    check_binary("y_pred", y_pred)?;
    check_len(
        "y_pred",
        y_pred.len(),
        y_true.len(),
        "one prediction per label",
    )?;
    // BEGIN SOLUTION metrics
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    for (&t, &p) in y_true.iter().zip(y_pred.iter()) {
        match (t == 1.0, p == 1.0) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
            (true, false) => fn_ += 1,
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Ok(BinaryMetrics {
        true_positives: tp,
        false_positives: fp,
        true_negatives: tn,
        false_negatives: fn_,
        accuracy: ratio(tp + tn, y_true.len()),
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
    })
    // END SOLUTION
}
// ANCHOR_END: metrics

/// The baseline every model must beat: always answer the most frequent training label
/// (1 on a tie).
///
/// y_train: [n] of 0/1
pub fn majority_class(y_train: ArrayView1<f64>) -> Result<f64> {
    check_binary("y_train", y_train)?;
    let ones = y_train.iter().filter(|&&v| v == 1.0).count();
    Ok(if 2 * ones >= y_train.len() { 1.0 } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn sigmoid_is_stable_and_symmetric() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!(sigmoid(-1000.0) >= 0.0 && sigmoid(-1000.0) < 1e-300);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn metrics_are_hand_worked() {
        let t = array![1.0, 1.0, 0.0, 0.0, 1.0];
        let p = array![1.0, 0.0, 1.0, 0.0, 1.0];
        let m = binary_metrics(t.view(), p.view()).unwrap();
        assert_eq!(
            (
                m.true_positives,
                m.false_positives,
                m.true_negatives,
                m.false_negatives
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(
            (m.accuracy, m.precision, m.recall),
            (0.6, 2.0 / 3.0, 2.0 / 3.0)
        );
        assert!(binary_metrics(t.view(), array![2.0, 0.0, 0.0, 0.0, 0.0].view()).is_err());
    }

    #[test]
    fn separable_data_is_learned_and_one_class_is_refused() {
        let x = array![[-2.0], [-1.0], [1.0], [2.0]];
        let y = array![0.0, 0.0, 1.0, 1.0];
        let (m, losses) = fit_logistic(x.view(), y.view(), 1.0, 200).unwrap();
        assert_eq!(m.predict(x.view()).unwrap(), y);
        assert!(losses.last().unwrap() < &losses[0]);
        assert!(fit_logistic(x.view(), array![1.0, 1.0, 1.0, 1.0].view(), 1.0, 10).is_err());
    }
}
