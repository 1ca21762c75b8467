//! Runs the week 1 lab end to end: `cargo run -p week01-data-basics -- --help`.

mod report;

use anyhow::Result;
use clap::Parser;
use ndarray::{Array2, array};
use polars::prelude::*;
use report::*;
use serde_json::Value;
use std::time::Instant;
use wb_core::lab::elapsed_ms;
use wb_lab::{Lab, LabArgs};
use wb_plot::{Histogram, LegendPosition, LinePlot, ScatterPlot, Series};
use week01_data_basics::arrays::{
    column_stats, even_rows_last_columns, pairwise_distances, row_norms, rows_where_greater,
    standardize_columns, vandermonde,
};
use week01_data_basics::features::penguin_features;
use week01_data_basics::frames::{
    clean_penguins, heavy_on_dream, join_islands, null_counts, read_csv_with_nulls, species_summary,
};

/// Week 1: arrays with ndarray (on iris), DataFrames with polars (on penguins), plots with
/// plotters, and a feature matrix built on purpose.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    #[command(flatten)]
    lab: LabArgs,
}

/// The rows of a matrix as vectors (how the report and the JSON show small matrices).
fn rows(a: &Array2<f64>) -> Vec<Vec<f64>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// A DataFrame as `{column: [values]}`, nulls as `null`.
fn frame_json(df: &DataFrame) -> Value {
    let mut cols = serde_json::Map::new();
    for c in df.columns() {
        let values: Vec<Value> = (0..df.height())
            .map(|i| match c.get(i) {
                Ok(AnyValue::Null) | Err(_) => Value::Null,
                Ok(AnyValue::String(s)) => Value::from(s),
                Ok(v) => v.extract::<f64>().map_or(Value::Null, Value::from),
            })
            .collect();
        cols.insert(c.name().to_string(), Value::Array(values));
    }
    Value::Object(cols)
}

wb_lab::main!("Week 1 — arrays, DataFrames, plots and features", run);

