//! How far a descent got, and gradient descent on raw features at the largest stable rate.

use anyhow::{Result, bail};
use ndarray::{Array1, Array2};
use week02_linreg::linreg::{Fit, GdConfig, fit_gradient_descent};

/// Relative distance of a loss above the optimum.
pub fn gap(loss: f64, optimum: f64) -> f64 {
    (loss - optimum) / optimum.abs().max(f64::MIN_POSITIVE)
}

/// The first index at which `losses` comes within `tol` (relative) of `optimum`.
pub fn steps_to_reach(losses: &[f64], optimum: f64, tol: f64) -> Option<usize> {
    losses.iter().position(|&l| gap(l, optimum) <= tol)
}

/// Gradient descent on raw (unscaled) features: the largest learning rate of 10⁻¹, 10⁻², … that
/// does not diverge within the same number of iterations.
pub fn gd_on_raw_features(
    x: &Array2<f64>,
    y: &Array1<f64>,
    iterations: usize,
) -> Result<(f64, Fit)> {
    for k in 1..=15 {
        let lr = 10f64.powi(-k);
        match fit_gradient_descent(
            x.view(),
            y.view(),
            GdConfig {
                learning_rate: lr,
                iterations,
            },
        ) {
            Ok(fit)
                if fit.losses.iter().all(|l| l.is_finite())
                    && fit.losses.last() <= fit.losses.first() =>
            {
                return Ok((lr, fit));
            }
            Ok(_) | Err(week02_linreg::MlError::Diverged(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    bail!("gradient descent on raw features diverged for every learning rate down to 1e-15")
}
