//! Grader checks for week 1: arrays, DataFrames and features.
//!
//! References: `fixtures/week01.json` (numpy 2.4 / pandas 3.1, made by
//! `fixtures/make_fixtures.py`) and hand-worked cases.

use grader::{
    Called, Failure, Tol, check, close_array, ensure, expect_err, fixture, matrix, num, nums,
};
use ndarray::{Array1, Array2, array, s};
use serde_json::Value;
use week01_data_basics::arrays::{
    column_stats, even_rows_last_columns, pairwise_distances, row_norms, rows_where_greater,
    standardize_columns, vandermonde,
};
use week01_data_basics::features::penguin_features;
use week01_data_basics::frames::{
    clean_penguins, heavy_on_dream, join_islands, null_counts, read_csv_with_nulls,
    species_summary, to_matrix,
};
use week01_data_basics::polars::prelude::*;

fn iris() -> Result<Array2<f64>, Failure> {
    let path = wb_data::dataset("tabular/iris.csv").called("iris.csv")?;
    Ok(wb_data::read_labelled_csv(&path, "species")
        .called("read_labelled_csv")?
        .0
        .data)
}

fn penguins() -> Result<DataFrame, Failure> {
    read_csv_with_nulls(&wb_data::dataset("tabular/penguins.csv").called("penguins.csv")?)
        .called("read_csv_with_nulls")
}

/// A column as numbers (None for null), whatever its numeric type.
fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, Failure> {
    let c = df.column(name).called(&format!("column `{name}`"))?;
    let c = c
        .cast(&DataType::Float64)
        .called(&format!("casting `{name}` to f64"))?;
    Ok(c.f64().called("f64")?.iter().collect())
}

fn texts(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, Failure> {
    let c = df.column(name).called(&format!("column `{name}`"))?;
    Ok(c.str()
        .called(&format!("`{name}` as strings"))?
        .iter()
        .map(|s| s.map(String::from))
        .collect())
}

fn fixture_floats(v: &Value, pointer: &str) -> Vec<Option<f64>> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn fixture_texts(v: &Value, pointer: &str) -> Vec<Option<String>> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn same<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: &[T],
    got: &[T],
) -> Result<(), Failure> {
    if expected.len() != got.len() {
        return Err(Failure::new(
            what,
            format!("expected {} values, got {}", expected.len(), got.len()),
        ));
    }
    match expected.iter().zip(got).position(|(e, g)| e != g) {
        None => Ok(()),
        Some(i) => Err(Failure::new(
            what,
            format!(
                "first difference at row {i}: expected {:?}, got {:?}",
                expected[i], got[i]
            ),
        )),
    }
}

check! {
    fn vandermonde_matches_numpy(exercise = "vandermonde") {
        let f = fixture("week01");
        let got = vandermonde(nums(&f, "/iris/vander_input").view(), 3).called("vandermonde")?;
        close_array(
            "vandermonde(x, 3) against np.vander(x, 4, increasing=True)",
            matrix(&f, "/iris/vander").view(),
            got.view(),
            Tol::rel(1e-15),
        )
    }
}

check! {
    fn slicing_and_masks_match_numpy(exercise = "slicing") {
        let f = fixture("week01");
        let x = iris()?;
        let corner = even_rows_last_columns(x.slice(s![..7, ..]).view(), 3)
            .called("even_rows_last_columns")?;
        close_array(
            "x[:7][::2, -3:]",
            matrix(&f, "/iris/corner").view(),
            corner.view(),
            Tol::abs(0.0),
        )?;
        let long = rows_where_greater(x.view(), 2, 5.0).called("rows_where_greater")?;
        close_array(
            "x[x[:, 2] > 5]",
            matrix(&f, "/iris/petal_over_5").view(),
            long.view(),
            Tol::abs(0.0),
        )
    }
}

check! {
    fn reductions_match_numpy(exercise = "reductions") {
        let f = fixture("week01");
        let x = iris()?;
        let st = column_stats(x.view()).called("column_stats")?;
        close_array(
            "mean(axis=0)",
            nums(&f, "/iris/mean").view(),
            st.mean.view(),
            Tol::rel(1e-12),
        )?;
        close_array(
            "std(axis=0) (population)",
            nums(&f, "/iris/std").view(),
            st.std.view(),
            Tol::rel(1e-12),
        )?;
        close_array(
            "min(axis=0)",
            nums(&f, "/iris/min").view(),
            st.min.view(),
            Tol::abs(0.0),
        )?;
        close_array(
            "max(axis=0)",
            nums(&f, "/iris/max").view(),
            st.max.view(),
            Tol::abs(0.0),
        )?;
        let norms = row_norms(x.slice(s![..5, ..]).view()).called("row_norms")?;
        close_array(
            "np.linalg.norm(x[:5], axis=1)",
            nums(&f, "/iris/row_norms_head").view(),
            norms.view(),
            Tol::rel(1e-12),
        )
    }
}

