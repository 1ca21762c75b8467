//! The `Transformer` / column-transformer abstraction: every step learns from the training rows
//! (`fit`), applies what it learned to any rows (`transform`) and names its output columns; a
//! [`ColumnTransformer`] runs several steps side by side and stacks their outputs.

use crate::frame::Frame;
use ndarray::{Array1, Array2, Axis, concatenate};
use std::collections::HashMap;
use wb_core::{MlError, Result};

/// A preprocessing step from a [`Frame`] to numeric features.
pub trait Transformer {
    /// Learns the step's parameters from the training rows (and their targets, for supervised
    /// encoders).
    fn fit(&mut self, frame: &Frame, y: &[usize]) -> Result<()>;
    /// Applies the learned parameters; never changes them. → [n_rows, n_outputs]
    fn transform(&self, frame: &Frame) -> Result<Array2<f64>>;
    /// The names of the output columns, in order.
    fn feature_names(&self) -> Result<Vec<String>>;
    /// Fits on the training rows and returns their features. Target encoding overrides this to
    /// encode each row out of fold.
    fn fit_transform(&mut self, frame: &Frame, y: &[usize]) -> Result<Array2<f64>> {
        self.fit(frame, y)?;
        self.transform(frame)
    }
}

fn not_fitted(step: &str) -> MlError {
    MlError::InvalidArgument {
        arg: step.into(),
        detail: "not fitted: call fit on the training rows first".into(),
    }
}

fn check_rows(frame: &Frame, y: &[usize]) -> Result<()> {
    if frame.n_rows() == 0 {
        return Err(MlError::Empty {
            arg: "frame".into(),
            detail: "no rows to fit on".into(),
        });
    }
    wb_core::check_len("y", y.len(), frame.n_rows(), "one target per row")
}

/// Numeric columns: optionally `ln(1 + x)` (for skewed, non-negative amounts), then the training
/// median for missing values, then standardisation with the training mean and standard deviation.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericPipeline {
    pub columns: Vec<String>,
    /// Columns (among `columns`) that get `ln(1 + x)` first.
    pub log: Vec<String>,
    /// (median, mean, std) per column, learned by fit
    pub params: Option<Vec<(f64, f64, f64)>>,
}

impl NumericPipeline {
    pub fn new(columns: &[&str], log: &[&str]) -> Self {
        Self {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            log: log.iter().map(|s| s.to_string()).collect(),
            params: None,
        }
    }

    fn raw(&self, frame: &Frame, name: &str) -> Result<Array1<f64>> {
        let v = frame.numeric(name)?;
        if self.log.iter().any(|l| l == name) {
            if let Some(bad) = v.iter().find(|x| **x <= -1.0) {
                return Err(MlError::InvalidArgument {
                    arg: name.into(),
                    detail: format!("ln(1 + x) needs x > −1, got {bad}"),
                });
            }
            Ok(v.mapv(f64::ln_1p))
        } else {
            Ok(v.clone())
        }
    }
}

/// The median of the present (non-NaN) values, numpy's rule.
pub fn nan_median(v: &Array1<f64>) -> Option<f64> {
    let mut present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if present.is_empty() {
        return None;
    }
    present.sort_by(f64::total_cmp);
    let n = present.len();
    Some(if n % 2 == 1 {
        present[n / 2]
    } else {
        (present[n / 2 - 1] + present[n / 2]) / 2.0
    })
}

// ANCHOR: numeric_pipeline
impl Transformer for NumericPipeline {
    fn fit(&mut self, frame: &Frame, y: &[usize]) -> Result<()> {
        check_rows(frame, y)?;
        // BEGIN SOLUTION numeric_pipeline
        let mut params = Vec::with_capacity(self.columns.len());
        for name in &self.columns {
            let v = self.raw(frame, name)?;
            let median = nan_median(&v).ok_or_else(|| MlError::Empty {
                arg: format!("column `{name}`"),
                detail: "every value is missing: nothing to learn a fill value from".into(),
            })?;
            let filled = v.mapv(|x| if x.is_nan() { median } else { x });
            let mean = filled.mean().unwrap_or(0.0);
            let sd = filled.std(0.0);
            params.push((median, mean, if sd > 0.0 { sd } else { 1.0 }));
        }
        self.params = Some(params);
        Ok(())
        // END SOLUTION
    }

    fn transform(&self, frame: &Frame) -> Result<Array2<f64>> {
        let params = self
            .params
            .as_ref()
            .ok_or_else(|| not_fitted("NumericPipeline"))?;
        // BEGIN SOLUTION numeric_pipeline
        let mut out = Array2::zeros((frame.n_rows(), self.columns.len()));
        for (j, (name, &(median, mean, sd))) in self.columns.iter().zip(params).enumerate() {
            let v = self.raw(frame, name)?;
            out.column_mut(j)
                .assign(&v.mapv(|x| ((if x.is_nan() { median } else { x }) - mean) / sd));
        }
        Ok(out)
        // END SOLUTION
    }

