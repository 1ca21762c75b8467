//! Loss functions: one number that says how wrong the predictions are.
//!
//! Training a model means changing its parameters to make the loss smaller, so each loss comes
//! with its gradient with respect to the predictions; the chain rule then carries it back to the
//! parameters (see [`crate::linreg::mse_gradient`]). Residuals are `r_i = ŷ_i − y_i`.
//!
//! | loss  | per sample                                  | gradient per sample        | good for                    |
//! |-------|---------------------------------------------|----------------------------|-----------------------------|
//! | MSE   | r²                                          | 2r                         | the mean; smooth            |
//! | MAE   | \|r\|                                       | sign(r)                    | the median; robust          |
//! | Huber | ½r² if \|r\| ≤ δ, else δ(\|r\| − ½δ)        | r, else δ·sign(r)          | both: quadratic near 0      |
//!
//! Each is the mean over samples, so each gradient is divided by n.

use ndarray::{Array1, ArrayView1, Zip};
use wb_core::{Result, check_data, check_len, check_positive};

/// Both non-empty and finite, one prediction per target.
pub(crate) fn check_pair(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<()> {
    check_data("y_true", &y_true)?;
    check_data("y_pred", &y_pred)?;
    check_len(
        "y_pred",
        y_pred.len(),
        y_true.len(),
        "one prediction per target",
    )
}

// ANCHOR: mse
/// Mean squared error `(1/n) Σ (ŷ_i − y_i)²`.
///
/// y_true: [n], y_pred: [n]
pub fn mse(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<f64> {
    check_pair(y_true, y_pred)?;
    // BEGIN SOLUTION mse
    let n = y_true.len() as f64;
    Ok(Zip::from(&y_true)
        .and(&y_pred)
        .fold(0.0, |acc, &y, &p| acc + (p - y) * (p - y))
        / n)
    // END SOLUTION
}

/// ∂MSE/∂ŷ_i = (2/n)(ŷ_i − y_i).
///
/// y_true: [n], y_pred: [n] → [n]
pub fn mse_grad(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<Array1<f64>> {
    check_pair(y_true, y_pred)?;
    // BEGIN SOLUTION mse
    let n = y_true.len() as f64;
    Ok(Zip::from(&y_true)
        .and(&y_pred)
        .map_collect(|&y, &p| 2.0 * (p - y) / n))
    // END SOLUTION
}
// ANCHOR_END: mse

// ANCHOR: mae
/// Mean absolute error `(1/n) Σ |ŷ_i − y_i|`.
///
/// y_true: [n], y_pred: [n]
pub fn mae(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<f64> {
    check_pair(y_true, y_pred)?;
    // BEGIN SOLUTION mae
    let n = y_true.len() as f64;
    Ok(Zip::from(&y_true)
        .and(&y_pred)
        .fold(0.0, |acc, &y, &p| acc + (p - y).abs())
        / n)
    // END SOLUTION
}

/// ∂MAE/∂ŷ_i = sign(ŷ_i − y_i)/n, taking 0 where ŷ_i = y_i (|r| has no derivative at 0; 0 is
/// the subgradient numpy's `np.sign` gives).
///
/// y_true: [n], y_pred: [n] → [n]
pub fn mae_grad(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<Array1<f64>> {
    check_pair(y_true, y_pred)?;
    // BEGIN SOLUTION mae
    let n = y_true.len() as f64;
    let sign = |r: f64| {
        if r > 0.0 {
            1.0
        } else if r < 0.0 {
            -1.0
        } else {
            0.0
        }
    };
    Ok(Zip::from(&y_true)
        .and(&y_pred)
        .map_collect(|&y, &p| sign(p - y) / n))
    // END SOLUTION
}
// ANCHOR_END: mae

// ANCHOR: huber
/// Huber loss: `(1/n) Σ h(ŷ_i − y_i)` with `h(r) = ½r²` for `|r| ≤ δ` and `δ(|r| − ½δ)` beyond.
/// Quadratic near zero like MSE, linear in the tails like MAE, so outliers pull less.
///
/// y_true: [n], y_pred: [n], delta > 0
pub fn huber(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>, delta: f64) -> Result<f64> {
    check_pair(y_true, y_pred)?;
    check_positive("delta", delta)?;
    // BEGIN SOLUTION huber
    let n = y_true.len() as f64;
    let h = |r: f64| {
        if r.abs() <= delta {
            0.5 * r * r
        } else {
            delta * (r.abs() - 0.5 * delta)
        }
    };
    Ok(Zip::from(&y_true)
        .and(&y_pred)
        .fold(0.0, |acc, &y, &p| acc + h(p - y))
        / n)
    // END SOLUTION
}

/// ∂Huber/∂ŷ_i = r_i/n for `|r_i| ≤ δ`, else `δ·sign(r_i)/n`: the residual, clipped to ±δ.
///
/// y_true: [n], y_pred: [n], delta > 0 → [n]
pub fn huber_grad(
    y_true: ArrayView1<f64>,
    y_pred: ArrayView1<f64>,
    delta: f64,
) -> Result<Array1<f64>> {
    check_pair(y_true, y_pred)?;
    check_positive("delta", delta)?;
    // BEGIN SOLUTION huber
    let n = y_true.len() as f64;
    Ok(Zip::from(&y_true)
        .and(&y_pred)
        .map_collect(|&y, &p| (p - y).clamp(-delta, delta) / n))
    // END SOLUTION
}
// ANCHOR_END: huber

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_worked_losses() {
        let y = array![1.0, 2.0, 3.0];
        let p = array![1.0, 4.0, 2.5]; // residuals 0, 2, -0.5
        assert_eq!(mse(y.view(), p.view()).unwrap(), (0.0 + 4.0 + 0.25) / 3.0);
        assert_eq!(mae(y.view(), p.view()).unwrap(), 2.5 / 3.0);
        // δ = 1: h(0) = 0, h(2) = 1·(2 − 0.5) = 1.5, h(−0.5) = 0.125
        assert_eq!(huber(y.view(), p.view(), 1.0).unwrap(), 1.625 / 3.0);
        assert_eq!(
            huber_grad(y.view(), p.view(), 1.0).unwrap(),
            array![0.0, 1.0, -0.5] / 3.0
        );
        assert_eq!(
            mae_grad(y.view(), p.view()).unwrap(),
            array![0.0, 1.0, -1.0] / 3.0
        );
        assert_eq!(
            mse_grad(y.view(), p.view()).unwrap(),
            array![0.0, 4.0, -1.0] / 3.0
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let y = array![1.0, 2.0];
        assert!(mse(y.view(), array![1.0].view()).is_err());
        assert!(mae(y.view(), array![1.0, f64::INFINITY].view()).is_err());
        assert!(huber(y.view(), y.view(), 0.0).is_err());
        assert!(huber_grad(y.view(), y.view(), f64::NAN).is_err());
    }
}
