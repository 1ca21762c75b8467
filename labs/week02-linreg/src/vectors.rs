//! Vectors, dot products and norms.
//!
//! A data row is a vector; a linear model's prediction is a dot product `w · x + b`; the size of
//! an error is a norm. Everything in this lab is built on these three functions.

use ndarray::ArrayView1;
use wb_core::{Result, check_data, check_len};

// ANCHOR: dot
/// The dot product `a · b = Σ a_i b_i`.
///
/// a: [n], b: [n]
pub fn dot(a: ArrayView1<f64>, b: ArrayView1<f64>) -> Result<f64> {
    check_data("a", &a)?;
    check_data("b", &b)?;
    check_len("b", b.len(), a.len(), "the length of `a`")?;
    // BEGIN SOLUTION dot
    Ok(a.iter().zip(b.iter()).map(|(x, y)| x * y).sum())
    // END SOLUTION
}
// ANCHOR_END: dot

// ANCHOR: norms
/// The Euclidean (L2) norm `‖a‖₂ = √(a · a)`: the length of the arrow.
///
/// a: [n]
pub fn norm_l2(a: ArrayView1<f64>) -> Result<f64> {
    check_data("a", &a)?;
    // BEGIN SOLUTION norms
    // Scale first so that squaring huge or tiny values neither overflows nor underflows.
    let scale = a.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if scale == 0.0 {
        return Ok(0.0);
    }
    let sum_sq: f64 = a.iter().map(|v| (v / scale) * (v / scale)).sum();
    Ok(scale * sum_sq.sqrt())
    // END SOLUTION
}

/// The L1 norm `‖a‖₁ = Σ |a_i|`: the distance walked along the axes.
///
/// a: [n]
pub fn norm_l1(a: ArrayView1<f64>) -> Result<f64> {
    check_data("a", &a)?;
    // BEGIN SOLUTION norms
    Ok(a.iter().map(|v| v.abs()).sum())
    // END SOLUTION
}
// ANCHOR_END: norms

/// The cosine of the angle between `a` and `b`: `a · b / (‖a‖ ‖b‖)`, in [-1, 1].
/// For centred vectors it is their correlation. A zero vector has no direction: an error.
///
/// a: [n], b: [n]
pub fn cosine_similarity(a: ArrayView1<f64>, b: ArrayView1<f64>) -> Result<f64> {
    let ab = dot(a, b)?;
    let (na, nb) = (norm_l2(a)?, norm_l2(b)?);
    if na == 0.0 || nb == 0.0 {
        return Err(wb_core::MlError::InvalidArgument {
            arg: if na == 0.0 { "a" } else { "b" }.into(),
            detail: "a zero vector has no direction, so no angle to another vector".into(),
        });
    }
    Ok((ab / (na * nb)).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_worked_values() {
        let a = array![3.0, 4.0];
        let b = array![-4.0, 3.0];
        assert_eq!(dot(a.view(), b.view()).unwrap(), 0.0);
        assert_eq!(norm_l2(a.view()).unwrap(), 5.0);
        assert_eq!(norm_l1(b.view()).unwrap(), 7.0);
        assert_eq!(cosine_similarity(a.view(), a.view()).unwrap(), 1.0);
        assert_eq!(
            norm_l2(array![1e200, 1e200].view()).unwrap(),
            1e200 * 2f64.sqrt()
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let a = array![1.0, 2.0];
        assert!(dot(a.view(), array![1.0].view()).is_err());
        assert!(norm_l2(array![f64::NAN].view()).is_err());
        assert!(norm_l1(ndarray::Array1::<f64>::zeros(0).view()).is_err());
        assert!(cosine_similarity(a.view(), array![0.0, 0.0].view()).is_err());
    }
}
