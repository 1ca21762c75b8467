//! Grader checks for week 32: The production AI system: observability, rollback, security, compliance.

use grader::{Called, Tol, check, close};
use ndarray::array;

check! {
    /// The mean of three numbers, worked by hand.
    fn mean_is_hand_worked(exercise = "mean") {
        let got = week32_production_system::mean(array![1.0, 2.0, 6.0].view()).called("mean")?;
        close("mean([1, 2, 6]) = 3", 3.0, got, Tol::rel(1e-15))
    }
}
