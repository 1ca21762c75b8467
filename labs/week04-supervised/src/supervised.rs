//! Supervised learning with linfa, the crate Rust users reach for: each example comes with the
//! answer, and the model learns to map features to it. Linear regression predicts a number
//! (diabetes progression); logistic regression predicts a class (malignant or benign).

use linfa::prelude::*;
use linfa_linear::LinearRegression;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, ArrayView1, ArrayView2};
use wb_core::{MlError, Result, check_data, check_len};

// ANCHOR: linfa_models
/// Ordinary least squares with linfa-linear: (coefficients [n_features], intercept).
///
/// x: [n, d], y: [n]
pub fn linfa_linear(x: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<(Array1<f64>, f64)> {
    check_data("x", &x)?;
    check_data("y", &y)?;
    check_len("y", y.len(), x.nrows(), "one target per row of x")?;
    // BEGIN SOLUTION linfa_models
    let dataset = Dataset::new(x.to_owned(), y.to_owned());
    let model = LinearRegression::new()
        .fit(&dataset)
        .map_err(|e| MlError::Singular(e.to_string()))?;
    Ok((model.params().clone(), model.intercept()))
    // END SOLUTION
}

/// Binary logistic regression with linfa-logistic (L2 penalty `alpha`), fitted on the training
/// rows; returns its predictions for `x_test`.
///
/// x_train: [n, d], y_train: [n], x_test: [m, d] → [m]
pub fn linfa_logistic(
    x_train: ArrayView2<f64>,
    y_train: &[bool],
    x_test: ArrayView2<f64>,
    alpha: f64,
) -> Result<Vec<bool>> {
    check_data("x_train", &x_train)?;
    check_data("x_test", &x_test)?;
    check_len(
        "y_train",
        y_train.len(),
        x_train.nrows(),
        "one label per row of x_train",
    )?;
    check_len(
        "x_test (columns)",
        x_test.ncols(),
        x_train.ncols(),
        "the columns of x_train",
    )?;
    if y_train.iter().all(|&v| v == y_train[0]) {
        return Err(MlError::InvalidArgument {
            arg: "y_train".into(),
            detail: format!(
                "every label is {}: a classifier needs both classes",
                y_train[0]
            ),
        });
    }
    // BEGIN SOLUTION linfa_models
    let dataset = Dataset::new(x_train.to_owned(), Array1::from(y_train.to_vec()));
    let model = LogisticRegression::default()
        .alpha(alpha)
        .max_iterations(1000)
        .fit(&dataset)
        .map_err(|e| MlError::InvalidArgument {
            arg: "logistic regression".into(),
            detail: e.to_string(),
        })?;
    Ok(model.predict(&x_test).to_vec())
    // END SOLUTION
}
// ANCHOR_END: linfa_models

/// The share of equal labels (the workbook's shared one).
pub use wb_core::accuracy;
