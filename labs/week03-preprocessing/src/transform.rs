//! Preprocessing from scratch with scikit-learn's pattern: `fit` learns parameters from the
//! training rows, `transform` applies them to any rows and never changes them.
//!
//! Missing numbers are `NaN` (as in numpy and scikit-learn's `SimpleImputer`); missing
//! categories are empty strings.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use wb_core::{MlError, Result, check_len, check_non_empty};

/// A step of a preprocessing pipeline on numeric columns.
pub trait Transformer {
    /// Learns the step's parameters from the training rows. x: [n_samples, n_features]
    fn fit(&mut self, x: ArrayView2<f64>) -> Result<()>;
    /// Applies the learned parameters; never changes them. x: [n_samples, n_features] → [n_samples, n_out]
    fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>>;
    /// `fit`, then `transform` of the same rows.
    fn fit_transform(&mut self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.fit(x)?;
        self.transform(x)
    }
    /// The step's name in reports and errors.
    fn name(&self) -> &'static str;
}

fn not_fitted(name: &str) -> MlError {
    MlError::InvalidArgument {
        arg: name.into(),
        detail: "not fitted: call fit on the training rows first".into(),
    }
}

fn check_columns(name: &str, x: ArrayView2<f64>, expected: usize) -> Result<()> {
    check_len(
        &format!("x (columns) given to {name}"),
        x.ncols(),
        expected,
        "the number of columns seen by fit",
    )
}

/// Fails on infinities, and on NaN unless `allow_nan` (imputers are the only steps that accept
/// missing values).
fn check_values(name: &str, x: ArrayView2<f64>, allow_nan: bool) -> Result<()> {
    check_non_empty("x", &x)?;
    if let Some(((i, j), v)) = x
        .indexed_iter()
        .find(|(_, v)| v.is_infinite() || (!allow_nan && v.is_nan()))
    {
        let hint = if v.is_nan() {
            ": impute missing values before this step"
        } else {
            ""
        };
        return Err(MlError::NonFinite {
            arg: format!("x given to {name}{hint}"),
            index: format!("(row {i}, column {j})"),
            value: *v,
        });
    }
    Ok(())
}

/// How [`SimpleImputer`] fills a missing value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ImputeStrategy {
    Mean,
    Median,
    /// The most frequent value; the smallest of them on a tie (as scikit-learn).
    MostFrequent,
}

/// Replaces NaN in each column by a statistic of that column's training values.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleImputer {
    pub strategy: ImputeStrategy,
    /// statistics: [n_features], learned by fit
    pub statistics: Option<Array1<f64>>,
}

impl SimpleImputer {
    pub fn new(strategy: ImputeStrategy) -> Self {
        Self {
            strategy,
            statistics: None,
        }
    }
}

// ANCHOR: imputer
/// The statistic of one column's present (non-NaN) values, or an error if it has none.
fn column_statistic(strategy: ImputeStrategy, column: ArrayView1<f64>, j: usize) -> Result<f64> {
    let mut present: Vec<f64> = column.iter().copied().filter(|v| !v.is_nan()).collect();
    if present.is_empty() {
        return Err(MlError::Empty {
            arg: format!("column {j}"),
            detail: "every value is missing, so there is nothing to learn a fill value from".into(),
        });
    }
    // BEGIN SOLUTION imputer
    present.sort_by(f64::total_cmp);
    let n = present.len();
    Ok(match strategy {
        ImputeStrategy::Mean => present.iter().sum::<f64>() / n as f64,
        ImputeStrategy::Median => {
            if n % 2 == 1 {
                present[n / 2]
            } else {
                (present[n / 2 - 1] + present[n / 2]) / 2.0
            }
        }
        ImputeStrategy::MostFrequent => {
            // Sorted, so equal values are neighbours; `>` keeps the smallest on a tie.
            let (mut best, mut best_count, mut i) = (present[0], 0, 0);
            while i < n {
                let run = present[i..]
                    .iter()
                    .take_while(|&&v| v == present[i])
                    .count();
                if run > best_count {
                    best = present[i];
                    best_count = run;
                }
                i += run;
            }
            best
        }
    })
    // END SOLUTION
}
// ANCHOR_END: imputer

