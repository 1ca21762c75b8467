//! A small typed table: numeric columns (NaN = missing) and categorical columns (None = missing),
//! the input of the column transformer.

use ndarray::Array1;
use std::path::Path;
use wb_core::{MlError, Result};
use wb_data::{DataError, read_csv};

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers; NaN where missing.
    Num(Array1<f64>),
    /// Categories; None where missing.
    Cat(Vec<Option<String>>),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Num(v) => v.len(),
            Column::Cat(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Column {
        match self {
            Column::Num(v) => Column::Num(idx.iter().map(|&i| v[i]).collect()),
            Column::Cat(v) => Column::Cat(idx.iter().map(|&i| v[i].clone()).collect()),
        }
    }
}

/// Named columns of equal length.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub names: Vec<String>,
    pub columns: Vec<Column>,
}

impl Frame {
    pub fn new(names: Vec<String>, columns: Vec<Column>) -> Result<Self> {
        wb_core::check_len("columns", columns.len(), names.len(), "one column per name")?;
        if let Some(first) = columns.first() {
            for (n, c) in names.iter().zip(&columns) {
                wb_core::check_len(
                    &format!("column `{n}`"),
                    c.len(),
                    first.len(),
                    "the length of the first column",
                )?;
            }
        }
        Ok(Self { names, columns })
    }

    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    pub fn column(&self, name: &str) -> Result<&Column> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.columns[i])
            .ok_or_else(|| MlError::InvalidArgument {
                arg: "column".into(),
                detail: format!(
                    "no column `{name}`; the columns are: {}",
                    self.names.join(", ")
                ),
            })
    }

    pub fn numeric(&self, name: &str) -> Result<&Array1<f64>> {
        match self.column(name)? {
            Column::Num(v) => Ok(v),
            Column::Cat(_) => Err(MlError::InvalidArgument {
                arg: name.into(),
                detail: "is categorical, not numeric".into(),
            }),
        }
    }

    pub fn categorical(&self, name: &str) -> Result<&[Option<String>]> {
        match self.column(name)? {
            Column::Cat(v) => Ok(v),
            Column::Num(_) => Err(MlError::InvalidArgument {
                arg: name.into(),
                detail: "is numeric, not categorical".into(),
            }),
        }
    }

    /// The rows `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Frame {
        Frame {
            names: self.names.clone(),
            columns: self.columns.iter().map(|c| c.select(idx)).collect(),
        }
    }
}

/// The credit data's numeric columns.
pub const NUMERIC: [&str; 9] = [
    "Seniority",
    "Time",
    "Age",
    "Expenses",
    "Income",
    "Assets",
    "Debt",
    "Amount",
    "Price",
];
/// The numeric columns with a long right tail (log-transformed by the pipelines).
pub const SKEWED: [&str; 5] = ["Income", "Assets", "Debt", "Amount", "Price"];
/// The credit data's categorical columns.
pub const CATEGORICAL: [&str; 4] = ["Home", "Marital", "Records", "Job"];

/// The credit data: the frame of features and the target (1 = bad credit, the case to catch).
pub fn load_credit(path: &Path) -> Result<(Frame, Vec<usize>), DataError> {
    let t = read_csv(path)?;
    let status = t
        .headers
        .iter()
        .position(|h| h == "Status")
        .ok_or_else(|| DataError::UnknownColumn {
            path: path.to_path_buf(),
            name: "Status".into(),
            available: t.headers.clone(),
        })?;
    let categorical = ["Home", "Marital", "Records", "Job"];
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for (j, h) in t.headers.iter().enumerate() {
        if j == status {
            continue;
        }
        names.push(h.clone());
        let cells = t.rows.iter().map(|r| r[j].trim());
        if categorical.contains(&h.as_str()) {
            columns.push(Column::Cat(
                cells
                    .map(|c| (!c.is_empty() && c != "NA").then(|| c.to_string()))
                    .collect(),
            ));
        } else {
            let mut v = Vec::with_capacity(t.rows.len());
            for (i, c) in cells.enumerate() {
                v.push(if c.is_empty() || c == "NA" {
                    f64::NAN
                } else {
                    c.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| DataError::Malformed {
                            path: path.to_path_buf(),
                            line: i as u64 + 2,
                            column: Some(h.clone()),
                            detail: format!("`{c}` is not a number"),
                        })?
                });
            }
            columns.push(Column::Num(Array1::from(v)));
        }
    }
    let mut y = Vec::with_capacity(t.rows.len());
    for (i, r) in t.rows.iter().enumerate() {
        y.push(match r[status].trim() {
            "bad" => 1,
            "good" => 0,
            other => {
                return Err(DataError::Malformed {
                    path: path.to_path_buf(),
                    line: i as u64 + 2,
                    column: Some("Status".into()),
                    detail: format!("`{other}` is neither `good` nor `bad`"),
                });
            }
        });
    }
    Ok((Frame { names, columns }, y))
}
