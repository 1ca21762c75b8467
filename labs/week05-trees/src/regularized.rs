//! Regularisation of linear models by coordinate descent: ridge (L2) and lasso (L1).
//!
//! Both add a price on large coefficients to the squared error, trading a little bias for less
//! variance. With scikit-learn's scalings:
//! - ridge: `‖y − Xw‖² + α‖w‖²` (shrinks every coefficient);
//! - lasso: `(1/2n)‖y − Xw‖² + α‖w‖₁` (sets some coefficients exactly to 0: feature selection).
//!
//! Coordinate descent updates one coefficient at a time, holding the others: with the partial
//! residual `ρ_j = x_jᵀ(y − Xw + x_j w_j)` and `z_j = x_jᵀx_j`, the exact minimum along w_j is
//! `ρ_j / (z_j + α)` for ridge and `S(ρ_j, nα) / z_j` for lasso, where `S(a, t) = sign(a)·max(|a| − t, 0)`
//! (soft thresholding). The intercept is handled by centring x and y.

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use wb_core::{MlError, Result, check_data, check_len};

/// Which penalty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Penalty {
    Ridge,
    Lasso,
}

/// A fitted penalised linear model.
#[derive(Debug, Clone, PartialEq)]
pub struct PenalizedFit {
    pub weights: Array1<f64>,
    pub intercept: f64,
    pub sweeps: usize,
}

/// `sign(a)·max(|a| − t, 0)`.
pub fn soft_threshold(a: f64, t: f64) -> f64 {
    if a.abs() <= t {
        0.0
    } else {
        a.signum() * (a.abs() - t)
    }
}

// ANCHOR: coordinate_descent
/// Coordinate descent for ridge or lasso with penalty `alpha`, sweeping the coefficients in order
/// until the largest change in a sweep is below `tol` (or `max_sweeps`).
///
/// x: [n, d], y: [n]
pub fn coordinate_descent(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    penalty: Penalty,
    alpha: f64,
    max_sweeps: usize,
    tol: f64,
) -> Result<PenalizedFit> {
    check_data("x", &x)?;
    check_data("y", &y)?;
    check_len("y", y.len(), x.nrows(), "one target per row of x")?;
    if !(alpha >= 0.0 && alpha.is_finite()) {
        return Err(MlError::InvalidArgument {
            arg: "alpha".into(),
            detail: format!("must be ≥ 0, got {alpha}"),
        });
    }
    // BEGIN SOLUTION coordinate_descent
    let n = x.nrows() as f64;
    let x_mean = x.mean_axis(Axis(0)).expect("rows");
    let y_mean = y.mean().expect("rows");
    let xc = &x - &x_mean;
    let yc = &y - y_mean;
    let z: Array1<f64> = xc.axis_iter(Axis(1)).map(|c| c.dot(&c)).collect();
    let mut w = Array1::<f64>::zeros(x.ncols());
    let mut residual = yc.clone(); // y − Xw, kept up to date
    let mut sweeps = 0;
    for _ in 0..max_sweeps {
        sweeps += 1;
        let mut max_change = 0.0_f64;
        for j in 0..x.ncols() {
            if z[j] == 0.0 {
                continue; // a constant column carries nothing
            }
            let col = xc.column(j);
            let rho = col.dot(&residual) + z[j] * w[j];
            let new = match penalty {
                Penalty::Ridge => rho / (z[j] + alpha),
                Penalty::Lasso => soft_threshold(rho, n * alpha) / z[j],
            };
            let change = new - w[j];
            if change != 0.0 {
                residual.scaled_add(-change, &col);
                w[j] = new;
            }
            max_change = max_change.max(change.abs());
        }
        if max_change < tol {
            break;
        }
    }
    let intercept = y_mean - x_mean.dot(&w);
    Ok(PenalizedFit {
        weights: w,
        intercept,
        sweeps,
    })
    // END SOLUTION
}
// ANCHOR_END: coordinate_descent

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn no_penalty_gives_least_squares_and_a_big_penalty_gives_zero() {
        let x = array![[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [4.0, 1.0]];
        let y = x.dot(&array![2.0, -3.0]) + 1.0;
        let fit =
            coordinate_descent(x.view(), y.view(), Penalty::Ridge, 0.0, 10_000, 1e-12).unwrap();
        assert!(
            (fit.weights[0] - 2.0).abs() < 1e-8 && (fit.intercept - 1.0).abs() < 1e-8,
            "{fit:?}"
        );
        let lasso =
            coordinate_descent(x.view(), y.view(), Penalty::Lasso, 1e6, 100, 1e-12).unwrap();
        assert_eq!(lasso.weights, array![0.0, 0.0]);
        assert_eq!(soft_threshold(-3.0, 1.0), -2.0);
        assert!(coordinate_descent(x.view(), y.view(), Penalty::Lasso, -1.0, 10, 1e-6).is_err());
    }
}
