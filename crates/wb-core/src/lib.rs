//! Errors and input checks shared by every lab.
//!
//! Every public lab function that takes data validates it first and returns an [`MlError`] that
//! says which argument was wrong, what was expected and what came, instead of panicking.

pub mod lab;

/// A `cargo` command for a cargo run from inside another (`workbook grade`, the grader's every-lab
/// runner, the end-to-end tests): `$CARGO` when set, without the variables the outer cargo set
/// for its process (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …). Passed on, they reach build scripts
/// that watch them (ring's watches `CARGO_MANIFEST_DIR`), which then rebuild half the dependency
/// tree — and again at the next plain cargo command.
pub fn nested_cargo() -> std::process::Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let injected = key.starts_with("CARGO_PKG_")
            || matches!(
                key.as_ref(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "OUT_DIR"
            );
        if injected {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

use ndarray::{ArrayBase, Data, Dimension};
use thiserror::Error;

/// What can go wrong when a lab function is given data.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MlError {
    /// Two arguments (or an argument and a parameter) have shapes that do not fit together.
    #[error("shape mismatch in `{arg}`: expected {expected}, got {got}")]
    ShapeMismatch {
        arg: String,
        expected: String,
        got: String,
    },
    /// An argument has no rows or no elements.
    #[error("`{arg}` is empty: {detail}")]
    Empty { arg: String, detail: String },
    /// An argument holds NaN or an infinity.
    #[error("`{arg}` holds a non-finite value ({value}) at index {index}")]
    NonFinite {
        arg: String,
        index: String,
        value: f64,
    },
    /// A linear system has no unique solution (for example collinear columns).
    #[error("singular system: {0}")]
    Singular(String),
    /// A parameter is outside its allowed range.
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    /// An iterative method produced NaN or infinity: usually a learning rate that is too large.
    #[error("diverged: {0}")]
    Diverged(String),
}

/// The workbook's result type.
pub type Result<T, E = MlError> = std::result::Result<T, E>;

/// Shape as `[a, b, …]`, the way the docs and error messages write it.
pub fn shape_str(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Fails unless `a` has at least one element.
pub fn check_non_empty<S, D>(arg: &str, a: &ArrayBase<S, D>) -> Result<()>
where
    S: Data<Elem = f64>,
    D: Dimension,
{
    if a.is_empty() {
        return Err(MlError::Empty {
            arg: arg.to_string(),
            detail: format!("shape {}", shape_str(a.shape())),
        });
    }
    Ok(())
}

/// Fails on the first NaN or infinite value, naming its index.
pub fn check_finite<S, D>(arg: &str, a: &ArrayBase<S, D>) -> Result<()>
where
    S: Data<Elem = f64>,
    D: Dimension,
{
    // The common case first, at memory speed: a branch-free pass over contiguous data (no index
    // bookkeeping); only data that holds a bad value pays for finding where.
    let all_finite = match a.as_slice_memory_order() {
        Some(values) => values.iter().fold(true, |ok, v| ok & v.is_finite()),
        None => a.iter().all(|v| v.is_finite()),
    };
    if all_finite {
        return Ok(());
    }
    if let Some((idx, v)) = a.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(MlError::NonFinite {
            arg: arg.to_string(),
            index: format!("{idx:?}"),
            value: *v,
        });
    }
    Ok(())
}

/// Fails unless `a` is non-empty and every value is finite.
pub fn check_data<S, D>(arg: &str, a: &ArrayBase<S, D>) -> Result<()>
where
    S: Data<Elem = f64>,
    D: Dimension,
{
    check_non_empty(arg, a)?;
    check_finite(arg, a)
}

/// Fails unless `got == expected`, with a message naming `arg` and what the length must match.
pub fn check_len(arg: &str, got: usize, expected: usize, because: &str) -> Result<()> {
    if got != expected {
        return Err(MlError::ShapeMismatch {
            arg: arg.to_string(),
            expected: format!("length {expected} ({because})"),
            got: format!("length {got}"),
        });
    }
    Ok(())
}

/// Fails unless `value` is finite and strictly positive.
pub fn check_positive(arg: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value > 0.0) {
        return Err(MlError::InvalidArgument {
            arg: arg.to_string(),
            detail: format!("must be a finite number > 0, got {value}"),
        });
    }
    Ok(())
}

