//! Linear regression from scratch: `ŷ = X w + b`, fitted three ways.
//!
//! 1. **Normal equations.** The MSE is a bowl; at its bottom the gradient is zero, which gives the
//!    linear system `(XᵀX) w = Xᵀy` (after centring X and y, which takes care of b). We *solve*
//!    it with a Cholesky factorisation and never form the inverse: solving is cheaper and loses
//!    fewer digits.
//! 2. **Batch gradient descent.** Start anywhere, step against the gradient of the loss over all
//!    the rows, repeat.
//! 3. **Mini-batch SGD.** The same, but each step looks at a small random batch: noisier steps,
//!    many more of them for the same cost — the way every neural network is trained.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use wb_core::{MlError, Result, check_data, check_len, check_positive};
use wb_data::shuffled_indices;

/// A linear model `ŷ = x · weights + intercept`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// weights: [n_features]
    pub weights: Array1<f64>,
    pub intercept: f64,
}

impl LinearModel {
    /// All weights and the intercept zero.
    pub fn zeros(n_features: usize) -> Self {
        Self {
            weights: Array1::zeros(n_features),
            intercept: 0.0,
        }
    }

    /// x: [n_samples, n_features] → ŷ: [n_samples]
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        check_data("x", &x)?;
        check_len(
            "x (columns)",
            x.ncols(),
            self.weights.len(),
            "one column per weight",
        )?;
        Ok(x.dot(&self.weights) + self.intercept)
    }
}

fn check_xy(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<()> {
    check_data("x", &x)?;
    check_data("y", &y)?;
    check_len("y", y.len(), x.nrows(), "one target per row of x")
}

// ANCHOR: cholesky_solve
/// Solves `A z = b` for a symmetric positive-definite `A` by Cholesky: `A = L Lᵀ` with `L`
/// lower-triangular, then `L u = b` (forward substitution) and `Lᵀ z = u` (back substitution).
///
/// A pivot that is (almost) zero relative to its diagonal entry means that column is (almost) a
/// linear combination of the earlier ones: the system has no unique solution, and this returns
/// [`MlError::Singular`] naming the column.
///
/// a: [n, n], b: [n] → z: [n]
pub fn cholesky_solve(a: ArrayView2<f64>, b: ArrayView1<f64>) -> Result<Array1<f64>> {
    check_data("a", &a)?;
    check_data("b", &b)?;
    check_len("a (columns)", a.ncols(), a.nrows(), "a square matrix")?;
    check_len("b", b.len(), a.nrows(), "one entry per row of a")?;
    // BEGIN SOLUTION cholesky_solve
    const RELATIVE_PIVOT_TOLERANCE: f64 = 1e-10;
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        // l_jj² = a_jj − Σ_{k<j} l_jk²
        let pivot = a[[j, j]] - l.slice(s![j, ..j]).dot(&l.slice(s![j, ..j]));
        if pivot.is_nan() || pivot <= RELATIVE_PIVOT_TOLERANCE * a[[j, j]].abs() {
            return Err(MlError::Singular(format!(
                "column {j} is (nearly) a linear combination of columns 0..{j} \
                 (pivot {pivot:.3e} against diagonal {:.3e}); drop or combine collinear columns",
                a[[j, j]]
            )));
        }
        let ljj = pivot.sqrt();
        l[[j, j]] = ljj;
        for i in j + 1..n {
            let s = a[[i, j]] - l.slice(s![i, ..j]).dot(&l.slice(s![j, ..j]));
            l[[i, j]] = s / ljj;
        }
    }
    // L u = b
    let mut u = Array1::<f64>::zeros(n);
    for i in 0..n {
        u[i] = (b[i] - l.slice(s![i, ..i]).dot(&u.slice(s![..i]))) / l[[i, i]];
    }
    // Lᵀ z = u
    let mut z = Array1::<f64>::zeros(n);
    for i in (0..n).rev() {
        z[i] = (u[i] - l.slice(s![i + 1.., i]).dot(&z.slice(s![i + 1..]))) / l[[i, i]];
    }
    Ok(z)
    // END SOLUTION
}
// ANCHOR_END: cholesky_solve