check! {
    fn broadcasting_matches_numpy(exercise = "broadcasting") {
        let f = fixture("week01");
        let x = iris()?;
        let z = standardize_columns(x.view()).called("standardize_columns")?;
        close_array(
            "(x - x.mean(0)) / x.std(0), first 5 rows",
            matrix(&f, "/iris/standardized_head").view(),
            z.slice(s![..5, ..]).view(),
            Tol::rel(1e-12).and_abs(1e-14),
        )?;
        close_array(
            "the same, last 3 rows",
            matrix(&f, "/iris/standardized_tail").view(),
            z.slice(s![-3.., ..]).view(),
            Tol::rel(1e-12).and_abs(1e-14),
        )?;
        let d = pairwise_distances(x.slice(s![..5, ..]).view(), x.slice(s![50..53, ..]).view())
            .called("pairwise_distances")?;
        close_array(
            "distances between rows 0–4 and rows 50–52",
            matrix(&f, "/iris/distances_head_to_50").view(),
            d.view(),
            Tol::rel(1e-10),
        )?;
        let same_rows =
            pairwise_distances(x.slice(s![..3, ..]).view(), x.slice(s![..3, ..]).view())
                .called("pairwise_distances")?;
        close_array(
            "distance of each row to itself is 0 (not NaN)",
            Array1::zeros(3).view(),
            same_rows.diag().view(),
            Tol::abs(1e-6),
        )?;
        let constant = standardize_columns(array![[1.0, 7.0], [3.0, 7.0]].view())
            .called("standardize_columns")?;
        close_array(
            "a constant column standardises to 0",
            array![[-1.0, 0.0], [1.0, 0.0]].view(),
            constant.view(),
            Tol::abs(0.0),
        )
    }
}

