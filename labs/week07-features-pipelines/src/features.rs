//! Feature engineering: new columns a model cannot invent by itself — products of features
//! (interactions), coarse bins of a number, and (in `transform.rs`) logarithms and target
//! encodings.

use crate::frame::Frame;
use crate::transform::Transformer;
use ndarray::{Array2, ArrayView1, ArrayView2};
use wb_core::{MlError, Result, check_data};

// ANCHOR: polynomial
/// Degree-2 polynomial features of the columns of x, in scikit-learn's order
/// (`PolynomialFeatures(degree=2, include_bias=False)`): the columns themselves, then every
/// product `x_i·x_j` with i ≤ j (squares included) — or with i < j only when `interaction_only`.
///
/// x: [n, d] → [n, d + d(d+1)/2] (or [n, d + d(d−1)/2])
pub fn polynomial_features(x: ArrayView2<f64>, interaction_only: bool) -> Result<Array2<f64>> {
    check_data("x", &x)?;
    // BEGIN SOLUTION polynomial
    let d = x.ncols();
    let mut pairs = Vec::new();
    for i in 0..d {
        for j in i..d {
            if !(interaction_only && i == j) {
                pairs.push((i, j));
            }
        }
    }
    let mut out = Array2::zeros((x.nrows(), d + pairs.len()));
    out.slice_mut(ndarray::s![.., ..d]).assign(&x);
    for (k, &(i, j)) in pairs.iter().enumerate() {
        let product = &x.column(i) * &x.column(j);
        out.column_mut(d + k).assign(&product);
    }
    Ok(out)
    // END SOLUTION
}
// ANCHOR_END: polynomial

/// The names of [`polynomial_features`]' columns: `a`, `b`, `a*b`, `a^2`, ….
pub fn polynomial_names(names: &[&str], interaction_only: bool) -> Vec<String> {
    let mut out: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    for i in 0..names.len() {
        for j in i..names.len() {
            if i == j && !interaction_only {
                out.push(format!("{}^2", names[i]));
            } else if i != j {
                out.push(format!("{}*{}", names[i], names[j]));
            }
        }
    }
    out
}

// ANCHOR: bins
/// Quantile bin edges: `n_bins + 1` values from the minimum to the maximum at the quantiles
/// `k / n_bins` (numpy's linear rule), duplicates removed (a heavy value can fill several bins).
///
/// x: [n]
pub fn quantile_edges(x: ArrayView1<f64>, n_bins: usize) -> Result<Vec<f64>> {
    check_data("x", &x)?;
    if n_bins < 2 {
        return Err(MlError::InvalidArgument {
            arg: "n_bins".into(),
            detail: format!("need at least 2 bins, got {n_bins}"),
        });
    }
    // BEGIN SOLUTION bins
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let h = (s.len() - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(s.len() - 1);
        s[lo] + (h - lo as f64) * (s[hi] - s[lo])
    };
    let mut edges: Vec<f64> = (0..=n_bins).map(|k| q(k as f64 / n_bins as f64)).collect();
    edges.dedup();
    Ok(edges)
    // END SOLUTION
}

/// The bin of each value: the number of inner edges ≤ it (numpy's
/// `searchsorted(edges[1:-1], x, side="right")`), so values below the first edge go to bin 0 and
/// above the last to the last bin.
pub fn assign_bins(x: ArrayView1<f64>, edges: &[f64]) -> Result<Vec<usize>> {
    check_data("x", &x)?;
    if edges.len() < 2 {
        return Err(MlError::InvalidArgument {
            arg: "edges".into(),
            detail: "need at least two edges".into(),
        });
    }
    // BEGIN SOLUTION bins
    let inner = &edges[1..edges.len() - 1];
    Ok(x.iter()
        .map(|&v| inner.partition_point(|&e| e <= v))
        .collect())
    // END SOLUTION
}
// ANCHOR_END: bins

/// Degree-2 interactions (products, no squares) of numeric columns without missing values,
/// standardised with the training rows' mean and standard deviation of each product.
#[derive(Debug, Clone, PartialEq)]
pub struct Interactions {
    pub columns: Vec<String>,
    /// (mean, std) of each product, learned by fit
    pub scale: Option<Vec<(f64, f64)>>,
}

impl Interactions {
    pub fn new(columns: &[&str]) -> Self {
        Self {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            scale: None,
        }
    }

