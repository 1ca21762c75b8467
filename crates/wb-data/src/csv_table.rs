//! CSV files with a header row.

use crate::{DataError, Result, open};
use ndarray::{Array1, Array2, ArrayView1, Axis};
use std::path::{Path, PathBuf};

/// A CSV file as strings: the header and every row, each row as long as the header.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    pub path: PathBuf,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A CSV file whose cells are all numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericTable {
    pub path: PathBuf,
    /// Column names, in file order.
    pub columns: Vec<String>,
    /// data: [n_rows, n_columns]
    pub data: Array2<f64>,
}

/// Reads a CSV file (plain or gzip) with a header row. Every row must have as many fields as the
/// header; an empty file or a file with a header and no rows is an error.
pub fn read_csv(path: &Path) -> Result<CsvTable> {
    let malformed = |line: u64, column: Option<String>, detail: String| DataError::Malformed {
        path: path.to_path_buf(),
        line,
        column,
        detail,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(open(path)?);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| malformed(1, None, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.is_empty() || headers.iter().all(|h| h.is_empty()) {
        return Err(malformed(
            1,
            None,
            "the file is empty: no header row".into(),
        ));
    }
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            return Err(malformed(
                1,
                None,
                format!("header field {} is empty", i + 1),
            ));
        }
        if headers[..i].contains(h) {
            return Err(malformed(
                1,
                Some(h.clone()),
                "duplicate column name".into(),
            ));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            malformed(line, None, e.to_string())
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.len() != headers.len() {
            return Err(malformed(
                line,
                None,
                format!(
                    "{} fields, but the header has {}",
                    record.len(),
                    headers.len()
                ),
            ));
        }
        rows.push(record.iter().map(|s| s.to_string()).collect());
    }
    if rows.is_empty() {
        return Err(malformed(
            1,
            None,
            "the file has a header but no data rows".into(),
        ));
    }
    Ok(CsvTable {
        path: path.to_path_buf(),
        headers,
        rows,
    })
}

/// Reads a CSV file whose every cell is a finite number. A cell that is empty, not a number,
/// NaN or infinite is an error naming its line and column.
pub fn read_numeric_csv(path: &Path) -> Result<NumericTable> {
    let table = read_csv(path)?;
    let (n, m) = (table.rows.len(), table.headers.len());
    let mut data = Array2::<f64>::zeros((n, m));
    for (i, row) in table.rows.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            let cell = cell.trim();
            let problem = match cell.parse::<f64>() {
                Ok(v) if v.is_finite() => {
                    data[[i, j]] = v;
                    continue;
                }
                Ok(v) => format!("{v} is not a finite number"),
                Err(_) if cell.is_empty() => "empty cell (missing value)".to_string(),
                Err(_) => format!("`{cell}` is not a number"),
            };
            return Err(DataError::Malformed {
                path: path.to_path_buf(),
                // Line 1 is the header. (Quoted fields with newlines are not expected here.)
                line: i as u64 + 2,
                column: Some(table.headers[j].clone()),
                detail: problem,
            });
        }
    }
    Ok(NumericTable {
        path: table.path,
        columns: table.headers,
        data,
    })
}

/// Reads a CSV file whose cells are numbers except one text column of class labels (iris'
/// `species`, breast cancer's `diagnosis`). Returns the numeric part as a [`NumericTable`] and the
/// labels, one per row. Errors name the line and column of a bad cell.
pub fn read_labelled_csv(path: &Path, label: &str) -> Result<(NumericTable, Vec<String>)> {
    let table = read_csv(path)?;
    let l = table
        .headers
        .iter()
        .position(|h| h == label)
        .ok_or_else(|| DataError::UnknownColumn {
            path: path.to_path_buf(),
            name: label.to_string(),
            available: table.headers.clone(),
        })?;
    let columns: Vec<String> = table
        .headers
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != l)
        .map(|(_, h)| h.clone())
        .collect();
    let mut data = Array2::<f64>::zeros((table.rows.len(), columns.len()));
    let mut labels = Vec::with_capacity(table.rows.len());
    for (i, row) in table.rows.iter().enumerate() {
        let mut k = 0;
        for (j, cell) in row.iter().enumerate() {
            if j == l {
                labels.push(cell.trim().to_string());
                continue;
            }
            data[[i, k]] = match cell.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => {
                    return Err(DataError::Malformed {
                        path: path.to_path_buf(),
                        line: i as u64 + 2,
                        column: Some(table.headers[j].clone()),
                        detail: format!("`{cell}` is not a finite number"),
                    });
                }
            };
            k += 1;
        }
    }
    Ok((
        NumericTable {
            path: path.to_path_buf(),
            columns,
            data,
        },
        labels,
    ))
}

