//! The mini-project's data: 1,309 Titanic passengers, with the ages of 263 missing.
//!
//! Cleaning turns the CSV's strings into typed columns: `survived` into 1/0, `age` into a number
//! or NaN when missing, the counts into numbers, and `pclass`/`sex` into category strings for the
//! one-hot encoder. The preprocessor is a small column transformer: a numeric pipeline (median
//! imputation, then standardisation) beside a one-hot encoder, fitted on the training rows only.

use crate::transform::{
    HandleUnknown, ImputeStrategy, OneHotEncoder, Pipeline, SimpleImputer, StandardScaler,
    Transformer,
};
use ndarray::{Array1, Array2, ArrayView2, Axis, concatenate};
use std::path::Path;
use wb_core::{MlError, Result, check_len};
use wb_data::{DataError, read_csv};

/// Numeric input columns, in order.
pub const NUMERIC: [&str; 3] = ["age", "sibsp", "parch"];
/// Categorical input columns, in order.
pub const CATEGORICAL: [&str; 2] = ["pclass", "sex"];

/// Typed Titanic columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Titanic {
    /// numeric: [n, 3] — age (NaN when missing), sibsp, parch
    pub numeric: Array2<f64>,
    /// categorical: [n, 2] — pclass (`1st`/`2nd`/`3rd`), sex
    pub categorical: Array2<String>,
    /// survived: [n], 1 = survived
    pub survived: Array1<f64>,
}

impl Titanic {
    /// The rows `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Titanic {
        Titanic {
            numeric: self.numeric.select(Axis(0), idx),
            categorical: self.categorical.select(Axis(0), idx),
            survived: self.survived.select(Axis(0), idx),
        }
    }

    pub fn len(&self) -> usize {
        self.survived.len()
    }

    pub fn is_empty(&self) -> bool {
        self.survived.is_empty()
    }
}

/// Reads and types `titanic.csv`: errors name the line and column of any cell that is not what
/// its column must hold.
pub fn load_titanic(path: &Path) -> Result<Titanic, DataError> {
    let table = read_csv(path)?;
    let col = |name: &str| {
        table
            .headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DataError::UnknownColumn {
                path: path.to_path_buf(),
                name: name.to_string(),
                available: table.headers.clone(),
            })
    };
    let (survived_c, age_c, sibsp_c, parch_c) =
        (col("survived")?, col("age")?, col("sibsp")?, col("parch")?);
    let (class_c, sex_c) = (col("pclass")?, col("sex")?);
    let n = table.rows.len();
    let mut numeric = Array2::zeros((n, 3));
    let mut categorical = Array2::from_elem((n, 2), String::new());
    let mut survived = Array1::zeros(n);
    for (i, row) in table.rows.iter().enumerate() {
        let bad = |c: usize, detail: String| DataError::Malformed {
            path: path.to_path_buf(),
            line: i as u64 + 2,
            column: Some(table.headers[c].clone()),
            detail,
        };
        survived[i] = match row[survived_c].as_str() {
            "survived" => 1.0,
            "died" => 0.0,
            other => {
                return Err(bad(
                    survived_c,
                    format!("`{other}` is neither `survived` nor `died`"),
                ));
            }
        };
        for (k, &c) in [age_c, sibsp_c, parch_c].iter().enumerate() {
            let cell = row[c].trim();
            numeric[[i, k]] = if cell.is_empty() || cell == "NA" {
                if k == 0 {
                    f64::NAN
                } else {
                    return Err(bad(
                        c,
                        "missing value in a column that has none in this data set".into(),
                    ));
                }
            } else {
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => v,
                    _ => return Err(bad(c, format!("`{cell}` is not a non-negative number"))),
                }
            };
        }
        for (k, &c) in [class_c, sex_c].iter().enumerate() {
            categorical[[i, k]] = row[c].trim().to_string();
        }
    }
    Ok(Titanic {
        numeric,
        categorical,
        survived,
    })
}

// ANCHOR: preprocessor
/// Median-impute and standardise the numeric columns, one-hot encode the categorical ones
/// (unknown categories are an error), and put the two blocks side by side.
pub struct TitanicPreprocessor {
    pub numeric: Pipeline,
    pub one_hot: OneHotEncoder,
}

impl Default for TitanicPreprocessor {
    fn default() -> Self {
        Self {
            numeric: Pipeline::new()
                .then(SimpleImputer::new(ImputeStrategy::Median))
                .then(StandardScaler::default()),
            one_hot: OneHotEncoder::new(HandleUnknown::Error),
        }
    }
}

impl TitanicPreprocessor {
    /// Fits every step on the training rows.
    pub fn fit(&mut self, numeric: ArrayView2<f64>, categorical: ArrayView2<String>) -> Result<()> {
        check_len(
            "categorical (rows)",
            categorical.nrows(),
            numeric.nrows(),
            "one row per numeric row",
        )?;
        self.numeric.fit(numeric)?;
        self.one_hot.fit(categorical)
    }

    /// x: [n, 3 numeric + one column per category]
    pub fn transform(
        &self,
        numeric: ArrayView2<f64>,
        categorical: ArrayView2<String>,
    ) -> Result<Array2<f64>> {
        check_len(
            "categorical (rows)",
            categorical.nrows(),
            numeric.nrows(),
            "one row per numeric row",
        )?;
        let a = self.numeric.transform(numeric)?;
        let b = self.one_hot.transform(categorical)?;
        concatenate(Axis(1), &[a.view(), b.view()]).map_err(|e| MlError::ShapeMismatch {
            arg: "blocks".into(),
            expected: "the same number of rows".into(),
            got: e.to_string(),
        })
    }

    /// The output columns' names.
    pub fn feature_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = NUMERIC.iter().map(|s| s.to_string()).collect();
        names.extend(self.one_hot.feature_names(&CATEGORICAL)?);
        Ok(names)
    }
}
// ANCHOR_END: preprocessor

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_loads_with_its_missing_ages() {
        let t = load_titanic(&wb_data::dataset("tabular/titanic.csv").unwrap()).unwrap();
        assert_eq!(t.len(), 1309);
        assert_eq!(
            t.numeric.column(0).iter().filter(|v| v.is_nan()).count(),
            263
        );
        assert_eq!(t.survived.sum(), 500.0);
    }

    #[test]
    fn a_bad_cell_is_reported_with_line_and_column() {
        let dir = std::env::temp_dir().join(format!("w03-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.csv");
        std::fs::write(&p, "pclass,survived,sex,age,sibsp,parch\n1st,survived,female,29,0,0\n1st,maybe,male,3,0,0\n").unwrap();
        let err = load_titanic(&p).unwrap_err().to_string();
        assert!(
            err.ends_with("t.csv:3, column `survived`: `maybe` is neither `survived` nor `died`"),
            "{err}"
        );
    }
}