/// The share of predictions equal to their label: `y_true` and `y_pred` of the same length, at
/// least one.
pub fn accuracy<T: PartialEq>(y_true: &[T], y_pred: &[T]) -> Result<f64> {
    if y_true.is_empty() {
        return Err(MlError::Empty {
            arg: "y_true".into(),
            detail: "no labels to compare".into(),
        });
    }
    check_len(
        "y_pred",
        y_pred.len(),
        y_true.len(),
        "one prediction per label",
    )?;
    let hits = y_true.iter().zip(y_pred).filter(|(a, b)| a == b).count();
    Ok(hits as f64 / y_true.len() as f64)
}

/// The index of each row's largest value (the first one on ties; NaN never wins).
///
/// a: [n, k] with k ≥ 1 → [n]
pub fn argmax_rows<S: Data<Elem = f64>>(a: &ArrayBase<S, ndarray::Ix2>) -> Result<Vec<usize>> {
    if a.ncols() == 0 {
        return Err(MlError::Empty {
            arg: "a".into(),
            detail: format!("shape {}: no column to choose from", shape_str(a.shape())),
        });
    }
    Ok(a.rows()
        .into_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
                    if v > bv { (i, v) } else { (bi, bv) }
                })
                .0
        })
        .collect())
}

/// Checks a supervised data set: `x` non-empty and finite, `y` one label per row of `x`.
///
/// x: [n, d], y: [n]
pub fn check_xy<S: Data<Elem = f64>, T>(x: &ArrayBase<S, ndarray::Ix2>, y: &[T]) -> Result<()> {
    check_data("x", x)?;
    check_len("y", y.len(), x.nrows(), "one label per row of x")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn finite_check_names_the_index() {
        let a = array![[1.0, 2.0], [f64::NAN, 4.0]];
        let err = check_finite("x", &a).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`x` holds a non-finite value (NaN) at index (1, 0)"
        );
    }

    #[test]
    fn empty_check_reports_the_shape() {
        let a = ndarray::Array2::<f64>::zeros((0, 3));
        let err = check_data("x", &a).unwrap_err();
        assert_eq!(err.to_string(), "`x` is empty: shape [0, 3]");
    }

    #[test]
    fn len_and_positive_checks() {
        assert!(check_len("y", 3, 3, "one per row of x").is_ok());
        let err = check_len("y", 2, 3, "one per row of x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "shape mismatch in `y`: expected length 3 (one per row of x), got length 2"
        );
        assert!(check_positive("lr", 0.1).is_ok());
        assert!(check_positive("lr", 0.0).is_err());
        assert!(check_positive("lr", f64::INFINITY).is_err());
    }

    #[test]
    fn accuracy_argmax_and_xy() {
        assert_eq!(accuracy(&[1, 2, 3, 4], &[1, 0, 3, 0]).unwrap(), 0.5);
        let err = accuracy::<u8>(&[], &[]).unwrap_err().to_string();
        assert_eq!(err, "`y_true` is empty: no labels to compare");
        assert!(accuracy(&[1, 2], &[1]).is_err());
        let a = array![[0.1, 0.7, 0.2], [3.0, 3.0, -1.0], [f64::NAN, -5.0, -6.0]];
        assert_eq!(argmax_rows(&a).unwrap(), vec![1, 0, 1]);
        assert!(argmax_rows(&ndarray::Array2::<f64>::zeros((2, 0))).is_err());
        let x = array![[1.0], [2.0]];
        assert!(check_xy(&x, &[0, 1]).is_ok());
        let err = check_xy(&x, &[0]).unwrap_err().to_string();
        assert!(err.contains("one label per row of x"), "{err}");
        assert!(check_xy(&array![[f64::NAN]], &[0]).is_err());
    }
}