impl Transformer for SimpleImputer {
    fn fit(&mut self, x: ArrayView2<f64>) -> Result<()> {
        check_values(self.name(), x, true)?;
        let stats = x
            .axis_iter(Axis(1))
            .enumerate()
            .map(|(j, col)| column_statistic(self.strategy, col, j))
            .collect::<Result<Array1<f64>>>()?;
        self.statistics = Some(stats);
        Ok(())
    }

    fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let stats = self
            .statistics
            .as_ref()
            .ok_or_else(|| not_fitted(self.name()))?;
        check_values(self.name(), x, true)?;
        check_columns(self.name(), x, stats.len())?;
        let mut out = x.to_owned();
        for (mut col, &fill) in out.axis_iter_mut(Axis(1)).zip(stats.iter()) {
            col.mapv_inplace(|v| if v.is_nan() { fill } else { v });
        }
        Ok(out)
    }

    fn name(&self) -> &'static str {
        "SimpleImputer"
    }
}

/// `(x − mean) / std` per column (population std, as scikit-learn); a constant column gets
/// scale 1, so it maps to 0 instead of dividing by zero.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StandardScaler {
    /// (mean, scale), each [n_features], learned by fit
    pub params: Option<(Array1<f64>, Array1<f64>)>,
}

/// `(x − min) / (max − min)` per column, into [0, 1] on the training rows; a constant column gets
/// range 1, so it maps to 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinMaxScaler {
    /// (min, range), each [n_features], learned by fit
    pub params: Option<(Array1<f64>, Array1<f64>)>,
}

// ANCHOR: scalers
impl Transformer for StandardScaler {
    fn fit(&mut self, x: ArrayView2<f64>) -> Result<()> {
        check_values(self.name(), x, false)?;
        // BEGIN SOLUTION scalers
        let n = x.nrows() as f64;
        let mean = x.sum_axis(Axis(0)) / n;
        let var = (&x - &mean).mapv(|v| v * v).sum_axis(Axis(0)) / n;
        let scale = var.mapv(|v| if v > 0.0 { v.sqrt() } else { 1.0 });
        self.params = Some((mean, scale));
        Ok(())
        // END SOLUTION
    }

    fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let (mean, scale) = self
            .params
            .as_ref()
            .ok_or_else(|| not_fitted(self.name()))?;
        check_values(self.name(), x, false)?;
        check_columns(self.name(), x, mean.len())?;
        Ok((&x - mean) / scale)
    }

    fn name(&self) -> &'static str {
        "StandardScaler"
    }
}

impl Transformer for MinMaxScaler {
    fn fit(&mut self, x: ArrayView2<f64>) -> Result<()> {
        check_values(self.name(), x, false)?;
        // BEGIN SOLUTION scalers
        let min = x.fold_axis(Axis(0), f64::INFINITY, |m, &v| m.min(v));
        let max = x.fold_axis(Axis(0), f64::NEG_INFINITY, |m, &v| m.max(v));
        let range = (&max - &min).mapv(|r| if r > 0.0 { r } else { 1.0 });
        self.params = Some((min, range));
        Ok(())
        // END SOLUTION
    }

    fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let (min, range) = self
            .params
            .as_ref()
            .ok_or_else(|| not_fitted(self.name()))?;
        check_values(self.name(), x, false)?;
        check_columns(self.name(), x, min.len())?;
        Ok((&x - min) / range)
    }

    fn name(&self) -> &'static str {
        "MinMaxScaler"
    }
}
// ANCHOR_END: scalers

// ANCHOR: pipeline
/// Steps applied in order: `fit` fits each step on the output of the previous one (training rows
/// only); `transform` runs the fitted steps.
#[derive(Default)]
pub struct Pipeline {
    pub steps: Vec<Box<dyn Transformer + Send>>,
}

impl Pipeline {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn then(mut self, step: impl Transformer + Send + 'static) -> Self {
        self.steps.push(Box::new(step));
        self
    }
}

