//! The batch job's model: logistic regression on the features the lab's SQL computes, stored as
//! a small JSON artifact whose SHA-256 every output file records.

use anyhow::{Context, Result, bail};
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

use crate::data;

/// The model's inputs, in order: the columns [`feature_query`] computes.
pub const FEATURES: [&str; 6] = [
    "log_amount",
    "night",
    "web",
    "items",
    "tenure_months",
    "pro",
];

// ANCHOR: sql
/// The features of each transaction, in SQL: the same query runs on BigQuery, Hive or Spark SQL
/// (`LN`, `CASE`, `CAST … AS DOUBLE`, a `LEFT JOIN`), here on polars' SQL engine. `input_row`
/// is the row's place in the input: the output keeps that order. `extra` adds columns of `t`.
pub fn feature_query(extra: &[&str]) -> String {
    let extra: String = extra.iter().map(|c| format!(", t.{c}")).collect();
    // BEGIN SOLUTION sql
    format!(
        "SELECT t.input_row, t.txn_id{extra},
       LN(t.amount + 1.0) AS log_amount,
       CASE WHEN t.hour < 6 THEN 1.0 ELSE 0.0 END AS night,
       CASE WHEN t.channel = 'web' THEN 1.0 ELSE 0.0 END AS web,
       CAST(t.items AS DOUBLE) AS items,
       CAST(c.tenure_months AS DOUBLE) AS tenure_months,
       CASE WHEN c.plan = 'pro' THEN 1.0 ELSE 0.0 END AS pro
FROM transactions AS t
LEFT JOIN customers AS c ON t.customer_id = c.customer_id
ORDER BY t.input_row"
    )
    // END SOLUTION
}
// ANCHOR_END: sql

/// The trained model as it is stored: standardisation, then a logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringModel {
    pub model_version: String,
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub weights: Vec<f64>,
    pub intercept: f64,
    /// A transaction is flagged when its score reaches this.
    pub threshold: f64,
    /// Mean log-loss on held-out labelled rows, and that of the true probabilities.
    pub holdout_log_loss: f64,
    pub bayes_log_loss: f64,
}

/// A model read from its file, with the file's SHA-256 (lowercase hex).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub model: ScoringModel,
    pub sha256: String,
}

impl ScoringModel {
    /// Fails unless the parameters fit the lab's features and are finite, scales positive.
    pub fn check(&self) -> Result<()> {
        if self.features != FEATURES {
            bail!("features: expected {FEATURES:?}, got {:?}", self.features);
        }
        for (name, v) in [
            ("mean", &self.mean),
            ("scale", &self.scale),
            ("weights", &self.weights),
        ] {
            if v.len() != FEATURES.len() {
                bail!(
                    "{name}: expected {} values, got {}",
                    FEATURES.len(),
                    v.len()
                );
            }
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                bail!("{name}[{i}] is {}: expected a finite number", v[i]);
            }
        }
        if let Some(i) = self.scale.iter().position(|&s| s <= 0.0) {
            bail!("scale[{i}] is {}: expected > 0", self.scale[i]);
        }
        if !self.intercept.is_finite() || !(0.0..=1.0).contains(&self.threshold) {
            bail!("intercept must be finite and threshold in [0, 1]");
        }
        Ok(())
    }

    /// Writes the model as pretty JSON (temporary file + rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        self.check()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_string_pretty(self)? + "\n")?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Reads and checks a model file; a corrupt or foreign file is refused with the reason.
    pub fn load(path: &Path) -> Result<Loaded> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading the model {}", path.display()))?;
        let model: ScoringModel = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a week 15 model file: {e}", path.display()))?;
        model
            .check()
            .map_err(|e| anyhow::anyhow!("{}: a damaged model: {e}", path.display()))?;
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Loaded { model, sha256 })
    }
}

/// Runs [`feature_query`] on a transactions table (with `extra` columns kept) against
/// `customers`, and refuses transactions whose customer is unknown, naming them.
pub fn features(
    transactions: LazyFrame,
    customers: LazyFrame,
    first_row: usize,
    extra: &[&str],
) -> Result<DataFrame> {
    let ctx = polars::sql::SQLContext::new();
    let offset = IdxSize::try_from(first_row).context("row index beyond polars' index type")?;
    ctx.register(
        "transactions",
        transactions.with_row_index("input_row", Some(offset)),
    );
    ctx.register("customers", customers);
    let mut ctx = ctx;
    let df = ctx.execute(&feature_query(extra))?.collect()?;
    let tenure = df.column("tenure_months")?;
    if tenure.null_count() > 0 {
        let missing = df
            .clone()
            .lazy()
            .filter(col("tenure_months").is_null())
            .select([col("txn_id")])
            .limit(5)
            .collect()?;
        let ids: Vec<String> = missing
            .column("txn_id")?
            .as_materialized_series()
            .iter()
            .map(|v| v.to_string())
            .collect();
        bail!(
            "{} transactions have no customer in the customers table (txn_id {}…)",
            tenure.null_count(),
            ids.join(", ")
        );
    }
    Ok(df)
}

