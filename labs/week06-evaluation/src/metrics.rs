//! Metrics, implemented once and reused: classification (confusion matrix, accuracy,
//! precision, recall, F1 with macro, micro and weighted averages, log loss) and regression (MAE,
//! RMSE, R²).

use ndarray::{Array2, ArrayView1};
use wb_core::{MlError, Result, check_data, check_len};

fn check_labels(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<()> {
    if y_true.is_empty() {
        return Err(MlError::Empty {
            arg: "y_true".into(),
            detail: "no labels to score".into(),
        });
    }
    check_len(
        "y_pred",
        y_pred.len(),
        y_true.len(),
        "one prediction per label",
    )?;
    if let Some(&bad) = y_true.iter().chain(y_pred).find(|&&c| c >= n_classes) {
        return Err(MlError::InvalidArgument {
            arg: "labels".into(),
            detail: format!("class {bad} ≥ n_classes = {n_classes}"),
        });
    }
    Ok(())
}

// ANCHOR: confusion
/// The confusion matrix: entry (i, j) counts the rows of true class i predicted as class j
/// (scikit-learn's layout: rows are the truth, columns the prediction).
///
/// y_true: [n], y_pred: [n] → [n_classes, n_classes]
pub fn confusion_matrix(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
) -> Result<Array2<usize>> {
    check_labels(y_true, y_pred, n_classes)?;
    // BEGIN SOLUTION confusion
    let mut m = Array2::zeros((n_classes, n_classes));
    for (&t, &p) in y_true.iter().zip(y_pred) {
        m[[t, p]] += 1;
    }
    Ok(m)
    // END SOLUTION
}
// ANCHOR_END: confusion

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// True rows of this class.
    pub support: usize,
}

/// How per-class scores become one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Average {
    /// The plain mean over classes: every class counts the same.
    Macro,
    /// From the pooled counts of all classes (for single-label data: precision = recall = F1 = accuracy).
    Micro,
    /// The mean over classes weighted by support.
    Weighted,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

// ANCHOR: scores
/// Precision `TP/(TP+FP)`, recall `TP/(TP+FN)` and F1 (their harmonic mean) of every class, from
/// the confusion matrix; a rate with a zero denominator is 0 (scikit-learn's `zero_division=0`).
pub fn per_class_scores(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
) -> Result<Vec<ClassScores>> {
    let m = confusion_matrix(y_true, y_pred, n_classes)?;
    // BEGIN SOLUTION scores
    Ok((0..n_classes)
        .map(|k| {
            let tp = m[[k, k]];
            let predicted = m.column(k).sum();
            let actual = m.row(k).sum();
            let (precision, recall) = (ratio(tp, predicted), ratio(tp, actual));
            ClassScores {
                precision,
                recall,
                f1: f1(precision, recall),
                support: actual,
            }
        })
        .collect())
    // END SOLUTION
}

/// (precision, recall, F1) averaged over classes.
pub fn averaged_scores(
    y_true: &[usize],
    y_pred: &[usize],
    n_classes: usize,
    average: Average,
) -> Result<(f64, f64, f64)> {
    let per = per_class_scores(y_true, y_pred, n_classes)?;
    // BEGIN SOLUTION scores
    Ok(match average {
        Average::Macro => {
            let k = n_classes as f64;
            (
                per.iter().map(|s| s.precision).sum::<f64>() / k,
                per.iter().map(|s| s.recall).sum::<f64>() / k,
                per.iter().map(|s| s.f1).sum::<f64>() / k,
            )
        }
        Average::Weighted => {
            let n = y_true.len() as f64;
            let w = |f: fn(&ClassScores) -> f64| {
                per.iter().map(|s| f(s) * s.support as f64).sum::<f64>() / n
            };
            (w(|s| s.precision), w(|s| s.recall), w(|s| s.f1))
        }
        Average::Micro => {
            // Pooled: every wrong prediction is one FP (for the predicted class) and one FN.
            let correct = y_true.iter().zip(y_pred).filter(|(a, b)| a == b).count();
            let a = ratio(correct, y_true.len());
            (a, a, a)
        }
    })
    // END SOLUTION
}
// ANCHOR_END: scores