impl Transformer for Pipeline {
    fn fit(&mut self, x: ArrayView2<f64>) -> Result<()> {
        if self.steps.is_empty() {
            return Err(MlError::InvalidArgument {
                arg: "pipeline".into(),
                detail: "has no steps".into(),
            });
        }
        // BEGIN SOLUTION pipeline
        let mut current = x.to_owned();
        for step in &mut self.steps {
            current = step.fit_transform(current.view())?;
        }
        Ok(())
        // END SOLUTION
    }

    fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        if self.steps.is_empty() {
            return Err(not_fitted(self.name()));
        }
        // BEGIN SOLUTION pipeline
        let mut current = x.to_owned();
        for step in &self.steps {
            current = step.transform(current.view())?;
        }
        Ok(current)
        // END SOLUTION
    }

    fn name(&self) -> &'static str {
        "Pipeline"
    }
}
// ANCHOR_END: pipeline

/// What [`OneHotEncoder::transform`] does with a category it did not see in training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HandleUnknown {
    /// Refuse the input, naming the column and the value (scikit-learn's default).
    Error,
    /// Encode it as all zeros in that column's block.
    Ignore,
}

/// One column of 0/1 per category seen in training, for each input column of strings.
#[derive(Debug, Clone, PartialEq)]
pub struct OneHotEncoder {
    pub handle_unknown: HandleUnknown,
    /// categories[j]: the sorted distinct values of input column j, learned by fit
    pub categories: Option<Vec<Vec<String>>>,
}

fn check_no_missing(x: ArrayView2<String>) -> Result<()> {
    if x.is_empty() {
        return Err(MlError::Empty {
            arg: "x".into(),
            detail: format!("shape {}", wb_core::shape_str(x.shape())),
        });
    }
    if let Some(((i, j), _)) = x.indexed_iter().find(|(_, v)| v.trim().is_empty()) {
        return Err(MlError::InvalidArgument {
            arg: format!("x (row {i}, column {j})"),
            detail: "missing category (empty string): impute it first, for example with the most frequent one".into(),
        });
    }
    Ok(())
}

impl OneHotEncoder {
    pub fn new(handle_unknown: HandleUnknown) -> Self {
        Self {
            handle_unknown,
            categories: None,
        }
    }

    // ANCHOR: one_hot
    /// Learns the sorted categories of each column. x: [n_samples, n_columns] of strings
    pub fn fit(&mut self, x: ArrayView2<String>) -> Result<()> {
        check_no_missing(x)?;
        // BEGIN SOLUTION one_hot
        let categories = x
            .axis_iter(Axis(1))
            .map(|col| {
                let mut cats: Vec<String> = col.iter().cloned().collect();
                cats.sort();
                cats.dedup();
                cats
            })
            .collect();
        self.categories = Some(categories);
        Ok(())
        // END SOLUTION
    }

    /// x: [n_samples, n_columns] → [n_samples, Σ categories per column]
    pub fn transform(&self, x: ArrayView2<String>) -> Result<Array2<f64>> {
        let cats = self
            .categories
            .as_ref()
            .ok_or_else(|| not_fitted("OneHotEncoder"))?;
        check_no_missing(x)?;
        check_len(
            "x (columns) given to OneHotEncoder",
            x.ncols(),
            cats.len(),
            "the number of columns seen by fit",
        )?;
        // BEGIN SOLUTION one_hot
        let width: usize = cats.iter().map(Vec::len).sum();
        let mut out = Array2::zeros((x.nrows(), width));
        for (i, row) in x.axis_iter(Axis(0)).enumerate() {
            let mut offset = 0;
            for (j, value) in row.iter().enumerate() {
                match cats[j].binary_search(value) {
                    Ok(k) => out[[i, offset + k]] = 1.0,
                    Err(_) if self.handle_unknown == HandleUnknown::Ignore => {}
                    Err(_) => {
                        return Err(MlError::InvalidArgument {
                            arg: format!("x (row {i}, column {j})"),
                            detail: format!(
                                "unknown category `{value}`; the categories seen in training are {:?}",
                                cats[j]
                            ),
                        });
                    }
                }
                offset += cats[j].len();
            }
        }
        Ok(out)
        // END SOLUTION
    }
    // ANCHOR_END: one_hot