    fn feature_names(&self) -> Result<Vec<String>> {
        Ok(self
            .columns
            .iter()
            .map(|c| {
                if self.log.contains(c) {
                    format!("log1p({c})")
                } else {
                    c.clone()
                }
            })
            .collect())
    }
}
// ANCHOR_END: numeric_pipeline

/// One 0/1 column per category seen in training, for each categorical column. A missing value is
/// its own category, `missing`; a category unseen in training is all zeros.
#[derive(Debug, Clone, PartialEq)]
pub struct OneHot {
    pub columns: Vec<String>,
    /// sorted categories per column, learned by fit
    pub categories: Option<Vec<Vec<String>>>,
}

impl OneHot {
    pub fn new(columns: &[&str]) -> Self {
        Self {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            categories: None,
        }
    }
}

fn category(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("missing")
}

impl Transformer for OneHot {
    fn fit(&mut self, frame: &Frame, y: &[usize]) -> Result<()> {
        check_rows(frame, y)?;
        let mut all = Vec::new();
        for name in &self.columns {
            let mut cats: Vec<String> = frame
                .categorical(name)?
                .iter()
                .map(|v| category(v).to_string())
                .collect();
            cats.sort();
            cats.dedup();
            all.push(cats);
        }
        self.categories = Some(all);
        Ok(())
    }

    fn transform(&self, frame: &Frame) -> Result<Array2<f64>> {
        let cats = self
            .categories
            .as_ref()
            .ok_or_else(|| not_fitted("OneHot"))?;
        let width: usize = cats.iter().map(Vec::len).sum();
        let mut out = Array2::zeros((frame.n_rows(), width));
        let mut offset = 0;
        for (name, cs) in self.columns.iter().zip(cats) {
            for (i, v) in frame.categorical(name)?.iter().enumerate() {
                if let Ok(k) = cs.binary_search_by(|c| c.as_str().cmp(category(v))) {
                    out[[i, offset + k]] = 1.0;
                }
            }
            offset += cs.len();
        }
        Ok(out)
    }

    fn feature_names(&self) -> Result<Vec<String>> {
        let cats = self
            .categories
            .as_ref()
            .ok_or_else(|| not_fitted("OneHot"))?;
        Ok(self
            .columns
            .iter()
            .zip(cats)
            .flat_map(|(n, cs)| cs.iter().map(move |c| format!("{n}={c}")))
            .collect())
    }
}

/// Per category: (sum of the targets, number of rows).
pub type TargetTable = HashMap<String, (f64, f64)>;

/// Target encoding of one categorical column: each category becomes the smoothed share of
/// positive targets among its training rows, `(n_c·ȳ_c + m·ȳ) / (n_c + m)`, shrunk towards the
/// overall share ȳ when the category is rare. Unseen and missing categories get ȳ.
///
/// `fit_transform` encodes each training row out of fold (row i is in fold `i % folds`, encoded
/// with statistics from the other folds), so that no row's encoding has seen its own target;
/// with `leaky: true` it encodes the training rows with statistics that include them, the mistake
/// this lab measures.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetEncoder {
    pub column: String,
    pub smoothing: f64,
    pub folds: usize,
    pub leaky: bool,
    /// (overall share, per-category (sum of targets, count)), learned by fit on all training rows
    pub table: Option<(f64, TargetTable)>,
}

impl TargetEncoder {
    pub fn new(column: &str, smoothing: f64, folds: usize, leaky: bool) -> Self {
        Self {
            column: column.into(),
            smoothing,
            folds,
            leaky,
            table: None,
        }
    }
}

// ANCHOR: target_encoding
/// (overall share, per-category (Σy, n)) of the rows `rows`.
pub fn target_table(values: &[Option<String>], y: &[usize], rows: &[usize]) -> (f64, TargetTable) {
    // BEGIN SOLUTION target_encoding
    let mut table: TargetTable = HashMap::new();
    let mut total = 0.0;
    for &i in rows {
        let e = table
            .entry(category(&values[i]).to_string())
            .or_insert((0.0, 0.0));
        e.0 += y[i] as f64;
        e.1 += 1.0;
        total += y[i] as f64;
    }
    (total / rows.len().max(1) as f64, table)
    // END SOLUTION
}

