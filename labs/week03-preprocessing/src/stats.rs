//! Statistics from scratch: the numbers that summarise a column.
//!
//! Every function takes a column of finite values: missing values (NaN) must be imputed or
//! dropped first, and an empty column has no statistics, so both are errors.

use ndarray::ArrayView1;
use wb_core::{MlError, Result, check_data, check_len};

// ANCHOR: mean_variance
/// The arithmetic mean `Σ x_i / n`.
///
/// x: [n]
pub fn mean(x: ArrayView1<f64>) -> Result<f64> {
    check_data("x", &x)?;
    // BEGIN SOLUTION mean_variance
    Ok(x.sum() / x.len() as f64)
    // END SOLUTION
}

/// The variance `Σ (x_i − mean)² / (n − ddof)`.
///
/// `ddof = 0` is the *population* variance (numpy's default, `np.var(x)`); `ddof = 1` the
/// *sample* variance (`np.var(x, ddof=1)`, pandas' default), which corrects for measuring the
/// spread around the sample's own mean rather than the true one. Needs n > ddof.
///
/// x: [n]
pub fn variance(x: ArrayView1<f64>, ddof: usize) -> Result<f64> {
    check_data("x", &x)?;
    if x.len() <= ddof {
        return Err(MlError::InvalidArgument {
            arg: "ddof".into(),
            detail: format!(
                "{} value(s) with ddof = {ddof}: need more values than ddof",
                x.len()
            ),
        });
    }
    // BEGIN SOLUTION mean_variance
    let m = mean(x)?;
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    Ok(ss / (x.len() - ddof) as f64)
    // END SOLUTION
}

/// The standard deviation: the square root of [`variance`], in the units of `x`.
///
/// x: [n]
pub fn std_dev(x: ArrayView1<f64>, ddof: usize) -> Result<f64> {
    Ok(variance(x, ddof)?.sqrt())
}
// ANCHOR_END: mean_variance

// ANCHOR: quantile
/// The `q`-quantile, `q` in [0, 1], with numpy's default rule (`method="linear"`): sort the
/// values, go to position `h = (n − 1)·q` and interpolate linearly between the two values around
/// it: `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋])`.
///
/// x: [n]
pub fn quantile(x: ArrayView1<f64>, q: f64) -> Result<f64> {
    check_data("x", &x)?;
    if !(0.0..=1.0).contains(&q) {
        return Err(MlError::InvalidArgument {
            arg: "q".into(),
            detail: format!("a quantile must be in [0, 1], got {q}"),
        });
    }
    // BEGIN SOLUTION quantile
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Ok(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
    // END SOLUTION
}

/// The median: the middle value, or the mean of the two middle values (the 0.5-quantile).
///
/// x: [n]
pub fn median(x: ArrayView1<f64>) -> Result<f64> {
    quantile(x, 0.5)
}
// ANCHOR_END: quantile

// ANCHOR: covariance
/// The covariance `Σ (x_i − x̄)(y_i − ȳ) / (n − ddof)`: positive when the two move together.
/// `ddof = 1` matches `np.cov(x, y)[0, 1]`.
///
/// x: [n], y: [n]
pub fn covariance(x: ArrayView1<f64>, y: ArrayView1<f64>, ddof: usize) -> Result<f64> {
    check_data("x", &x)?;
    check_data("y", &y)?;
    check_len("y", y.len(), x.len(), "one value per value of x")?;
    if x.len() <= ddof {
        return Err(MlError::InvalidArgument {
            arg: "ddof".into(),
            detail: format!(
                "{} pair(s) with ddof = {ddof}: need more pairs than ddof",
                x.len()
            ),
        });
    }
    // BEGIN SOLUTION covariance
    let (mx, my) = (mean(x)?, mean(y)?);
    let s: f64 = x
        .iter()
        .zip(y.iter())
        .map(|(a, b)| (a - mx) * (b - my))
        .sum();
    Ok(s / (x.len() - ddof) as f64)
    // END SOLUTION
}

/// Pearson's correlation `cov(x, y) / (σ_x σ_y)`, in [−1, 1]: covariance without units.
/// A constant column has no spread, so its correlation is undefined: an error.
///
/// x: [n], y: [n]
pub fn correlation(x: ArrayView1<f64>, y: ArrayView1<f64>) -> Result<f64> {
    let cov = covariance(x, y, 1)?;
    // BEGIN SOLUTION covariance
    let (sx, sy) = (std_dev(x, 1)?, std_dev(y, 1)?);
    if sx == 0.0 || sy == 0.0 {
        return Err(MlError::InvalidArgument {
            arg: if sx == 0.0 { "x" } else { "y" }.into(),
            detail: "a constant column has no spread, so its correlation is undefined".into(),
        });
    }
    Ok((cov / (sx * sy)).clamp(-1.0, 1.0))
    // END SOLUTION
}
// ANCHOR_END: covariance

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_worked_statistics() {
        let x = array![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(x.view()).unwrap(), 5.0);
        assert_eq!(variance(x.view(), 0).unwrap(), 4.0);
        assert_eq!(std_dev(x.view(), 0).unwrap(), 2.0);
        assert_eq!(variance(x.view(), 1).unwrap(), 32.0 / 7.0);
        assert_eq!(median(x.view()).unwrap(), 4.5);
        // h = 7 · 0.25 = 1.75 → 4 + 0.75 · (4 − 4) = 4
        assert_eq!(quantile(x.view(), 0.25).unwrap(), 4.0);
        assert_eq!(quantile(array![1.0, 2.0].view(), 0.3).unwrap(), 1.3);
        let y = array![1.0, 2.0, 3.0];
        assert_eq!(covariance(y.view(), (&y * 2.0).view(), 1).unwrap(), 2.0);
        assert!((correlation(y.view(), (-&y).view()).unwrap() + 1.0).abs() < 1e-15);
    }

    #[test]
    fn bad_input_is_an_error() {
        let empty = ndarray::Array1::<f64>::zeros(0);
        assert!(mean(empty.view()).is_err());
        assert!(variance(array![f64::NAN, 1.0].view(), 0).is_err());
        assert!(variance(array![1.0].view(), 1).is_err());
        assert!(quantile(array![1.0].view(), 1.5).is_err());
        assert!(correlation(array![1.0, 1.0].view(), array![1.0, 2.0].view()).is_err());
    }
}