    /// Output column names, `input=category`, in output order.
    pub fn feature_names(&self, input_names: &[&str]) -> Result<Vec<String>> {
        let cats = self
            .categories
            .as_ref()
            .ok_or_else(|| not_fitted("OneHotEncoder"))?;
        check_len(
            "input_names",
            input_names.len(),
            cats.len(),
            "one name per input column",
        )?;
        Ok(input_names
            .iter()
            .zip(cats)
            .flat_map(|(name, cs)| cs.iter().map(move |c| format!("{name}={c}")))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn imputers_fill_with_training_statistics() {
        let x = array![[1.0, f64::NAN], [3.0, 2.0], [f64::NAN, 2.0], [3.0, 5.0]];
        for (strategy, expected) in [
            (ImputeStrategy::Mean, array![7.0 / 3.0, 3.0]),
            (ImputeStrategy::Median, array![3.0, 2.0]),
            (ImputeStrategy::MostFrequent, array![3.0, 2.0]),
        ] {
            let mut imp = SimpleImputer::new(strategy);
            let out = imp.fit_transform(x.view()).unwrap();
            assert_eq!(imp.statistics.as_ref().unwrap(), &expected, "{strategy:?}");
            assert_eq!(out[[2, 0]], expected[0]);
        }
        let all_missing = array![[1.0, f64::NAN], [2.0, f64::NAN]];
        let err = SimpleImputer::new(ImputeStrategy::Mean)
            .fit(all_missing.view())
            .unwrap_err();
        assert!(err.to_string().contains("column 1"), "{err}");
    }

    #[test]
    fn scalers_handle_constant_columns() {
        let x = array![[1.0, 7.0], [3.0, 7.0]];
        let mut s = StandardScaler::default();
        assert_eq!(
            s.fit_transform(x.view()).unwrap(),
            array![[-1.0, 0.0], [1.0, 0.0]]
        );
        let mut m = MinMaxScaler::default();
        assert_eq!(
            m.fit_transform(x.view()).unwrap(),
            array![[0.0, 0.0], [1.0, 0.0]]
        );
        assert!(
            StandardScaler::default().transform(x.view()).is_err(),
            "not fitted"
        );
        assert!(s.fit(array![[f64::NAN]].view()).is_err());
    }

    #[test]
    fn one_hot_with_unknown_categories() {
        let train = array![
            ["b".to_string(), "x".to_string()],
            ["a".to_string(), "x".to_string()]
        ];
        let test = array![["c".to_string(), "x".to_string()]];
        let mut enc = OneHotEncoder::new(HandleUnknown::Error);
        enc.fit(train.view()).unwrap();
        assert_eq!(
            enc.transform(train.view()).unwrap(),
            array![[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]]
        );
        let err = enc.transform(test.view()).unwrap_err().to_string();
        assert!(err.contains("unknown category `c`"), "{err}");
        enc.handle_unknown = HandleUnknown::Ignore;
        assert_eq!(enc.transform(test.view()).unwrap(), array![[0.0, 0.0, 1.0]]);
        assert_eq!(
            enc.feature_names(&["g", "h"]).unwrap(),
            ["g=a", "g=b", "h=x"]
        );
        let missing = array![["".to_string()]];
        assert!(
            OneHotEncoder::new(HandleUnknown::Error)
                .fit(missing.view())
                .is_err()
        );
    }

    #[test]
    fn a_pipeline_chains_fitted_steps() {
        let x = array![[1.0], [f64::NAN], [5.0]];
        let mut p = Pipeline::new()
            .then(SimpleImputer::new(ImputeStrategy::Mean))
            .then(MinMaxScaler::default());
        assert_eq!(
            p.fit_transform(x.view()).unwrap(),
            array![[0.0], [0.5], [1.0]]
        );
        assert_eq!(p.transform(array![[9.0]].view()).unwrap(), array![[2.0]]);
    }
}
