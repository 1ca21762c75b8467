//! Grader checks for week 28: CI/CD for ML and canary deployments.

use grader::{Called, Tol, check, close};
use ndarray::array;

check! {
    /// The mean of three numbers, worked by hand.
    fn mean_is_hand_worked(exercise = "mean") {
        let got = week28_cicd_canary::mean(array![1.0, 2.0, 6.0].view()).called("mean")?;
        close("mean([1, 2, 6]) = 3", 3.0, got, Tol::rel(1e-15))
    }
}
