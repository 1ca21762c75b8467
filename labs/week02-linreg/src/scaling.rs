//! Feature scaling: put every feature on the same footing.
//!
//! Gradient descent takes one step size for all parameters. When one feature is in the hundreds
//! (blood serum, mg/dl) and another below ten (a log-scaled measurement), the loss surface is a
//! long thin valley: a step small enough for the steep direction crawls along the flat one.
//! Standardising each feature to mean 0 and standard deviation 1 makes the valley round.
//!
//! The pattern `fit` on training data, then `transform` anything, is the one every scikit-learn
//! transformer follows: the test set must never influence the parameters.

use crate::linreg::LinearModel;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use wb_core::{Result, check_data, check_len};

/// Per-column mean and standard deviation, learned by [`Standardizer::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// mean: [n_features]
    pub mean: Array1<f64>,
    /// scale: [n_features], the population standard deviation (ddof = 0, as scikit-learn's
    /// `StandardScaler`); 1 for a constant column, so that it maps to 0 instead of dividing by 0.
    pub scale: Array1<f64>,
}

impl Standardizer {
    // ANCHOR: standardizer_fit
    /// Learns the mean and standard deviation of each column of `x`.
    ///
    /// x: [n_samples, n_features]
    pub fn fit(x: ArrayView2<f64>) -> Result<Self> {
        check_data("x", &x)?;
        // BEGIN SOLUTION standardize
        let n = x.nrows() as f64;
        let mean = x.sum_axis(Axis(0)) / n;
        let mut scale = Array1::zeros(x.ncols());
        for (j, col) in x.axis_iter(Axis(1)).enumerate() {
            let v = col
                .iter()
                .map(|v| (v - mean[j]) * (v - mean[j]))
                .sum::<f64>()
                / n;
            scale[j] = if v > 0.0 { v.sqrt() } else { 1.0 };
        }
        Ok(Self { mean, scale })
        // END SOLUTION
    }
    // ANCHOR_END: standardizer_fit

    /// `(x − mean) / scale`, column by column.
    ///
    /// x: [n_samples, n_features] → [n_samples, n_features]
    pub fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        check_data("x", &x)?;
        check_len(
            "x (columns)",
            x.ncols(),
            self.mean.len(),
            "the number of features seen by fit",
        )?;
        Ok((&x - &self.mean) / &self.scale)
    }

    /// Turns a model trained on standardised features into the same model on raw features:
    /// `w·((x − μ)/σ) + b = (w/σ)·x + (b − Σ w_j μ_j/σ_j)`.
    pub fn unscale_model(&self, model: &LinearModel) -> Result<LinearModel> {
        check_len(
            "model.weights",
            model.weights.len(),
            self.mean.len(),
            "one weight per feature",
        )?;
        let weights = &model.weights / &self.scale;
        let intercept = model.intercept - weights.dot(&self.mean);
        Ok(LinearModel { weights, intercept })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_worked_standardisation() {
        let x = array![[1.0, 5.0], [3.0, 5.0]];
        let s = Standardizer::fit(x.view()).unwrap();
        assert_eq!(s.mean, array![2.0, 5.0]);
        assert_eq!(s.scale, array![1.0, 1.0]); // the constant column keeps scale 1
        assert_eq!(
            s.transform(x.view()).unwrap(),
            array![[-1.0, 0.0], [1.0, 0.0]]
        );
        assert!(s.transform(array![[1.0]].view()).is_err());
    }
}