impl NumericTable {
    /// The position of column `name`, or an error listing the columns there are.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| DataError::UnknownColumn {
                path: self.path.clone(),
                name: name.to_string(),
                available: self.columns.clone(),
            })
    }

    /// The values of column `name`.
    pub fn column(&self, name: &str) -> Result<ArrayView1<'_, f64>> {
        Ok(self.data.column(self.column_index(name)?))
    }

    /// Splits the table into features and target.
    ///
    /// Returns `(x, y, feature_names)` with x: [n_rows, n_columns - 1], y: [n_rows].
    pub fn split_target(&self, target: &str) -> Result<(Array2<f64>, Array1<f64>, Vec<String>)> {
        let t = self.column_index(target)?;
        if self.columns.len() < 2 {
            return Err(DataError::NotFound(format!(
                "{}: `{target}` is the only column, so there are no features",
                self.path.display()
            )));
        }
        let keep: Vec<usize> = (0..self.columns.len()).filter(|&j| j != t).collect();
        let x = self.data.select(Axis(1), &keep);
        let y = self.data.column(t).to_owned();
        let names = keep.iter().map(|&j| self.columns[j].clone()).collect();
        Ok((x, y, names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{gzip, temp_file};
    use ndarray::array;

    #[test]
    fn reads_numbers_and_splits_the_target() {
        let p = temp_file("ok.csv", b"a,b,y\n1,2,3\n4,5.5,-6e1\n");
        let t = read_numeric_csv(&p).unwrap();
        assert_eq!(t.columns, ["a", "b", "y"]);
        assert_eq!(t.data, array![[1.0, 2.0, 3.0], [4.0, 5.5, -60.0]]);
        let (x, y, names) = t.split_target("b").unwrap();
        assert_eq!(x, array![[1.0, 3.0], [4.0, -60.0]]);
        assert_eq!(y, array![2.0, 5.5]);
        assert_eq!(names, ["a", "y"]);
    }

    #[test]
    fn gzip_is_read_transparently() {
        let p = temp_file("ok.csv.gz", &gzip(b"a,y\n1,2\n"));
        assert_eq!(read_numeric_csv(&p).unwrap().data, array![[1.0, 2.0]]);
    }

    #[test]
    fn a_bad_cell_names_line_and_column() {
        let p = temp_file("bad.csv", b"a,b\n1,2\n3,oops\n");
        let err = read_numeric_csv(&p).unwrap_err().to_string();
        assert!(
            err.ends_with("bad.csv:3, column `b`: `oops` is not a number"),
            "{err}"
        );
        let p = temp_file("nan.csv", b"a,b\n1,NaN\n");
        let err = read_numeric_csv(&p).unwrap_err().to_string();
        assert!(
            err.ends_with(":2, column `b`: NaN is not a finite number"),
            "{err}"
        );
        let p = temp_file("hole.csv", b"a,b\n1,\n");
        let err = read_numeric_csv(&p).unwrap_err().to_string();
        assert!(
            err.ends_with(":2, column `b`: empty cell (missing value)"),
            "{err}"
        );
    }

    #[test]
    fn ragged_empty_and_headless_files_are_errors() {
        let p = temp_file("ragged.csv", b"a,b\n1,2\n3\n");
        let err = read_csv(&p).unwrap_err().to_string();
        assert!(
            err.ends_with("ragged.csv:3: 1 fields, but the header has 2"),
            "{err}"
        );
        let p = temp_file("empty.csv", b"");
        assert!(
            read_csv(&p)
                .unwrap_err()
                .to_string()
                .contains("no header row")
        );
        let p = temp_file("header-only.csv", b"a,b\n");
        assert!(
            read_csv(&p)
                .unwrap_err()
                .to_string()
                .contains("no data rows")
        );
        let p = temp_file("dup.csv", b"a,a\n1,2\n");
        assert!(
            read_csv(&p)
                .unwrap_err()
                .to_string()
                .contains("duplicate column")
        );
    }

    #[test]
    fn an_unknown_column_lists_the_real_ones() {
        let p = temp_file("cols.csv", b"age,bmi\n1,2\n");
        let t = read_numeric_csv(&p).unwrap();
        let err = t.split_target("price").unwrap_err().to_string();
        assert!(
            err.ends_with("no column named `price`; the columns are: age, bmi"),
            "{err}"
        );
    }

    #[test]
    fn labelled_files_split_numbers_from_labels() {
        let p = temp_file("lab.csv", b"a,kind,b\n1,x,2\n3,y,4\n");
        let (t, labels) = read_labelled_csv(&p, "kind").unwrap();
        assert_eq!(t.columns, ["a", "b"]);
        assert_eq!(t.data, array![[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(labels, ["x", "y"]);
        assert!(read_labelled_csv(&p, "nope").is_err());
        let p = temp_file("lab-bad.csv", b"a,kind\n1,x\nz,y\n");
        let err = read_labelled_csv(&p, "kind").unwrap_err().to_string();
        assert!(
            err.ends_with("lab-bad.csv:3, column `a`: `z` is not a finite number"),
            "{err}"
        );
        let (iris, species) =
            read_labelled_csv(&crate::dataset("tabular/iris.csv").unwrap(), "species").unwrap();
        assert_eq!((iris.data.dim(), species.len()), ((150, 4), 150));
    }

    #[test]
    fn the_shipped_diabetes_file_loads() {
        let p = crate::dataset("tabular/diabetes.csv").unwrap();
        let t = read_numeric_csv(&p).unwrap();
        assert_eq!(t.data.dim(), (442, 11));
        assert_eq!(t.columns.last().unwrap(), "target");
    }
}