/// The smoothed encoding of one value under a table.
pub fn encode(value: &Option<String>, prior: f64, table: &TargetTable, smoothing: f64) -> f64 {
    // BEGIN SOLUTION target_encoding
    match (value, table.get(category(value))) {
        (Some(_), Some(&(sum, n))) => (sum + smoothing * prior) / (n + smoothing),
        _ => prior,
    }
    // END SOLUTION
}

impl Transformer for TargetEncoder {
    fn fit(&mut self, frame: &Frame, y: &[usize]) -> Result<()> {
        check_rows(frame, y)?;
        if self.smoothing.is_nan() || self.smoothing < 0.0 {
            return Err(MlError::InvalidArgument {
                arg: "smoothing".into(),
                detail: format!("must be ≥ 0, got {}", self.smoothing),
            });
        }
        let all: Vec<usize> = (0..frame.n_rows()).collect();
        self.table = Some(target_table(frame.categorical(&self.column)?, y, &all));
        Ok(())
    }

    fn transform(&self, frame: &Frame) -> Result<Array2<f64>> {
        let (prior, table) = self
            .table
            .as_ref()
            .ok_or_else(|| not_fitted("TargetEncoder"))?;
        let values = frame.categorical(&self.column)?;
        Ok(Array2::from_shape_fn((values.len(), 1), |(i, _)| {
            encode(&values[i], *prior, table, self.smoothing)
        }))
    }

    fn feature_names(&self) -> Result<Vec<String>> {
        Ok(vec![format!("target_encoded({})", self.column)])
    }

    fn fit_transform(&mut self, frame: &Frame, y: &[usize]) -> Result<Array2<f64>> {
        self.fit(frame, y)?;
        if self.leaky {
            return self.transform(frame);
        }
        if self.folds < 2 || self.folds > frame.n_rows() {
            return Err(MlError::InvalidArgument {
                arg: "folds".into(),
                detail: format!(
                    "need 2 ≤ folds ≤ {} rows, got {}",
                    frame.n_rows(),
                    self.folds
                ),
            });
        }
        // BEGIN SOLUTION target_encoding
        let values = frame.categorical(&self.column)?;
        let mut out = Array2::zeros((values.len(), 1));
        for f in 0..self.folds {
            let other: Vec<usize> = (0..values.len()).filter(|i| i % self.folds != f).collect();
            let (prior, table) = target_table(values, y, &other);
            for i in (f..values.len()).step_by(self.folds) {
                out[[i, 0]] = encode(&values[i], prior, &table, self.smoothing);
            }
        }
        Ok(out)
        // END SOLUTION
    }
}
// ANCHOR_END: target_encoding

// ANCHOR: column_transformer
/// Several transformers side by side, their outputs stacked left to right.
#[derive(Default)]
pub struct ColumnTransformer {
    pub parts: Vec<Box<dyn Transformer + Send>>,
}

impl ColumnTransformer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, part: impl Transformer + Send + 'static) -> Self {
        self.parts.push(Box::new(part));
        self
    }
}

fn stack(blocks: Vec<Array2<f64>>) -> Result<Array2<f64>> {
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    concatenate(Axis(1), &views).map_err(|e| MlError::ShapeMismatch {
        arg: "blocks".into(),
        expected: "equal row counts".into(),
        got: e.to_string(),
    })
}

impl Transformer for ColumnTransformer {
    fn fit(&mut self, frame: &Frame, y: &[usize]) -> Result<()> {
        self.fit_transform(frame, y).map(|_| ())
    }

    fn transform(&self, frame: &Frame) -> Result<Array2<f64>> {
        if self.parts.is_empty() {
            return Err(MlError::InvalidArgument {
                arg: "ColumnTransformer".into(),
                detail: "has no parts".into(),
            });
        }
        // BEGIN SOLUTION column_transformer
        stack(
            self.parts
                .iter()
                .map(|p| p.transform(frame))
                .collect::<Result<Vec<_>>>()?,
        )
        // END SOLUTION
    }

    fn feature_names(&self) -> Result<Vec<String>> {
        Ok(self
            .parts
            .iter()
            .map(|p| p.feature_names())
            .collect::<Result<Vec<_>>>()?
            .concat())
    }

    fn fit_transform(&mut self, frame: &Frame, y: &[usize]) -> Result<Array2<f64>> {
        if self.parts.is_empty() {
            return Err(MlError::InvalidArgument {
                arg: "ColumnTransformer".into(),
                detail: "has no parts".into(),
            });
        }
        // BEGIN SOLUTION column_transformer
        stack(
            self.parts
                .iter_mut()
                .map(|p| p.fit_transform(frame, y))
                .collect::<Result<Vec<_>>>()?,
        )
        // END SOLUTION
    }
}
// ANCHOR_END: column_transformer
