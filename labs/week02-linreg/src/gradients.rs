//! Derivatives by central differences, and the gradient check.
//!
//! The derivative of `f` at `x` is the slope of `f` there. Numerically,
//! `∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h`: the error of this *central* difference shrinks
//! like h², against h for the one-sided `(f(x + h e_i) − f(x)) / h`. It costs two evaluations of
//! `f` per coordinate, far too slow for training, but perfect to check an analytic gradient.

use ndarray::{Array1, ArrayView1};
use wb_core::{MlError, Result, check_data, check_len, check_positive};

// ANCHOR: numerical_gradient
/// The gradient of `f` at `x` by central differences with step `h`.
///
/// x: [n] → gradient: [n]
pub fn numerical_gradient(
    f: impl Fn(ArrayView1<f64>) -> f64,
    x: ArrayView1<f64>,
    h: f64,
) -> Result<Array1<f64>> {
    check_data("x", &x)?;
    check_positive("h", h)?;
    // BEGIN SOLUTION numerical_gradient
    let mut probe = x.to_owned();
    let mut grad = Array1::zeros(x.len());
    for i in 0..x.len() {
        let xi = probe[i];
        probe[i] = xi + h;
        let up = f(probe.view());
        probe[i] = xi - h;
        let down = f(probe.view());
        probe[i] = xi;
        grad[i] = (up - down) / (2.0 * h);
    }
    Ok(grad)
    // END SOLUTION
}
// ANCHOR_END: numerical_gradient

// ANCHOR: relative_error
/// How far apart two gradients are, relative to their size: `‖a − b‖₂ / (‖a‖₂ + ‖b‖₂)`
/// (0 when both are zero). Below about 1e-7 a gradient check passes; above 1e-3 something is wrong.
///
/// a: [n], b: [n]
pub fn relative_error(a: ArrayView1<f64>, b: ArrayView1<f64>) -> Result<f64> {
    check_data("a", &a)?;
    check_data("b", &b)?;
    check_len("b", b.len(), a.len(), "the length of `a`")?;
    // BEGIN SOLUTION relative_error
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let diff = norm(&mut a.iter().zip(b.iter()).map(|(x, y)| x - y));
    let size = norm(&mut a.iter().copied()) + norm(&mut b.iter().copied());
    Ok(if size == 0.0 { 0.0 } else { diff / size })
    // END SOLUTION
}
// ANCHOR_END: relative_error

/// Compares `analytic` with the central-difference gradient of `f` at `x` and returns the
/// relative error, or an error if it exceeds `tolerance`.
///
/// x: [n], analytic: [n]
pub fn gradient_check(
    f: impl Fn(ArrayView1<f64>) -> f64,
    x: ArrayView1<f64>,
    analytic: ArrayView1<f64>,
    tolerance: f64,
) -> Result<f64> {
    check_len(
        "analytic",
        analytic.len(),
        x.len(),
        "one partial derivative per coordinate of `x`",
    )?;
    let numerical = numerical_gradient(f, x, 1e-5)?;
    let err = relative_error(analytic, numerical.view())?;
    if err.is_nan() || err > tolerance {
        return Err(MlError::InvalidArgument {
            arg: "analytic".into(),
            detail: format!(
                "gradient check failed: relative error {err:.3e} > {tolerance:.1e}; analytic {analytic}, numerical {numerical}"
            ),
        });
    }
    Ok(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn gradient_of_a_cubic() {
        // f(x) = x0³ + x0·x1, ∇f = (3x0² + x1, x0)
        let f = |x: ArrayView1<f64>| x[0].powi(3) + x[0] * x[1];
        let x = array![2.0, -1.0];
        let g = numerical_gradient(f, x.view(), 1e-5).unwrap();
        assert!(
            (g[0] - 11.0).abs() < 1e-8 && (g[1] - 2.0).abs() < 1e-8,
            "{g}"
        );
        assert!(gradient_check(f, x.view(), array![11.0, 2.0].view(), 1e-7).is_ok());
        assert!(gradient_check(f, x.view(), array![12.0, 2.0].view(), 1e-7).is_err());
    }
}