check! {
    fn null_counts_and_cleaning_match_pandas(exercise = "nulls") {
        let f = fixture("week01");
        let df = penguins()?;
        let got = null_counts(&df);
        let expected: Vec<(String, usize)> = f["penguins"]["null_counts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| {
                        (
                            p[0].as_str().unwrap_or("").to_string(),
                            p[1].as_u64().unwrap_or(0) as usize,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        same(
            "null counts per column against df.isna().sum()",
            &expected,
            &got,
        )?;
        let clean = clean_penguins(&df).called("clean_penguins")?;
        ensure(
            clean.height() == num(&f, "/penguins/clean_rows") as usize,
            "rows after cleaning",
            format!(
                "expected {}, got {}",
                num(&f, "/penguins/clean_rows"),
                clean.height()
            ),
        )?;
        let sex = texts(&clean, "sex")?;
        let unknown = sex
            .iter()
            .filter(|s| s.as_deref() == Some("unknown"))
            .count();
        ensure(
            unknown == num(&f, "/penguins/clean_unknown_sex") as usize
                && sex.iter().all(Option::is_some),
            "sex after cleaning",
            format!(
                "expected no null and {} `unknown`, got {unknown}",
                num(&f, "/penguins/clean_unknown_sex")
            ),
        )?;
        same(
            "body_mass_g of the first 10 cleaned rows",
            &fixture_floats(&f, "/penguins/body_mass_head"),
            &floats(&clean, "body_mass_g")?[..10],
        )
    }
}

check! {
    fn filter_and_sort_match_pandas(exercise = "filter_sort") {
        let f = fixture("week01");
        let heavy = heavy_on_dream(&penguins()?, 4000).called("heavy_on_dream")?;
        let names: Vec<String> = heavy
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        same(
            "columns",
            &["species".to_string(), "sex".into(), "body_mass_g".into()],
            &names,
        )?;
        same(
            "species, heaviest first",
            &fixture_texts(&f, "/penguins/heavy_on_dream/species"),
            &texts(&heavy, "species")?,
        )?;
        same(
            "sex",
            &fixture_texts(&f, "/penguins/heavy_on_dream/sex"),
            &texts(&heavy, "sex")?,
        )?;
        same(
            "body_mass_g",
            &fixture_floats(&f, "/penguins/heavy_on_dream/body_mass_g"),
            &floats(&heavy, "body_mass_g")?,
        )
    }
}

check! {
    fn group_by_matches_pandas(exercise = "group_by") {
        let f = fixture("week01");
        let sm = species_summary(&penguins()?).called("species_summary")?;
        same(
            "species (sorted)",
            &fixture_texts(&f, "/penguins/species_summary/species"),
            &texts(&sm, "species")?,
        )?;
        same(
            "n",
            &fixture_floats(&f, "/penguins/species_summary/n"),
            &floats(&sm, "n")?,
        )?;
        same(
            "max_flipper_mm",
            &fixture_floats(&f, "/penguins/species_summary/max_flipper_mm"),
            &floats(&sm, "max_flipper_mm")?,
        )?;
        let mean: Array1<f64> = floats(&sm, "mean_mass_g")?
            .into_iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect();
        close_array(
            "mean_mass_g (nulls left out)",
            nums(&f, "/penguins/species_summary/mean_mass_g").view(),
            mean.view(),
            Tol::rel(1e-12),
        )
    }
}

check! {
    fn left_join_matches_pandas(exercise = "join") {
        let f = fixture("week01");
        let clean = clean_penguins(&penguins()?).called("clean_penguins")?;
        let islands =
            df!("island" => ["Biscoe", "Dream"], "latitude" => [-65.43, -64.73]).called("df!")?;
        let joined = join_islands(&clean, &islands).called("join_islands")?;
        ensure(
            joined.height() == clean.height(),
            "left join",
            format!(
                "must keep every penguin: {} rows in, {} out",
                clean.height(),
                joined.height()
            ),
        )?;
        same(
            "latitude per penguin (null for Torgersen, absent from the island table)",
            &fixture_floats(&f, "/penguins/joined_latitude"),
            &floats(&joined, "latitude")?,
        )
    }
}

check! {
    fn to_matrix_matches_pandas_and_refuses_nulls(exercise = "to_matrix") {
        let f = fixture("week01");
        let df = penguins()?;
        let clean = clean_penguins(&df).called("clean_penguins")?;
        let x = to_matrix(&clean, &["bill_length_mm", "body_mass_g"]).called("to_matrix")?;
        let full = matrix(&f, "/penguins/features/x");
        close_array(
            "columns bill_length_mm and body_mass_g as f64",
            full.slice(s![.., 0..4;3]).view(),
            x.view(),
            Tol::abs(0.0),
        )?;
        let msg = expect_err(
            "to_matrix on a column with nulls",
            to_matrix(&df, &["bill_length_mm"]),
        )?;
        ensure(
            msg.contains("bill_length_mm") && msg.contains("row 3"),
            "null error",
            format!("should name the column and row 3, says: {msg}"),
        )?;
        expect_err("to_matrix on a text column", to_matrix(&df, &["species"]))?;
        expect_err(
            "to_matrix on a column that does not exist",
            to_matrix(&df, &["wingspan"]),
        )?;
        Ok(())
    }
}

check! {
    fn feature_matrix_matches_pandas(exercise = "features") {
        let f = fixture("week01");
        let fs = penguin_features(&penguins()?).called("penguin_features")?;
        let names: Vec<String> = fixture_texts(&f, "/penguins/features/names")
            .into_iter()
            .flatten()
            .collect();
        same(
            "feature names, in column order (pd.get_dummies with prefix_sep='=')",
            &names,
            &fs.feature_names,
        )?;
        close_array(
            "X against pandas",
            matrix(&f, "/penguins/features/x").view(),
            fs.x.view(),
            Tol::abs(0.0),
        )?;
        let y: Vec<usize> = nums(&f, "/penguins/features/y")
            .iter()
            .map(|&v| v as usize)
            .collect();
        same("y: species index among the sorted species", &y, &fs.y)?;
        ensure(
            fs.dropped_rows == 2 && fs.unknown_sex == 9,
            "null handling report",
            format!(
                "expected 2 rows dropped and 9 unknown sexes, got {} and {}",
                fs.dropped_rows, fs.unknown_sex
            ),
        )
    }
}

check! {
    fn bad_input_returns_errors(exercise = "broadcasting") {
        expect_err(
            "standardize_columns of an empty matrix",
            standardize_columns(Array2::<f64>::zeros((0, 3)).view()),
        )?;
        expect_err(
            "standardize_columns with NaN",
            standardize_columns(array![[1.0], [f64::NAN]].view()),
        )?;
        expect_err(
            "pairwise_distances with 2 vs 3 columns",
            pairwise_distances(array![[1.0, 2.0]].view(), array![[1.0, 2.0, 3.0]].view()),
        )?;
        let all_null = df!("a" => [None::<f64>, None]).called("df!")?;
        expect_err(
            "to_matrix on a column of all nulls",
            to_matrix(&all_null, &["a"]),
        )?;
        // And the reference behaviour on good input still holds.
        let d = pairwise_distances(array![[0.0, 0.0]].view(), array![[3.0, 4.0]].view())
            .called("pairwise_distances")?;
        close_array(
            "distance from (0,0) to (3,4)",
            array![[5.0]].view(),
            d.view(),
            Tol::rel(1e-15),
        )
    }
}
