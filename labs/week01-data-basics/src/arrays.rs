//! Arrays with `ndarray`, the Rust counterpart of numpy.
//!
//! | numpy | ndarray |
//! |---|---|
//! | `np.array([[1, 2], [3, 4]])` | `array![[1., 2.], [3., 4.]]` |
//! | `np.zeros((n, d))` | `Array2::<f64>::zeros((n, d))` |
//! | `np.linspace(a, b, n)` | `Array1::linspace(a, b, n)` |
//! | `x.shape` | `x.shape()` / `x.dim()` |
//! | `x[1, 2]` | `x[[1, 2]]` |
//! | `x[::2, -3:]` | `x.slice(s![..;2, -3..])` |
//! | `x[:, j]` / `x[i, :]` | `x.column(j)` / `x.row(i)` |
//! | `x.mean(axis=0)` | `x.mean_axis(Axis(0))` |
//! | `x.sum(axis=1)` | `x.sum_axis(Axis(1))` |
//! | `x - x.mean(axis=0)` (broadcasting) | `&x - &x.mean_axis(Axis(0)).unwrap()` |
//! | `a @ b.T` | `a.dot(&b.t())` |
//! | `x[x[:, 0] > t]` | `x.select(Axis(0), &rows)` with the rows found first |

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use wb_core::{MlError, Result, check_data, check_len};

// ANCHOR: vandermonde
/// Creation: the matrix whose row i is `[1, x_i, x_i², …, x_i^degree]` — the features of a
/// polynomial model (numpy: `np.vander(x, degree + 1, increasing=True)`).
///
/// x: [n] → [n, degree + 1]
pub fn vandermonde(x: ArrayView1<f64>, degree: usize) -> Result<Array2<f64>> {
    check_data("x", &x)?;
    // BEGIN SOLUTION vandermonde
    Ok(Array2::from_shape_fn((x.len(), degree + 1), |(i, j)| {
        x[i].powi(j as i32)
    }))
    // END SOLUTION
}
// ANCHOR_END: vandermonde

// ANCHOR: slicing
/// Slicing: every other row, starting with the first, and the last `k` columns
/// (numpy: `x[::2, -k:]`).
///
/// x: [n, d] → [⌈n/2⌉, k]
pub fn even_rows_last_columns(x: ArrayView2<f64>, k: usize) -> Result<Array2<f64>> {
    check_data("x", &x)?;
    if k == 0 || k > x.ncols() {
        return Err(MlError::InvalidArgument {
            arg: "k".into(),
            detail: format!(
                "must be between 1 and the {} columns of x, got {k}",
                x.ncols()
            ),
        });
    }
    // BEGIN SOLUTION slicing
    let start = (x.ncols() - k) as isize;
    Ok(x.slice(s![..;2, start..]).to_owned())
    // END SOLUTION
}

/// Boolean indexing: the rows whose column `col` is greater than `threshold`
/// (numpy: `x[x[:, col] > threshold]`).
///
/// x: [n, d] → [m, d]
pub fn rows_where_greater(x: ArrayView2<f64>, col: usize, threshold: f64) -> Result<Array2<f64>> {
    check_data("x", &x)?;
    if col >= x.ncols() {
        return Err(MlError::InvalidArgument {
            arg: "col".into(),
            detail: format!("x has {} columns, there is no column {col}", x.ncols()),
        });
    }
    // BEGIN SOLUTION slicing
    let rows: Vec<usize> = (0..x.nrows())
        .filter(|&i| x[[i, col]] > threshold)
        .collect();
    Ok(x.select(Axis(0), &rows))
    // END SOLUTION
}
// ANCHOR_END: slicing

/// Per-column summaries, computed with reductions along axis 0.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnStats {
    /// each [d]
    pub mean: Array1<f64>,
    pub std: Array1<f64>,
    pub min: Array1<f64>,
    pub max: Array1<f64>,
}

// ANCHOR: reductions
/// Mean, population standard deviation, min and max of each column
/// (numpy: `x.mean(axis=0)`, `x.std(axis=0)`, `x.min(axis=0)`, `x.max(axis=0)`).
///
/// x: [n, d]
pub fn column_stats(x: ArrayView2<f64>) -> Result<ColumnStats> {
    check_data("x", &x)?;
    // BEGIN SOLUTION reductions
    let mean = x.mean_axis(Axis(0)).expect("x has rows");
    let std = x.std_axis(Axis(0), 0.0);
    let min = x.fold_axis(Axis(0), f64::INFINITY, |m, &v| m.min(v));
    let max = x.fold_axis(Axis(0), f64::NEG_INFINITY, |m, &v| m.max(v));
    Ok(ColumnStats {
        mean,
        std,
        min,
        max,
    })
    // END SOLUTION
}