/// The share of right answers.
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    let n_classes = y_true.iter().chain(y_pred).max().map_or(1, |m| m + 1);
    let m = confusion_matrix(y_true, y_pred, n_classes)?;
    Ok(m.diag().sum() as f64 / y_true.len() as f64)
}

// ANCHOR: log_loss
/// The mean log loss (cross-entropy) of predicted probabilities of class 1 for 0/1 labels:
/// `−(1/n) Σ [y log p + (1 − y) log(1 − p)]`, p clipped to [ε, 1 − ε] with ε = f64::EPSILON (as
/// scikit-learn does for float64).
///
/// y_true: [n] of 0/1, p: [n]
pub fn log_loss(y_true: &[usize], p: ArrayView1<f64>) -> Result<f64> {
    check_labels(y_true, y_true, 2)?;
    check_data("p", &p)?;
    check_len("p", p.len(), y_true.len(), "one probability per label")?;
    // BEGIN SOLUTION log_loss
    let eps = f64::EPSILON;
    let total: f64 = y_true
        .iter()
        .zip(p.iter())
        .map(|(&y, &p)| {
            let p = p.clamp(eps, 1.0 - eps);
            if y == 1 { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    Ok(total / y_true.len() as f64)
    // END SOLUTION
}
// ANCHOR_END: log_loss

/// Regression errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionScores {
    pub mae: f64,
    pub rmse: f64,
    pub r2: f64,
}

// ANCHOR: regression
/// MAE `mean |y − ŷ|`, RMSE `√mean (y − ŷ)²` and R² `1 − Σ(y − ŷ)²/Σ(y − ȳ)²`. A constant
/// `y_true` makes R² undefined: an error.
///
/// y_true: [n], y_pred: [n]
pub fn regression_scores(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
) -> Result<RegressionScores> {
    check_data("y_true", &y_true)?;
    check_data("y_pred", &y_pred)?;
    check_len(
        "y_pred",
        y_pred.len(),
        y_true.len(),
        "one prediction per target",
    )?;
    // BEGIN SOLUTION regression
    let n = y_true.len() as f64;
    let mean = y_true.sum() / n;
    let (mut abs, mut sq, mut tot) = (0.0, 0.0, 0.0);
    for (&y, &p) in y_true.iter().zip(y_pred.iter()) {
        abs += (y - p).abs();
        sq += (y - p) * (y - p);
        tot += (y - mean) * (y - mean);
    }
    if tot == 0.0 {
        return Err(MlError::InvalidArgument {
            arg: "y_true".into(),
            detail: "all values are equal, so R² is undefined".into(),
        });
    }
    Ok(RegressionScores {
        mae: abs / n,
        rmse: (sq / n).sqrt(),
        r2: 1.0 - sq / tot,
    })
    // END SOLUTION
}
// ANCHOR_END: regression

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_worked_metrics() {
        let t = [0, 0, 1, 1, 2];
        let p = [0, 1, 1, 1, 0];
        let m = confusion_matrix(&t, &p, 3).unwrap();
        assert_eq!(m, array![[1, 1, 0], [0, 2, 0], [1, 0, 0]]);
        let s = per_class_scores(&t, &p, 3).unwrap();
        assert_eq!((s[1].precision, s[1].recall), (2.0 / 3.0, 1.0));
        assert_eq!(s[2].f1, 0.0);
        assert_eq!(averaged_scores(&t, &p, 3, Average::Micro).unwrap().0, 0.6);
        assert_eq!(accuracy(&t, &p).unwrap(), 0.6);
        let r =
            regression_scores(array![1.0, 2.0, 3.0].view(), array![1.0, 2.0, 5.0].view()).unwrap();
        assert_eq!((r.mae, r.rmse), (2.0 / 3.0, (4.0f64 / 3.0).sqrt()));
        assert!(confusion_matrix(&[], &[], 2).is_err());
        assert!(confusion_matrix(&[0, 3], &[0, 0], 2).is_err());
        assert!(regression_scores(array![1.0, 1.0].view(), array![1.0, 2.0].view()).is_err());
    }
}
