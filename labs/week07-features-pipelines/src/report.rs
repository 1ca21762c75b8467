//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub n_rows: usize,
    pub n_bad: usize,
    pub seed: u64,
    pub n_train: usize,
    pub n_test: usize,
    pub missing: Vec<Missing>,
    pub features: Vec<String>,
    pub base: Auc,
    pub target_encoding: Vec<Encoding>,
    pub slices: Vec<SliceTable>,
    pub learning_curve: Vec<CurvePoint>,
    #[serde(skip)]
    pub pipeline_ms: f64,
}

#[derive(Serialize)]
pub struct Missing {
    pub column: String,
    pub missing: usize,
}

#[derive(Serialize)]
pub struct Auc {
    pub train_auc: f64,
    pub test_auc: f64,
}

#[derive(Serialize)]
pub struct Encoding {
    pub variant: &'static str,
    pub train_auc: f64,
    pub test_auc: f64,
}

#[derive(Serialize)]
pub struct SliceTable {
    pub column: &'static str,
    pub slices: Vec<Slice>,
}

#[derive(Serialize)]
pub struct Slice {
    pub slice: String,
    pub rows: usize,
    pub accuracy: f64,
    pub bad_rate: f64,
    /// The share of the slice's bad credits found (none when it has none).
    pub recall: Option<f64>,
}

#[derive(Serialize)]
pub struct CurvePoint {
    pub rows: usize,
    pub train_auc: f64,
    pub test_auc: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Data: datasets/tabular/credit_data.csv — {} applicants, {} with bad credit ({:.1}%)",
            self.n_rows,
            self.n_bad,
            100.0 * self.n_bad as f64 / self.n_rows as f64
        )?;
        let miss: Vec<String> = self
            .missing
            .iter()
            .map(|m| format!("{} {}", m.column, m.missing))
            .collect();
        writeln!(
            f,
            "      missing values: {}; split {} / {} (seed {})\n",
            miss.join(", "),
            self.n_train,
            self.n_test,
            self.seed
        )?;
        writeln!(
            f,
            "1. The pipeline, fitted on the training rows only ({:.1} ms): {} features",
            self.pipeline_ms,
            self.features.len()
        )?;
        writeln!(
            f,
            "   numeric: ln(1 + x) for the skewed amounts, median for missing values, standardised;"
        )?;
        writeln!(
            f,
            "   categories one-hot (missing is a category); Seniority×Age×Time interactions; Age in 5 quantile bins"
        )?;
        let base = &self.base;
        writeln!(
            f,
            "   logistic regression: ROC AUC {:.3} on the training rows, {:.3} on the test rows\n",
            base.train_auc, base.test_auc
        )?;
        writeln!(
            f,
            "2. Target encoding of PriceId (1,419 distinct values: nearly an ID), added to the pipeline"
        )?;
        writeln!(f, "   {:<36} {:>10} {:>9}", "", "train AUC", "test AUC")?;
        writeln!(
            f,
            "   {:<36} {:>10.3} {:>9.3}",
            "without it", base.train_auc, base.test_auc
        )?;
        for e in &self.target_encoding {
            let (n, a, b) = (e.variant, e.train_auc, e.test_auc);
            writeln!(f, "   {n:<36} {a:>10.3} {b:>9.3}")?;
        }
        if let [leaky, oof] = self.target_encoding.as_slice() {
            writeln!(
                f,
                "   Leaky encoding shows each training row its own target: the training AUC jumps by {:+.3}",
                leaky.train_auc - oof.train_auc
            )?;
            writeln!(
                f,
                "   while the test AUC moves by {:+.3} — the model learned a shortcut that does not exist for",
                leaky.test_auc - oof.test_auc
            )?;
            writeln!(
                f,
                "   new applicants. Out of fold, the encoding of a row never saw its own target.\n"
            )?;
        }
        writeln!(
            f,
            "3. Error analysis on the test rows (threshold 0.5): where is the model wrong?"
        )?;
        for table in &self.slices {
            writeln!(f, "   by {}:", table.column)?;
            writeln!(
                f,
                "     {:<10} {:>5} {:>9} {:>9} {:>13}",
                "slice", "rows", "accuracy", "bad rate", "bad found"
            )?;
            for m in &table.slices {
                let recall = m
                    .recall
                    .map_or("—".to_string(), |r| format!("{:.0}%", 100.0 * r));
                writeln!(
                    f,
                    "     {:<10} {:>5} {:>8.1}% {:>8.1}% {:>13}",
                    m.slice,
                    m.rows,
                    100.0 * m.accuracy,
                    100.0 * m.bad_rate,
                    recall
                )?;
            }
        }
        // Among slices of at least 30 test rows: where the model finds the most and the fewest bad
        // credits.
        let big: Vec<(&str, &Slice, f64)> = self
            .slices
            .iter()
            .flat_map(|t| t.slices.iter().map(move |m| (t.column, m)))
            .filter(|(_, m)| m.rows >= 30)
            .filter_map(|(c, m)| Some((c, m, m.recall?)))
            .collect();
        let lo = big.iter().min_by(|a, b| a.2.total_cmp(&b.2));
        let hi = big.iter().max_by(|a, b| a.2.total_cmp(&b.2));
        if let (Some((lc, l, l_recall)), Some((hc, h, h_recall))) = (lo, hi) {
            writeln!(
                f,
                "   Of the slices with 30 test rows or more, the model finds {:.0}% of the bad credits where {hc} = {}",
                100.0 * h_recall,
                h.slice
            )?;
            writeln!(
                f,
                "   (bad rate {:.0}%) but only {:.0}% where {lc} = {} (bad rate {:.0}%): at threshold 0.5 it leans on",
                100.0 * h.bad_rate,
                100.0 * l_recall,
                l.slice,
                100.0 * l.bad_rate
            )?;
            writeln!(
                f,
                "   each slice's base rate, so the rare bad credits of a safe-looking slice are the ones it misses.\n"
            )?;
        }
        writeln!(
            f,
            "4. Learning curve (ROC AUC): training rows → train / test"
        )?;
        for c in &self.learning_curve {
            let (n, a, b) = (c.rows, c.train_auc, c.test_auc);
            writeln!(f, "   {n:>5} rows  {a:.3} / {b:.3}")?;
        }
        writeln!(
            f,
            "   The gap closes as data grows: more rows would help a little, a richer model more."
        )
    }
}
