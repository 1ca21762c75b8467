//! What is a feature? A number a model can read, one per column, for every example (row).
//!
//! A penguin is a row of mixed types: measurements (numbers, some missing), an island and a sex
//! (categories). A model needs a matrix `X` of numbers, a target `y` and, for the people reading
//! the model, the name of every column of `X`. This file builds all three, and decides on purpose
//! what happens to missing values.

use crate::frames::{clean_penguins, to_matrix};
use ndarray::{Array2, Axis, concatenate};
use polars::prelude::*;

/// The numeric features, in order.
pub const MEASUREMENTS: [&str; 4] = [
    "bill_length_mm",
    "bill_depth_mm",
    "flipper_length_mm",
    "body_mass_g",
];
/// The categorical features, one-hot encoded in this order.
pub const CATEGORIES: [&str; 2] = ["island", "sex"];

/// A feature matrix ready for a model.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSet {
    /// x: [n_rows, n_features]
    pub x: Array2<f64>,
    /// y: [n_rows], the index of each row's species in `classes`
    pub y: Vec<usize>,
    /// The species, sorted: the meaning of y's values.
    pub classes: Vec<String>,
    /// One name per column of x: the measurements, then `island=…`, then `sex=…`.
    pub feature_names: Vec<String>,
    /// Rows dropped because a measurement was missing.
    pub dropped_rows: usize,
    /// Rows kept whose missing sex became `unknown`.
    pub unknown_sex: usize,
}

/// The non-null values of a string column.
fn strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    let column = df.column(name)?.str()?.clone();
    column
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.map(str::to_string)
                .ok_or_else(|| polars_err!(InvalidOperation: "column `{name}` is null at row {i}"))
        })
        .collect()
}

/// The sorted distinct values.
fn sorted_unique(values: &[String]) -> Vec<String> {
    let mut u = values.to_vec();
    u.sort();
    u.dedup();
    u
}

// ANCHOR: features
/// Penguins → (X, y, feature names). Rows missing a measurement are dropped (2 in the data set);
/// a missing sex becomes the category `unknown` (9 of the rows kept); islands and sexes are
/// one-hot encoded with their categories sorted; y is the species' index in the sorted species.
pub fn penguin_features(df: &DataFrame) -> PolarsResult<FeatureSet> {
    let clean = clean_penguins(df)?;
    let dropped_rows = df.height() - clean.height();
    let unknown_sex = strings(&clean, "sex")?
        .iter()
        .filter(|s| *s == "unknown")
        .count();
    // BEGIN SOLUTION features
    let numeric = to_matrix(&clean, &MEASUREMENTS)?; // [n, 4]
    let mut blocks = vec![numeric];
    let mut feature_names: Vec<String> = MEASUREMENTS.iter().map(|s| s.to_string()).collect();
    for name in CATEGORIES {
        let values = strings(&clean, name)?;
        let cats = sorted_unique(&values);
        let one_hot = Array2::from_shape_fn((values.len(), cats.len()), |(i, k)| {
            f64::from(values[i] == cats[k])
        });
        feature_names.extend(cats.iter().map(|c| format!("{name}={c}")));
        blocks.push(one_hot);
    }
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    let x = concatenate(Axis(1), &views).map_err(|e| polars_err!(ComputeError: "{e}"))?;
    let species = strings(&clean, "species")?;
    let classes = sorted_unique(&species);
    let y = species
        .iter()
        .map(|s| {
            classes
                .iter()
                .position(|c| c == s)
                .expect("a class of the data")
        })
        .collect();
    Ok(FeatureSet {
        x,
        y,
        classes,
        feature_names,
        dropped_rows,
        unknown_sex,
    })
    // END SOLUTION
}
// ANCHOR_END: features

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_penguins_become_a_matrix() {
        let p = wb_data::dataset("tabular/penguins.csv").unwrap();
        let df = crate::frames::read_csv_with_nulls(&p).unwrap();
        let f = penguin_features(&df).unwrap();
        assert_eq!(f.x.dim(), (342, 10));
        assert_eq!((f.dropped_rows, f.unknown_sex), (2, 9));
        assert_eq!(f.classes, ["Adelie", "Chinstrap", "Gentoo"]);
        assert_eq!(f.feature_names[4], "island=Biscoe");
        assert_eq!(f.feature_names[9], "sex=unknown");
        // Every one-hot block sums to 1 on each row.
        for row in f.x.rows() {
            assert_eq!(row.slice(ndarray::s![4..7]).sum(), 1.0);
            assert_eq!(row.slice(ndarray::s![7..10]).sum(), 1.0);
        }
    }
}
