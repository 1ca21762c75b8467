//! Bias and variance, measured on a problem whose truth we know.
//!
//! The data is `y = sin(2πx) + noise`. A polynomial of low degree cannot bend like a sine:
//! whatever training set it sees, it is wrong in the same way (high **bias**). A polynomial of
//! high degree bends to follow every noisy point: trained on another sample it would be a
//! different curve (high **variance**). The expected test error splits into
//! `bias² + variance + noise`; the best degree balances the first two.

use linfa::prelude::*;
use linfa_linear::{FittedLinearRegression, LinearRegression};
use ndarray::{Array1, Array2, ArrayView1};
use wb_core::{MlError, Result, check_data, check_len};
use wb_data::SplitMix64;

/// The true function, `sin(2πx)`.
pub fn truth(x: f64) -> f64 {
    (2.0 * std::f64::consts::PI * x).sin()
}

/// `n` points with x uniform in [0, 1) and `y = sin(2πx) + noise_sd·z`, z standard normal by
/// Box–Muller. For each point the generator draws x, then u1 and u2 for z (so Python can
/// reproduce the data exactly).
pub fn noisy_sine(n: usize, noise_sd: f64, seed: u64) -> (Array1<f64>, Array1<f64>) {
    let mut rng = SplitMix64::new(seed);
    let (mut x, mut y) = (Array1::zeros(n), Array1::zeros(n));
    for i in 0..n {
        x[i] = rng.next_f64();
        let (u1, u2) = (rng.next_f64(), rng.next_f64());
        let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        y[i] = truth(x[i]) + noise_sd * z;
    }
    (x, y)
}

// ANCHOR: poly_features
/// Polynomial features of x in [0, 1]: with `t = 2x − 1` (in [−1, 1], which keeps the powers of
/// similar size and the least-squares problem well conditioned), the columns `t, t², …, t^degree`.
/// The intercept is the model's, not a column.
///
/// x: [n] → [n, degree]
pub fn poly_features(x: ArrayView1<f64>, degree: usize) -> Result<Array2<f64>> {
    check_data("x", &x)?;
    if degree == 0 {
        return Err(MlError::InvalidArgument {
            arg: "degree".into(),
            detail: "must be at least 1".into(),
        });
    }
    // BEGIN SOLUTION poly_features
    Ok(Array2::from_shape_fn((x.len(), degree), |(i, j)| {
        (2.0 * x[i] - 1.0).powi(j as i32 + 1)
    }))
    // END SOLUTION
}
// ANCHOR_END: poly_features

/// A polynomial fitted by linfa-linear's least squares (QR).
pub struct PolyModel {
    pub degree: usize,
    pub fitted: FittedLinearRegression<f64>,
}

impl PolyModel {
    /// x: [n], y: [n]
    pub fn fit(x: ArrayView1<f64>, y: ArrayView1<f64>, degree: usize) -> Result<Self> {
        check_data("y", &y)?;
        check_len("y", y.len(), x.len(), "one target per x")?;
        let features = poly_features(x, degree)?;
        let dataset = Dataset::new(features, y.to_owned());
        let fitted = LinearRegression::new().fit(&dataset).map_err(|e| {
            MlError::Singular(format!("degree {degree} with {} points: {e}", x.len()))
        })?;
        Ok(Self { degree, fitted })
    }

    /// x: [n] → ŷ: [n]
    pub fn predict(&self, x: ArrayView1<f64>) -> Result<Array1<f64>> {
        Ok(self.fitted.predict(&poly_features(x, self.degree)?))
    }
}

/// Mean squared error.
pub fn mse(y: ArrayView1<f64>, p: ArrayView1<f64>) -> Result<f64> {
    check_data("y", &y)?;
    check_len("p", p.len(), y.len(), "one prediction per target")?;
    Ok(y.iter()
        .zip(p.iter())
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / y.len() as f64)
}

/// Bootstrap estimates at one degree, on a grid of test points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BiasVariance {
    pub degree: usize,
    /// mean over the grid of (mean prediction − truth)²
    pub bias2: f64,
    /// mean over the grid of the predictions' variance across bootstrap fits
    pub variance: f64,
}

// ANCHOR: bias_variance
/// Fits the polynomial on `n_boot` bootstrap resamples of the training set (resample b draws its
/// n indices as `⌊u·n⌋` with `SplitMix64::new(seed + b)`), predicts on `grid`, and measures bias²
/// against the true function and the variance of the predictions.
///
/// x, y: [n] (training set), grid: [m]
pub fn bias_variance(
    x: ArrayView1<f64>,
    y: ArrayView1<f64>,
    degree: usize,
    grid: ArrayView1<f64>,
    n_boot: usize,
    seed: u64,
) -> Result<BiasVariance> {
    check_data("grid", &grid)?;
    check_len("y", y.len(), x.len(), "one target per x")?;
    if n_boot < 2 {
        return Err(MlError::InvalidArgument {
            arg: "n_boot".into(),
            detail: "need at least 2 resamples to measure a variance".into(),
        });
    }
    // BEGIN SOLUTION bias_variance
    let n = x.len();
    let mut preds = Array2::<f64>::zeros((n_boot, grid.len())); // [n_boot, m]
    for b in 0..n_boot {
        let mut rng = SplitMix64::new(seed.wrapping_add(b as u64));
        let idx: Vec<usize> = (0..n)
            .map(|_| ((rng.next_f64() * n as f64) as usize).min(n - 1))
            .collect();
        let xb: Array1<f64> = idx.iter().map(|&i| x[i]).collect();
        let yb: Array1<f64> = idx.iter().map(|&i| y[i]).collect();
        let model = PolyModel::fit(xb.view(), yb.view(), degree)?;
        preds.row_mut(b).assign(&model.predict(grid)?);
    }
    let mean = preds.mean_axis(ndarray::Axis(0)).expect("n_boot ≥ 2"); // [m]
    let bias2 = grid
        .iter()
        .zip(mean.iter())
        .map(|(&g, &m)| (m - truth(g)).powi(2))
        .sum::<f64>()
        / grid.len() as f64;
    let variance = (&preds - &mean).mapv(|v| v * v).sum() / (n_boot * grid.len()) as f64;
    Ok(BiasVariance {
        degree,
        bias2,
        variance,
    })
    // END SOLUTION
}
// ANCHOR_END: bias_variance

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn an_exact_polynomial_is_recovered() {
        let x = Array1::linspace(0.0, 1.0, 20);
        let y = x.mapv(|v| 1.0 + 2.0 * v - 3.0 * v * v);
        let m = PolyModel::fit(x.view(), y.view(), 2).unwrap();
        let p = m.predict(array![0.5, 0.25].view()).unwrap();
        assert!(
            (p[0] - 1.25).abs() < 1e-9 && (p[1] - (1.0 + 0.5 - 0.1875)).abs() < 1e-9,
            "{p}"
        );
        assert_eq!(
            poly_features(array![1.0].view(), 3).unwrap(),
            array![[1.0, 1.0, 1.0]]
        );
        assert!(poly_features(array![1.0].view(), 0).is_err());
    }

    #[test]
    fn the_generator_is_reproducible() {
        let (a, b) = (noisy_sine(5, 0.3, 9), noisy_sine(5, 0.3, 9));
        assert_eq!(a, b);
        assert!(a.0.iter().all(|&v| (0.0..1.0).contains(&v)));
    }
}