fn run(_args: &Args, lab: &mut Lab) -> Result<Report> {
    // 1. Arrays (iris) ------------------------------------------------------------------------
    let t = Instant::now();
    let (table, iris_species) =
        wb_data::read_labelled_csv(&wb_data::dataset("tabular/iris.csv")?, "species")?;
    let (iris, iris_names) = (table.data, table.columns);
    let stats = column_stats(iris.view())?;
    let z = standardize_columns(iris.view())?;
    let z_stats = column_stats(z.view())?;
    let mut classes = iris_species.clone();
    classes.sort();
    classes.dedup();
    let centroids = Array2::from_shape_fn((classes.len(), iris.ncols()), |(c, j)| {
        let rows: Vec<f64> = (0..iris.nrows())
            .filter(|&i| iris_species[i] == classes[c])
            .map(|i| iris[[i, j]])
            .collect();
        rows.iter().sum::<f64>() / rows.len() as f64
    });
    let centroid_distances = pairwise_distances(centroids.view(), centroids.view())?;
    let long_petals = rows_where_greater(iris.view(), 2, 5.0)?;
    let corner = even_rows_last_columns(iris.slice(ndarray::s![..6, ..]).view(), 2)?;
    let norms = row_norms(iris.slice(ndarray::s![..3, ..]).view())?;
    let vander = vandermonde(array![1.0, 2.0, 3.0].view(), 3)?;
    let arrays_ms = elapsed_ms(t);

    // 2. DataFrames (penguins) ----------------------------------------------------------------
    let t = Instant::now();
    let penguins = read_csv_with_nulls(&wb_data::dataset("tabular/penguins.csv")?)?;
    let nulls = null_counts(&penguins);
    let heavy = heavy_on_dream(&penguins, 4000)?;
    let summary = species_summary(&penguins)?;
    let clean = clean_penguins(&penguins)?;
    let islands = df!(
        "island" => ["Biscoe", "Dream", "Torgersen"],
        "latitude" => [-65.43, -64.73, -64.77],
        "surveyed_since" => [2007i64, 2007, 2007]
    )?;
    let joined = join_islands(&clean, &islands)?;
    let frames_ms = elapsed_ms(t);

    // 3. Features -------------------------------------------------------------------------------
    let t = Instant::now();
    let features = penguin_features(&penguins)?;
    let features_ms = elapsed_ms(t);

    // 4. Plots ----------------------------------------------------------------------------------
    let t = Instant::now();
    let col_f64 = |df: &DataFrame, name: &str| -> Result<Vec<Option<f64>>> {
        Ok(df
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .collect())
    };
    let species_of: Vec<String> = clean
        .column("species")?
        .str()?
        .iter()
        .map(|s| s.unwrap_or("?").to_string())
        .collect();
    let (bill_l, bill_d, mass) = (
        col_f64(&clean, "bill_length_mm")?,
        col_f64(&clean, "bill_depth_mm")?,
        col_f64(&clean, "body_mass_g")?,
    );
    let mut scatter = ScatterPlot::new(
        "Penguin bills, by species",
        "bill length (mm)",
        "bill depth (mm)",
    );
    let mut hist = Histogram::new("Body mass, by species", "body mass (g)", "penguins").bins(30);
    for class in &features.classes {
        let rows: Vec<usize> = (0..species_of.len())
            .filter(|&i| &species_of[i] == class)
            .collect();
        let pts = rows
            .iter()
            .filter_map(|&i| Some((bill_l[i]?, bill_d[i]?)))
            .collect();
        scatter = scatter.series(Series::new(class.clone(), pts));
        hist = hist.sample(
            class.clone(),
            rows.iter().filter_map(|&i| mass[i]).collect(),
        );
    }
    lab.saved(scatter.save(lab.plots_dir(), "bills_by_species")?);
    lab.saved(hist.save(lab.plots_dir(), "mass_by_species")?);
    let by_year = clean
        .clone()
        .lazy()
        .group_by([col("species"), col("year")])
        .agg([col("body_mass_g").mean().alias("mean_mass_g")])
        .sort(["species", "year"], SortMultipleOptions::default())
        .collect()?;
    let mut lines = LinePlot::new(
        "Mean body mass per year",
        "year of the survey",
        "mean body mass (g)",
    )
    .x_ticks(3)
    .legend(LegendPosition::MiddleRight);
    for class in &features.classes {
        let part = by_year
            .clone()
            .lazy()
            .filter(col("species").eq(lit(class.as_str())))
            .collect()?;
        let pts: Vec<(f64, f64)> = col_f64(&part, "year")?
            .into_iter()
            .zip(col_f64(&part, "mean_mass_g")?)
            .filter_map(|(a, b)| Some((a?, b?)))
            .collect();
        lines = lines.series(Series::new(class.clone(), pts));
    }
    lab.saved(lines.save(lab.plots_dir(), "mass_per_year")?);
    lab.record_ms("plots", elapsed_ms(t));
    lab.record_ms("arrays", arrays_ms);
    lab.record_ms("frames", frames_ms);
    lab.record_ms("features", features_ms);
    let names = |v: Vec<&PlSmallStr>| v.iter().map(|c| c.to_string()).collect();
    Ok(Report {
        iris: Iris {
            shape: [iris.nrows(), iris.ncols()],
            columns: iris_names,
            mean: stats.mean.to_vec(),
            std: stats.std.to_vec(),
            min: stats.min.to_vec(),
            max: stats.max.to_vec(),
            standardized_mean: z_stats.mean.to_vec(),
            standardized_std: z_stats.std.to_vec(),
            classes,
            centroid_distances: rows(&centroid_distances),
            rows_with_petal_length_over_5: long_petals.nrows(),
            even_rows_last_columns: rows(&corner),
            row_norms: norms.to_vec(),
            vandermonde: rows(&vander),
            ms: arrays_ms,
        },
        penguins: Penguins {
            shape: [penguins.height(), penguins.width()],
            null_counts: nulls
                .into_iter()
                .map(|(column, nulls)| NullCount { column, nulls })
                .collect(),
            heavy_on_dream: frame_json(&heavy),
            species_summary: frame_json(&summary),
            clean_rows: clean.height(),
            joined_columns: names(joined.get_column_names()),
            tables: [summary.to_string(), heavy.head(Some(5)).to_string()],
            ms: frames_ms,
        },
        features: Features {
            shape: [features.x.nrows(), features.x.ncols()],
            first_row: features.x.row(0).to_vec(),
            first_class: features.classes[features.y[0]].clone(),
            names: features.feature_names,
            classes: features.classes,
            dropped_rows: features.dropped_rows,
            unknown_sex: features.unknown_sex,
            ms: features_ms,
        },
    })
}
