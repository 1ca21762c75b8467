//! DataFrames with polars, the learner's pandas.
//!
//! | pandas | polars (lazy API) |
//! |---|---|
//! | `pd.read_csv(p, na_values="NA")` | `LazyCsvReader::new(p).with_null_values(…).finish()?` |
//! | `df[["a", "b"]]` | `.select([col("a"), col("b")])` |
//! | `df[(df.a == "x") & (df.b > 3)]` | `.filter(col("a").eq(lit("x")).and(col("b").gt(lit(3))))` |
//! | `df.sort_values("b", ascending=False)` | `.sort(["b"], SortMultipleOptions::default().with_order_descending(true))` |
//! | `df.groupby("a").agg(m=("b", "mean"))` | `.group_by([col("a")]).agg([col("b").mean().alias("m")])` |
//! | `df.isna().sum()` | `df.null_count()` |
//! | `df.dropna(subset=["b"])` | `.drop_nulls(Some(cols(["b"])))` or `.filter(col("b").is_not_null())` |
//! | `df.fillna({"s": "unknown"})` | `.with_column(col("s").fill_null(lit("unknown")))` |
//! | `df.merge(other, on="k", how="left")` | `.join(other, [col("k")], [col("k")], JoinArgs::new(JoinType::Left))` |
//!
//! A lazy frame records the operations and runs them, optimised, at `.collect()`.

use ndarray::Array2;
use polars::prelude::*;
use std::path::Path;

/// Reads a CSV file with a header row, where the text `NA` means a missing value (null).
pub fn read_csv_with_nulls(path: &Path) -> PolarsResult<DataFrame> {
    LazyCsvReader::new(PlRefPath::try_from_path(path)?)
        .with_has_header(true)
        .with_null_values(Some(NullValues::AllColumnsSingle("NA".into())))
        .finish()?
        .collect()
}

// ANCHOR: nulls
/// The number of nulls in each column, in column order (pandas: `df.isna().sum()`).
pub fn null_counts(df: &DataFrame) -> Vec<(String, usize)> {
    // BEGIN SOLUTION nulls
    df.columns()
        .iter()
        .map(|c| (c.name().to_string(), c.null_count()))
        .collect()
    // END SOLUTION
}

/// Cleans the penguins on purpose: a row without its body measurements carries nothing to learn
/// from, so it is dropped; a missing `sex` is information ("not recorded"), so it becomes the
/// category `"unknown"`.
pub fn clean_penguins(df: &DataFrame) -> PolarsResult<DataFrame> {
    // BEGIN SOLUTION nulls
    let measured = [
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
    ]
    .iter()
    .map(|c| col(*c).is_not_null())
    .reduce(|a, b| a.and(b))
    .expect("four columns");
    df.clone()
        .lazy()
        .filter(measured)
        .with_column(col("sex").fill_null(lit("unknown")))
        .collect()
    // END SOLUTION
}
// ANCHOR_END: nulls

// ANCHOR: filter_sort
/// The penguins of Dream island heavier than `min_mass_g`: species, sex and body mass, heaviest
/// first (rows of equal mass keep their file order).
pub fn heavy_on_dream(df: &DataFrame, min_mass_g: i64) -> PolarsResult<DataFrame> {
    // BEGIN SOLUTION filter_sort
    df.clone()
        .lazy()
        .filter(
            col("island")
                .eq(lit("Dream"))
                .and(col("body_mass_g").gt(lit(min_mass_g))),
        )
        .select([col("species"), col("sex"), col("body_mass_g")])
        .sort(
            ["body_mass_g"],
            SortMultipleOptions::default()
                .with_order_descending(true)
                .with_maintain_order(true),
        )
        .collect()
    // END SOLUTION
}
// ANCHOR_END: filter_sort

// ANCHOR: group_by
/// Per species, sorted by species: `n` rows, `mean_mass_g` (nulls left out, as pandas does) and
/// `max_flipper_mm`.
pub fn species_summary(df: &DataFrame) -> PolarsResult<DataFrame> {
    // BEGIN SOLUTION group_by
    df.clone()
        .lazy()
        .group_by([col("species")])
        .agg([
            len().alias("n"),
            col("body_mass_g").mean().alias("mean_mass_g"),
            col("flipper_length_mm").max().alias("max_flipper_mm"),
        ])
        .sort(["species"], SortMultipleOptions::default())
        .collect()
    // END SOLUTION
}
// ANCHOR_END: group_by