    fn products(&self, frame: &Frame) -> Result<Array2<f64>> {
        let x = self.matrix(frame)?;
        let all = polynomial_features(x.view(), true)?;
        Ok(all.slice(ndarray::s![.., self.columns.len()..]).to_owned())
    }

    fn matrix(&self, frame: &Frame) -> Result<Array2<f64>> {
        let mut x = Array2::zeros((frame.n_rows(), self.columns.len()));
        for (j, c) in self.columns.iter().enumerate() {
            x.column_mut(j).assign(frame.numeric(c)?);
        }
        Ok(x)
    }
}

impl Transformer for Interactions {
    fn fit(&mut self, frame: &Frame, _y: &[usize]) -> Result<()> {
        let p = self.products(frame)?;
        let scale = p
            .axis_iter(ndarray::Axis(1))
            .map(|c| {
                let sd = c.std(0.0);
                (c.mean().unwrap_or(0.0), if sd > 0.0 { sd } else { 1.0 })
            })
            .collect();
        self.scale = Some(scale);
        Ok(())
    }

    fn transform(&self, frame: &Frame) -> Result<Array2<f64>> {
        let scale = self
            .scale
            .as_ref()
            .ok_or_else(|| MlError::InvalidArgument {
                arg: "Interactions".into(),
                detail: "not fitted".into(),
            })?;
        let mut p = self.products(frame)?;
        for (mut c, &(m, s)) in p.axis_iter_mut(ndarray::Axis(1)).zip(scale) {
            c.mapv_inplace(|v| (v - m) / s);
        }
        Ok(p)
    }

    fn feature_names(&self) -> Result<Vec<String>> {
        let names: Vec<&str> = self.columns.iter().map(String::as_str).collect();
        Ok(polynomial_names(&names, true).split_off(names.len()))
    }
}

/// A numeric column cut into quantile bins learned on the training rows, one-hot encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileBins {
    pub column: String,
    pub n_bins: usize,
    pub edges: Option<Vec<f64>>,
}

impl QuantileBins {
    pub fn new(column: &str, n_bins: usize) -> Self {
        Self {
            column: column.into(),
            n_bins,
            edges: None,
        }
    }
}

impl Transformer for QuantileBins {
    fn fit(&mut self, frame: &Frame, _y: &[usize]) -> Result<()> {
        self.edges = Some(quantile_edges(
            frame.numeric(&self.column)?.view(),
            self.n_bins,
        )?);
        Ok(())
    }

    fn transform(&self, frame: &Frame) -> Result<Array2<f64>> {
        let edges = self
            .edges
            .as_ref()
            .ok_or_else(|| MlError::InvalidArgument {
                arg: "QuantileBins".into(),
                detail: "not fitted".into(),
            })?;
        let bins = assign_bins(frame.numeric(&self.column)?.view(), edges)?;
        let width = edges.len() - 1;
        Ok(Array2::from_shape_fn((bins.len(), width), |(i, k)| {
            f64::from(bins[i] == k)
        }))
    }

    fn feature_names(&self) -> Result<Vec<String>> {
        let edges = self
            .edges
            .as_ref()
            .ok_or_else(|| MlError::InvalidArgument {
                arg: "QuantileBins".into(),
                detail: "not fitted".into(),
            })?;
        Ok(edges
            .windows(2)
            .map(|w| format!("{} in [{}, {})", self.column, w[0], w[1]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_worked_features() {
        let x = array![[2.0, 3.0]];
        assert_eq!(
            polynomial_features(x.view(), false).unwrap(),
            array![[2.0, 3.0, 4.0, 6.0, 9.0]]
        );
        assert_eq!(
            polynomial_features(x.view(), true).unwrap(),
            array![[2.0, 3.0, 6.0]]
        );
        assert_eq!(
            polynomial_names(&["a", "b"], false),
            ["a", "b", "a^2", "a*b", "b^2"]
        );
        let v = array![1.0, 2.0, 3.0, 4.0, 5.0];
        let edges = quantile_edges(v.view(), 2).unwrap();
        assert_eq!(edges, [1.0, 3.0, 5.0]);
        assert_eq!(
            assign_bins(array![0.0, 2.9, 3.0, 9.0].view(), &edges).unwrap(),
            [0, 0, 1, 1]
        );
        assert!(quantile_edges(v.view(), 1).is_err());
    }
}