// ANCHOR: normal_equations
/// Fits `ŷ = X w + b` by least squares through the normal equations.
///
/// Centre first: with `X̃ = X − mean(X)` and `ỹ = y − mean(y)`, the optimum solves
/// `(X̃ᵀX̃) w = X̃ᵀỹ` and then `b = mean(y) − mean(X) · w`. Centring removes the intercept
/// from the system and makes it far better conditioned (scikit-learn does the same).
///
/// x: [n_samples, n_features], y: [n_samples]
pub fn fit_normal_equations(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<LinearModel> {
    check_xy(x, y)?;
    if x.nrows() < 2 {
        return Err(MlError::InvalidArgument {
            arg: "x".into(),
            detail: format!("{} row: at least 2 are needed to fit a slope", x.nrows()),
        });
    }
    // BEGIN SOLUTION normal_equations
    let x_mean = x.mean_axis(Axis(0)).expect("x has rows");
    let y_mean = y.mean().expect("y has rows");
    let xc = &x - &x_mean;
    let yc = &y - y_mean;
    let xtx = xc.t().dot(&xc); // [n_features, n_features]
    let xty = xc.t().dot(&yc); // [n_features]
    let weights = cholesky_solve(xtx.view(), xty.view())?;
    let intercept = y_mean - x_mean.dot(&weights);
    Ok(LinearModel { weights, intercept })
    // END SOLUTION
}
// ANCHOR_END: normal_equations

// ANCHOR: mse_gradient
/// The MSE of `model` on (x, y) and its gradient with respect to the parameters:
/// `L = (1/n) Σ (x_i·w + b − y_i)²`, `∂L/∂w = (2/n) Xᵀr`, `∂L/∂b = (2/n) Σ r_i` with `r = Xw + b − y`.
///
/// x: [n_samples, n_features], y: [n_samples] → (loss, ∂L/∂w: [n_features], ∂L/∂b)
pub fn mse_gradient(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    model: &LinearModel,
) -> Result<(f64, Array1<f64>, f64)> {
    check_xy(x, y)?;
    check_len(
        "model.weights",
        model.weights.len(),
        x.ncols(),
        "one weight per column of x",
    )?;
    // BEGIN SOLUTION mse_gradient
    let n = x.nrows() as f64;
    let r = x.dot(&model.weights) + model.intercept - y; // [n_samples]
    let loss = r.dot(&r) / n;
    // Xᵀr written as the product rᵀX of a 1 × n and an n × d matrix: the same numbers as
    // `x.t().dot(&r)`, but read row by row. ndarray's matrix-vector fallback walks Xᵀ one
    // column of X at a time, d strided passes over X: 4.8× slower on 160,000 × 20 rows.
    let grad_w = r.view().insert_axis(Axis(0)).dot(&x).remove_axis(Axis(0)) * (2.0 / n);
    let grad_b = 2.0 * r.sum() / n;
    Ok((loss, grad_w, grad_b))
    // END SOLUTION
}
// ANCHOR_END: mse_gradient

/// Settings of [`fit_gradient_descent`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GdConfig {
    pub learning_rate: f64,
    pub iterations: usize,
}

/// A fitted model and the training loss recorded along the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub model: LinearModel,
    /// losses[k]: the MSE on the whole training set before update k (and, last, after the final one).
    pub losses: Vec<f64>,
}

fn diverged(step: usize, loss: f64, lr: f64) -> MlError {
    MlError::Diverged(format!(
        "the loss became {loss} at step {step}: learning rate {lr} is too large for these \
         features (try a smaller one, or standardise the features)"
    ))
}

// ANCHOR: gradient_descent
/// Batch gradient descent from all-zero parameters: `w ← w − lr·∂L/∂w`, `b ← b − lr·∂L/∂b`.
///
/// x: [n_samples, n_features], y: [n_samples]
pub fn fit_gradient_descent(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    config: GdConfig,
) -> Result<Fit> {
    check_xy(x, y)?;
    check_positive("learning_rate", config.learning_rate)?;
    // BEGIN SOLUTION gradient_descent
    let mut model = LinearModel::zeros(x.ncols());
    let mut losses = Vec::with_capacity(config.iterations + 1);
    for step in 0..config.iterations {
        let (loss, grad_w, grad_b) = mse_gradient(x, y, &model)?;
        if !loss.is_finite() {
            return Err(diverged(step, loss, config.learning_rate));
        }
        losses.push(loss);
        model.weights.scaled_add(-config.learning_rate, &grad_w);
        model.intercept -= config.learning_rate * grad_b;
    }
    let (loss, _, _) = mse_gradient(x, y, &model)?;
    if !loss.is_finite() {
        return Err(diverged(config.iterations, loss, config.learning_rate));
    }
    losses.push(loss);
    Ok(Fit { model, losses })
    // END SOLUTION
}
// ANCHOR_END: gradient_descent

/// Settings of [`fit_minibatch_sgd`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    pub learning_rate: f64,
    pub epochs: usize,
    pub batch_size: usize,
    /// Seeds the shuffle of every epoch (epoch e uses `seed + e`).
    pub seed: u64,
}