/// The feature columns of `df` as `f64` slices, in [`FEATURES`] order.
pub fn feature_columns(df: &DataFrame) -> Result<Vec<Vec<f64>>> {
    FEATURES
        .iter()
        .map(|&name| {
            let c = df.column(name)?.f64()?;
            if c.null_count() > 0 {
                bail!("feature `{name}` has {} nulls", c.null_count());
            }
            Ok(c.into_no_null_iter().collect())
        })
        .collect()
}

// ANCHOR: score
/// P(fraud) of each row: `columns[j][i]` is feature j of row i.
pub fn score_chunk(model: &ScoringModel, columns: &[Vec<f64>]) -> Result<Vec<f64>> {
    if columns.len() != model.weights.len() {
        bail!(
            "columns: expected {} feature columns, got {}",
            model.weights.len(),
            columns.len()
        );
    }
    let rows = columns.first().map_or(0, Vec::len);
    if let Some(j) = columns.iter().position(|c| c.len() != rows) {
        bail!(
            "columns[{j}]: expected {rows} values like columns[0], got {}",
            columns[j].len()
        );
    }
    // BEGIN SOLUTION score
    let mut z = vec![model.intercept; rows];
    for (j, column) in columns.iter().enumerate() {
        let w = model.weights[j] / model.scale[j];
        let m = model.mean[j];
        for (zi, &x) in z.iter_mut().zip(column) {
            *zi += w * (x - m);
        }
    }
    Ok(z.into_iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect())
    // END SOLUTION
}
// ANCHOR_END: score

/// Mean log-loss of probabilities `p` for labels `y`.
pub fn log_loss(y: &[bool], p: &[f64]) -> f64 {
    let eps = 1e-15;
    let total: f64 = y
        .iter()
        .zip(p)
        .map(|(&y, &p)| {
            let p = p.clamp(eps, 1.0 - eps);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    total / y.len().max(1) as f64
}

/// The labelled table's feature columns (from [`feature_query`]) and fraud labels.
pub fn labelled_features(labelled: &Path, customers: &Path) -> Result<(Vec<Vec<f64>>, Vec<bool>)> {
    let df = features(data::scan(labelled)?, data::scan(customers)?, 0, &["fraud"])?;
    let labels = df
        .column("fraud")?
        .i64()?
        .into_no_null_iter()
        .map(|v| v == 1)
        .collect();
    Ok((feature_columns(&df)?, labels))
}

/// Fits the model on the labelled table (80 % of its rows; the rest measure it), with the
/// features from [`feature_query`].
pub fn train(labelled: &Path, customers: &Path) -> Result<ScoringModel> {
    let (columns, y) = labelled_features(labelled, customers)?;
    let n = y.len();
    let n_train = n * 4 / 5;
    let d = FEATURES.len();
    let mean: Vec<f64> = columns
        .iter()
        .map(|c| c[..n_train].iter().sum::<f64>() / n_train as f64)
        .collect();
    let scale: Vec<f64> = columns
        .iter()
        .zip(&mean)
        .map(|(c, m)| {
            let var = c[..n_train].iter().map(|x| (x - m).powi(2)).sum::<f64>() / n_train as f64;
            if var > 0.0 { var.sqrt() } else { 1.0 }
        })
        .collect();
    let x = Array2::from_shape_fn((n_train, d), |(i, j)| (columns[j][i] - mean[j]) / scale[j]);
    let dataset = Dataset::new(x, Array1::from(y[..n_train].to_vec()));
    let fitted = LogisticRegression::default()
        .alpha(1e-3)
        .max_iterations(200)
        .fit(&dataset)
        .context("fitting the logistic regression")?;
    // linfa's weights are for its "positive" class: turn them round if that is `false`.
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let mut model = ScoringModel {
        model_version: "fraud-logreg-1".into(),
        features: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean,
        scale,
        weights: fitted.params().iter().map(|w| sign * w).collect(),
        intercept: sign * fitted.intercept(),
        threshold: 0.5,
        holdout_log_loss: 0.0,
        bayes_log_loss: 0.0,
    };
    let holdout: Vec<Vec<f64>> = columns.iter().map(|c| c[n_train..].to_vec()).collect();
    let p = score_chunk(&model, &holdout)?;
    let truth: Vec<f64> = (0..n - n_train)
        .map(|i| {
            let f = |j: usize| holdout[j][i];
            let z = data::true_logit(f(0), f(1), f(2), f(3), f(4), f(5));
            1.0 / (1.0 + (-z).exp())
        })
        .collect();
    model.holdout_log_loss = log_loss(&y[n_train..], &p);
    model.bayes_log_loss = log_loss(&y[n_train..], &truth);
    Ok(model)
}
