//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use serde_json::Value;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub iris: Iris,
    pub penguins: Penguins,
    pub features: Features,
}

#[derive(Serialize)]
pub struct Iris {
    pub shape: [usize; 2],
    pub columns: Vec<String>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
    pub standardized_mean: Vec<f64>,
    pub standardized_std: Vec<f64>,
    pub classes: Vec<String>,
    pub centroid_distances: Vec<Vec<f64>>,
    pub rows_with_petal_length_over_5: usize,
    pub even_rows_last_columns: Vec<Vec<f64>>,
    pub row_norms: Vec<f64>,
    pub vandermonde: Vec<Vec<f64>>,
    #[serde(skip)]
    pub ms: f64,
}

#[derive(Serialize)]
pub struct Penguins {
    pub shape: [usize; 2],
    pub null_counts: Vec<NullCount>,
    pub heavy_on_dream: Value,
    pub species_summary: Value,
    pub clean_rows: usize,
    pub joined_columns: Vec<String>,
    /// The two frames as polars prints them, for the report.
    #[serde(skip)]
    pub tables: [String; 2],
    #[serde(skip)]
    pub ms: f64,
}

#[derive(Serialize)]
pub struct NullCount {
    pub column: String,
    pub nulls: usize,
}

#[derive(Serialize)]
pub struct Features {
    pub shape: [usize; 2],
    pub names: Vec<String>,
    pub classes: Vec<String>,
    pub dropped_rows: usize,
    pub unknown_sex: usize,
    pub first_row: Vec<f64>,
    pub first_class: String,
    #[serde(skip)]
    pub ms: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let iris = &self.iris;
        writeln!(
            f,
            "1. Arrays with ndarray, on iris ({} rows × {} columns) ({:.2} ms)",
            iris.shape[0], iris.shape[1], iris.ms
        )?;
        let header: String = iris
            .columns
            .iter()
            .map(|n| format!("{:>8}", &n[..n.len().min(7)]))
            .collect();
        writeln!(f, "   {:<20}{header}", "column:")?;
        let near_zero = |v: &f64| if v.abs() < 1e-9 { 0.0 } else { *v };
        for (name, values, decimals) in [
            ("mean (axis 0)", &iris.mean, 3),
            ("std (axis 0)", &iris.std, 3),
            ("min (axis 0)", &iris.min, 1),
            ("max (axis 0)", &iris.max, 1),
        ] {
            writeln!(
                f,
                "   {name:<20}{}",
                fmt_row(values.iter().copied(), decimals)
            )?;
        }
        let z_mean = iris.standardized_mean.iter().map(near_zero);
        writeln!(f, "   {:<20}{}", "standardised mean", fmt_row(z_mean, 3))?;
        let z_std = iris.standardized_std.iter().copied();
        writeln!(f, "   {:<20}{}", "standardised std", fmt_row(z_std, 3))?;
        writeln!(
            f,
            "   Broadcasting: `(&x - &mean) / &std` stretches the [4] vectors over the 150 rows."
        )?;
        writeln!(
            f,
            "   Distances between the species' mean flowers (cm), computed without a loop:"
        )?;
        for (c, row) in iris.classes.iter().zip(&iris.centroid_distances) {
            writeln!(f, "   {c:>12} {}", fmt_row(row.iter().copied(), 3))?;
        }
        writeln!(
            f,
            "   Boolean mask x[x[:, 2] > 5]: {} flowers have petals longer than 5 cm",
            iris.rows_with_petal_length_over_5
        )?;
        writeln!(
            f,
            "   Slice x[:6][::2, -2:] (every other row, last two columns): {:?}",
            iris.even_rows_last_columns
        )?;
        writeln!(
            f,
            "   Row norms of the first 3 flowers: {}",
            fmt_row(iris.row_norms.iter().copied(), 3)
        )?;
        writeln!(
            f,
            "   vandermonde([1, 2, 3], 3) = rows [1, x, x², x³]: {:?}\n",
            iris.vandermonde
        )?;

        let p = &self.penguins;
        writeln!(
            f,
            "2. DataFrames with polars, on penguins ({} rows × {} columns) ({:.1} ms)",
            p.shape[0], p.shape[1], p.ms
        )?;
        let with_nulls: Vec<String> = p
            .null_counts
            .iter()
            .filter(|n| n.nulls > 0)
            .map(|n| format!("{} {}", n.column, n.nulls))
            .collect();
        writeln!(f, "   nulls per column: {}", with_nulls.join(", "))?;
        writeln!(
            f,
            "   species summary (group_by + agg):\n{}",
            indent(&p.tables[0])
        )?;
        let heavy = p.heavy_on_dream.as_object().and_then(|c| c.values().next());
        writeln!(
            f,
            "   Dream island, heavier than 4000 g, heaviest first: {} penguins",
            heavy.and_then(Value::as_array).map_or(0, Vec::len)
        )?;
        writeln!(f, "{}", indent(&p.tables[1]))?;
        writeln!(
            f,
            "   cleaned: {} rows kept ({} dropped for missing measurements); missing sex → \"unknown\"",
            p.clean_rows,
            p.shape[0] - p.clean_rows
        )?;
        writeln!(
            f,
            "   joined with a table of islands (left join): columns {:?}\n",
            p.joined_columns
        )?;

        let x = &self.features;
        writeln!(
            f,
            "3. What is a feature? Penguins → X, y and feature names ({:.2} ms)",
            x.ms
        )?;
        writeln!(
            f,
            "   X: {} rows × {} features; y: species index among {:?}",
            x.shape[0], x.shape[1], x.classes
        )?;
        writeln!(f, "   features: {}", x.names.join(", "))?;
        writeln!(
            f,
            "   nulls, on purpose: {} rows without measurements dropped; {} missing sexes kept as sex=unknown",
            x.dropped_rows, x.unknown_sex
        )?;
        writeln!(
            f,
            "   first row: {} → {}",
            fmt_row(x.first_row.iter().copied(), 1),
            x.first_class
        )
    }
}

pub fn fmt_row(v: impl IntoIterator<Item = f64>, decimals: usize) -> String {
    v.into_iter()
        .map(|x| format!("{x:>8.decimals$}"))
        .collect::<Vec<_>>()
        .join("")
}

pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("   {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