/// The Euclidean length of each row (numpy: `np.linalg.norm(x, axis=1)`).
///
/// x: [n, d] → [n]
pub fn row_norms(x: ArrayView2<f64>) -> Result<Array1<f64>> {
    check_data("x", &x)?;
    // BEGIN SOLUTION reductions
    Ok(x.map_axis(Axis(1), |row| row.dot(&row).sqrt()))
    // END SOLUTION
}
// ANCHOR_END: reductions

// ANCHOR: broadcasting
/// Broadcasting: subtract each column's mean and divide by its standard deviation in one
/// expression, the [d] vectors stretched over the n rows. A constant column becomes 0.
///
/// x: [n, d] → [n, d]
pub fn standardize_columns(x: ArrayView2<f64>) -> Result<Array2<f64>> {
    check_data("x", &x)?;
    // BEGIN SOLUTION broadcasting
    let mean = x.mean_axis(Axis(0)).expect("x has rows"); // [d]
    let std = x
        .std_axis(Axis(0), 0.0)
        .mapv(|s| if s > 0.0 { s } else { 1.0 }); // [d]
    Ok((&x - &mean) / &std)
    // END SOLUTION
}

/// All Euclidean distances between the rows of `a` and the rows of `b`, without a loop:
/// `‖a_i − b_j‖² = ‖a_i‖² + ‖b_j‖² − 2 a_i·b_j`, i.e. a column of squared norms [n, 1] plus a row
/// [1, m] minus twice the matrix product [n, m] (scipy: `cdist(a, b)`).
///
/// a: [n, d], b: [m, d] → [n, m]
pub fn pairwise_distances(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<Array2<f64>> {
    check_data("a", &a)?;
    check_data("b", &b)?;
    check_len(
        "b (columns)",
        b.ncols(),
        a.ncols(),
        "the number of columns of a",
    )?;
    // BEGIN SOLUTION broadcasting
    let aa = a.map_axis(Axis(1), |r| r.dot(&r)).insert_axis(Axis(1)); // [n, 1]
    let bb = b.map_axis(Axis(1), |r| r.dot(&r)).insert_axis(Axis(0)); // [1, m]
    let d2 = &aa + &bb - 2.0 * a.dot(&b.t()); // [n, m]
    // Rounding can leave tiny negatives where the true distance is 0.
    Ok(d2.mapv(|v| v.max(0.0).sqrt()))
    // END SOLUTION
}
// ANCHOR_END: broadcasting

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_worked_arrays() {
        assert_eq!(
            vandermonde(array![2.0, 3.0].view(), 2).unwrap(),
            array![[1.0, 2.0, 4.0], [1.0, 3.0, 9.0]]
        );
        let x = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
        assert_eq!(
            even_rows_last_columns(x.view(), 2).unwrap(),
            array![[2.0, 3.0], [8.0, 9.0]]
        );
        assert_eq!(
            rows_where_greater(x.view(), 0, 3.0).unwrap(),
            array![[4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
        );
        let st = column_stats(x.view()).unwrap();
        assert_eq!(st.mean, array![4.0, 5.0, 6.0]);
        assert_eq!(st.max, array![7.0, 8.0, 9.0]);
        assert_eq!(row_norms(array![[3.0, 4.0]].view()).unwrap(), array![5.0]);
        let d = pairwise_distances(
            array![[0.0, 0.0], [3.0, 4.0]].view(),
            array![[0.0, 0.0]].view(),
        )
        .unwrap();
        assert_eq!(d, array![[0.0], [5.0]]);
        let z = standardize_columns(array![[1.0, 5.0], [3.0, 5.0]].view()).unwrap();
        assert_eq!(z, array![[-1.0, 0.0], [1.0, 0.0]]);
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = array![[1.0, 2.0]];
        assert!(even_rows_last_columns(x.view(), 3).is_err());
        assert!(rows_where_greater(x.view(), 2, 0.0).is_err());
        assert!(pairwise_distances(x.view(), array![[1.0]].view()).is_err());
        assert!(standardize_columns(Array2::<f64>::zeros((0, 2)).view()).is_err());
    }
}
