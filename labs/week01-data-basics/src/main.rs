//! Runs the week 1 lab end to end: `cargo run -p week01-data-basics -- --help`.

use anyhow::Result;
use clap::Parser;
use ndarray::{Array2, array};
use polars::prelude::*;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use wb_core::lab::elapsed_ms;
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
#[command(version)]
struct Args {
    /// Folder for the plots (PNG and SVG)
    #[arg(long, value_name = "DIR", default_value = "output/week01-data-basics")]
    plots: PathBuf,
    /// Print the key results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
    /// Also write the JSON results to FILE, and print the report as usual
    #[arg(long, value_name = "FILE", value_parser = wb_core::lab::writable_file)]
    json_out: Option<PathBuf>,
}

fn fmt_row(v: impl IntoIterator<Item = f64>, decimals: usize) -> String {
    v.into_iter()
        .map(|x| format!("{x:>8.decimals$}"))
        .collect::<Vec<_>>()
        .join("")
}

fn main() -> Result<()> {
    let args = Args::parse();
    let t0 = Instant::now();

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
    let mut plots = Vec::new();
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
    plots.extend(scatter.save(&args.plots, "bills_by_species")?);
    plots.extend(hist.save(&args.plots, "mass_by_species")?);
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
    plots.extend(lines.save(&args.plots, "mass_per_year")?);
    let plot_ms = elapsed_ms(t);

    if args.json || args.json_out.is_some() {
        let frame_json = |df: &DataFrame| -> Result<serde_json::Value> {
            let mut cols = serde_json::Map::new();
            for c in df.columns() {
                let values: Vec<serde_json::Value> = (0..df.height())
                    .map(|i| match c.get(i) {
                        Ok(AnyValue::Null) | Err(_) => serde_json::Value::Null,
                        Ok(AnyValue::String(s)) => json!(s),
                        Ok(v) => v
                            .extract::<f64>()
                            .map_or(serde_json::Value::Null, |x| json!(x)),
                    })
                    .collect();
                cols.insert(c.name().to_string(), json!(values));
            }
            Ok(serde_json::Value::Object(cols))
        };
        let out = json!({
            "lab": "week01-data-basics",
            "iris": {
                "shape": iris.shape(),
                "columns": iris_names,
                "mean": stats.mean.to_vec(), "std": stats.std.to_vec(), "min": stats.min.to_vec(), "max": stats.max.to_vec(),
                "standardized_mean": z_stats.mean.to_vec(), "standardized_std": z_stats.std.to_vec(),
                "classes": classes,
                "centroid_distances": centroid_distances.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
                "rows_with_petal_length_over_5": long_petals.nrows(),
            },
            "penguins": {
                "shape": [penguins.height(), penguins.width()],
                "null_counts": nulls.iter().map(|(c, n)| json!({"column": c, "nulls": n})).collect::<Vec<_>>(),
                "heavy_on_dream": frame_json(&heavy)?,
                "species_summary": frame_json(&summary)?,
                "clean_rows": clean.height(),
                "joined_columns": joined.get_column_names().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            },
            "features": {
                "shape": features.x.shape(),
                "names": features.feature_names,
                "classes": features.classes,
                "dropped_rows": features.dropped_rows,
                "unknown_sex": features.unknown_sex,
            },
            "timings_ms": {"total": elapsed_ms(t0), "arrays": arrays_ms, "frames": frames_ms, "features": features_ms, "plots": plot_ms},
            "plots": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&out)?;
        if wb_core::lab::emit_json(&text, args.json, args.json_out.as_deref())? {
            return Ok(());
        }
    }

    println!("Week 1 — arrays, DataFrames, plots and features");
    println!("===============================================\n");
    println!(
        "1. Arrays with ndarray, on iris ({} rows × {} columns) ({arrays_ms:.2} ms)",
        iris.nrows(),
        iris.ncols()
    );
    println!(
        "   {:<20}{}",
        "column:",
        iris_names
            .iter()
            .map(|n| format!("{:>8}", &n[..n.len().min(7)]))
            .collect::<String>()
    );
    println!(
        "   {:<20}{}",
        "mean (axis 0)",
        fmt_row(stats.mean.iter().copied(), 3)
    );
    println!(
        "   {:<20}{}",
        "std (axis 0)",
        fmt_row(stats.std.iter().copied(), 3)
    );
    println!(
        "   {:<20}{}",
        "min (axis 0)",
        fmt_row(stats.min.iter().copied(), 1)
    );
    println!(
        "   {:<20}{}",
        "max (axis 0)",
        fmt_row(stats.max.iter().copied(), 1)
    );
    println!(
        "   {:<20}{}",
        "standardised mean",
        fmt_row(
            z_stats
                .mean
                .iter()
                .map(|v| if v.abs() < 1e-9 { 0.0 } else { *v }),
            3
        )
    );
    println!(
        "   {:<20}{}",
        "standardised std",
        fmt_row(z_stats.std.iter().copied(), 3)
    );
    println!("   Broadcasting: `(&x - &mean) / &std` stretches the [4] vectors over the 150 rows.");
    println!("   Distances between the species' mean flowers (cm), computed without a loop:");
    for (c, row) in classes.iter().zip(centroid_distances.rows()) {
        println!("   {c:>12} {}", fmt_row(row.iter().copied(), 3));
    }
    println!(
        "   Boolean mask x[x[:, 2] > 5]: {} flowers have petals longer than 5 cm",
        long_petals.nrows()
    );
    println!(
        "   Slice x[:6][::2, -2:] (every other row, last two columns): {:?}",
        corner
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect::<Vec<_>>()
    );
    println!(
        "   Row norms of the first 3 flowers: {}",
        fmt_row(norms.iter().copied(), 3)
    );
    println!(
        "   vandermonde([1, 2, 3], 3) = rows [1, x, x², x³]: {:?}\n",
        vander
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect::<Vec<_>>()
    );

    println!(
        "2. DataFrames with polars, on penguins ({} rows × {} columns) ({frames_ms:.1} ms)",
        penguins.height(),
        penguins.width()
    );
    let with_nulls: Vec<String> = nulls
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    println!("   nulls per column: {}", with_nulls.join(", "));
    println!(
        "   species summary (group_by + agg):\n{}",
        indent(&summary.to_string())
    );
    println!(
        "   Dream island, heavier than 4000 g, heaviest first: {} penguins",
        heavy.height()
    );
    println!("{}", indent(&heavy.head(Some(5)).to_string()));
    println!(
        "   cleaned: {} rows kept ({} dropped for missing measurements); missing sex → \"unknown\"",
        clean.height(),
        penguins.height() - clean.height()
    );
    println!(
        "   joined with a table of islands (left join): columns {:?}\n",
        joined.get_column_names()
    );

    println!("3. What is a feature? Penguins → X, y and feature names ({features_ms:.2} ms)");
    println!(
        "   X: {} rows × {} features; y: species index among {:?}",
        features.x.nrows(),
        features.x.ncols(),
        features.classes
    );
    println!("   features: {}", features.feature_names.join(", "));
    println!(
        "   nulls, on purpose: {} rows without measurements dropped; {} missing sexes kept as sex=unknown",
        features.dropped_rows, features.unknown_sex
    );
    println!(
        "   first row: {} → {}\n",
        fmt_row(features.x.row(0).iter().copied(), 1),
        features.classes[features.y[0]]
    );

    println!("Plots ({plot_ms:.0} ms):");
    for p in &plots {
        println!("   {}", p.display());
    }
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("   {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