// ANCHOR: minibatch_sgd
/// Mini-batch stochastic gradient descent from all-zero parameters. Each epoch shuffles the rows
/// (with [`wb_data::shuffled_indices`], seed `config.seed + epoch`), cuts them into batches of
/// `batch_size` (the last one may be smaller) and takes one gradient step per batch.
///
/// Returns the model and the MSE on the whole training set before the first epoch and after each.
///
/// x: [n_samples, n_features], y: [n_samples]
pub fn fit_minibatch_sgd(x: ArrayView2<f64>, y: ArrayView1<f64>, config: SgdConfig) -> Result<Fit> {
    check_xy(x, y)?;
    check_positive("learning_rate", config.learning_rate)?;
    if config.batch_size == 0 {
        return Err(MlError::InvalidArgument {
            arg: "batch_size".into(),
            detail: "must be at least 1".into(),
        });
    }
    // BEGIN SOLUTION minibatch_sgd
    let mut model = LinearModel::zeros(x.ncols());
    let mut losses = vec![mse_gradient(x, y, &model)?.0];
    for epoch in 0..config.epochs {
        let order = shuffled_indices(x.nrows(), config.seed.wrapping_add(epoch as u64));
        for batch in order.chunks(config.batch_size) {
            let xb = x.select(Axis(0), batch); // [batch, n_features]
            let yb = y.select(Axis(0), batch); // [batch]
            let (_, grad_w, grad_b) = mse_gradient(xb.view(), yb.view(), &model)?;
            model.weights.scaled_add(-config.learning_rate, &grad_w);
            model.intercept -= config.learning_rate * grad_b;
        }
        let loss = mse_gradient(x, y, &model)?.0;
        if !loss.is_finite() {
            return Err(diverged(epoch, loss, config.learning_rate));
        }
        losses.push(loss);
    }
    Ok(Fit { model, losses })
    // END SOLUTION
}
// ANCHOR_END: minibatch_sgd

// ANCHOR: r2
/// The coefficient of determination `R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)²`: the share of the target's
/// variance the model explains (1 is perfect, 0 is "always predict the mean", below 0 is worse).
/// A constant `y_true` has no variance to explain: an error.
///
/// y_true: [n], y_pred: [n]
pub fn r2_score(y_true: ArrayView1<f64>, y_pred: ArrayView1<f64>) -> Result<f64> {
    check_data("y_true", &y_true)?;
    check_data("y_pred", &y_pred)?;
    check_len(
        "y_pred",
        y_pred.len(),
        y_true.len(),
        "one prediction per target",
    )?;
    // BEGIN SOLUTION r2
    let mean = y_true.mean().expect("not empty");
    let ss_res: f64 = y_true
        .iter()
        .zip(y_pred.iter())
        .map(|(y, p)| (y - p) * (y - p))
        .sum();
    let ss_tot: f64 = y_true.iter().map(|y| (y - mean) * (y - mean)).sum();
    if ss_tot == 0.0 {
        return Err(MlError::InvalidArgument {
            arg: "y_true".into(),
            detail: "all values are equal, so R² is undefined".into(),
        });
    }
    Ok(1.0 - ss_res / ss_tot)
    // END SOLUTION
}
// ANCHOR_END: r2

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn exact_line_is_recovered() {
        // y = 2 x0 − 3 x1 + 1, exactly.
        let x = array![[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [4.0, 1.0]];
        let y = x.dot(&array![2.0, -3.0]) + 1.0;
        let m = fit_normal_equations(x.view(), y.view()).unwrap();
        assert!((m.weights[0] - 2.0).abs() < 1e-12 && (m.weights[1] + 3.0).abs() < 1e-12);
        assert!((m.intercept - 1.0).abs() < 1e-12);
        assert!(
            (r2_score(y.view(), m.predict(x.view()).unwrap().view()).unwrap() - 1.0).abs() < 1e-12
        );
    }

    #[test]
    fn collinear_columns_are_singular() {
        let x = array![[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]];
        let y = array![1.0, 2.0, 3.0];
        let err = fit_normal_equations(x.view(), y.view()).unwrap_err();
        assert!(
            matches!(err, MlError::Singular(ref m) if m.contains("column 1")),
            "{err}"
        );
    }

    #[test]
    fn too_large_a_learning_rate_diverges_with_a_clear_error() {
        let x = array![[100.0], [200.0], [300.0]];
        let y = array![1.0, 2.0, 3.0];
        let cfg = GdConfig {
            learning_rate: 1.0,
            iterations: 500,
        };
        let err = fit_gradient_descent(x.view(), y.view(), cfg).unwrap_err();
        assert!(matches!(err, MlError::Diverged(_)), "{err}");
    }
}