// ANCHOR: join
/// Adds the columns of `islands` (keyed by `island`) to every penguin; penguins of an island
/// missing from `islands` keep their row, with nulls (a left join).
pub fn join_islands(df: &DataFrame, islands: &DataFrame) -> PolarsResult<DataFrame> {
    // BEGIN SOLUTION join
    df.clone()
        .lazy()
        .join(
            islands.clone().lazy(),
            [col("island")],
            [col("island")],
            JoinArgs::new(JoinType::Left),
        )
        .collect()
    // END SOLUTION
}
// ANCHOR_END: join

// ANCHOR: to_matrix
/// The columns `columns` as an `[n_rows, n_columns]` matrix of f64, for ndarray and the models.
/// Integer columns are cast to f64; a null or a non-numeric column is an error naming it (and the
/// first row with a null).
pub fn to_matrix(df: &DataFrame, columns: &[&str]) -> PolarsResult<Array2<f64>> {
    if columns.is_empty() {
        polars_bail!(InvalidOperation: "to_matrix: no columns asked for");
    }
    // BEGIN SOLUTION to_matrix
    let mut x = Array2::zeros((df.height(), columns.len()));
    for (j, name) in columns.iter().enumerate() {
        let column = df.column(name)?;
        if !column.dtype().is_primitive_numeric() {
            polars_bail!(InvalidOperation: "to_matrix: column `{name}` is {}, not numeric", column.dtype());
        }
        let values = column.cast(&DataType::Float64)?;
        for (i, v) in values.f64()?.iter().enumerate() {
            match v {
                Some(v) => x[[i, j]] = v,
                None => {
                    polars_bail!(InvalidOperation: "to_matrix: column `{name}` is null at row {i}: drop or fill nulls first")
                }
            }
        }
    }
    Ok(x)
    // END SOLUTION
}
// ANCHOR_END: to_matrix

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> DataFrame {
        df!(
            "species" => ["A", "B", "A", "B"],
            "island" => ["Dream", "Dream", "Biscoe", "Dream"],
            "sex" => [Some("f"), None, Some("m"), Some("m")],
            "bill_length_mm" => [Some(1.0), Some(2.0), None, Some(4.0)],
            "bill_depth_mm" => [1.0, 2.0, 3.0, 4.0],
            "flipper_length_mm" => [10i64, 20, 30, 40],
            "body_mass_g" => [Some(5000i64), Some(3000), Some(4500), Some(5000)]
        )
        .unwrap()
    }

    #[test]
    fn hand_worked_frames() {
        let df = small();
        let nulls = null_counts(&df);
        assert_eq!(nulls[2], ("sex".to_string(), 1));
        assert_eq!(nulls[3], ("bill_length_mm".to_string(), 1));
        let clean = clean_penguins(&df).unwrap();
        assert_eq!(clean.height(), 3);
        assert_eq!(clean.column("sex").unwrap().null_count(), 0);
        let heavy = heavy_on_dream(&df, 4000).unwrap();
        assert_eq!(heavy.height(), 2);
        let summary = species_summary(&df).unwrap();
        assert_eq!(
            summary.column("mean_mass_g").unwrap().f64().unwrap().get(0),
            Some(4750.0)
        );
        let x = to_matrix(&clean, &["bill_depth_mm", "body_mass_g"]).unwrap();
        assert_eq!(x.dim(), (3, 2));
        assert!(
            to_matrix(&df, &["bill_length_mm"])
                .unwrap_err()
                .to_string()
                .contains("null at row 2")
        );
        assert!(
            to_matrix(&df, &["species"])
                .unwrap_err()
                .to_string()
                .contains("not numeric")
        );
        assert!(to_matrix(&df, &["nope"]).is_err());
        let islands = df!("island" => ["Dream"], "area_km2" => [2.0]).unwrap();
        let joined = join_islands(&df, &islands).unwrap();
        assert_eq!(joined.height(), 4);
        assert_eq!(joined.column("area_km2").unwrap().null_count(), 1);
    }
}
