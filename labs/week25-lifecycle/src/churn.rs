//! The model in production: who is about to leave a telco (7,043 customers, 26.5 % churned).
//! Two versions: v1, in production, knows only the tenure (new customers leave most); v2, the
//! candidate, knows every column. Offline evaluation scores both on held-out customers.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, Axis};
use std::path::Path;
use wb_core::lab::standardise_with_train;
use wb_core::{MlError, Result};

/// The feature columns of the data, before one-hot encoding.
pub const FEATURE_COLUMNS: [&str; 19] = [
    "female",
    "senior_citizen",
    "partner",
    "dependents",
    "tenure",
    "phone_service",
    "multiple_lines",
    "internet_service",
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
    "contract",
    "paperless_billing",
    "payment_method",
    "monthly_charges",
    "total_charges",
];

/// The customers, encoded.
#[derive(Debug, Clone)]
pub struct Customers {
    /// One column per numeric field and per level of each text field.
    pub features: Array2<f64>,
    pub names: Vec<String>,
    /// The column each feature came from.
    pub sources: Vec<String>,
    pub churned: Vec<bool>,
    /// `internet_service` per customer: it decides how well a retention offer works in the
    /// simulated world of `online`.
    pub internet: Vec<String>,
}

impl Customers {
    /// The feature columns that come from `columns` (all of them when `columns` is empty).
    pub fn columns_of(&self, columns: &[&str]) -> Vec<usize> {
        (0..self.names.len())
            .filter(|&j| columns.is_empty() || columns.contains(&self.sources[j].as_str()))
            .collect()
    }
}

/// Reads `telco_churn.csv`: `churn` (Yes/No) is the label; numbers stay numbers (an empty
/// `total_charges`, a customer in their first month, becomes 0); each text column becomes one
/// 0/1 column per level except its first in sorted order.
pub fn load(path: &Path) -> Result<Customers> {
    let table = wb_data::read_csv(path).map_err(|e| MlError::InvalidArgument {
        arg: "path".into(),
        detail: e.to_string(),
    })?;
    let col = |name: &str| {
        table
            .headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| MlError::InvalidArgument {
                arg: "path".into(),
                detail: format!("{} has no column `{name}`", path.display()),
            })
    };
    let label = col("churn")?;
    let internet = col("internet_service")?;
    let mut names = Vec::new();
    let mut sources = Vec::new();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for (j, header) in table.headers.iter().enumerate() {
        if j == label {
            continue;
        }
        let cells: Vec<&str> = table.rows.iter().map(|r| r[j].as_str()).collect();
        let numbers: Option<Vec<f64>> = cells
            .iter()
            .map(|c| {
                if c.is_empty() {
                    Some(0.0)
                } else {
                    c.parse().ok()
                }
            })
            .collect();
        match numbers {
            Some(values) => {
                names.push(header.clone());
                sources.push(header.clone());
                columns.push(values);
            }
            None => {
                let mut levels: Vec<&str> = cells.clone();
                levels.sort_unstable();
                levels.dedup();
                for level in &levels[1..] {
                    names.push(format!("{header}={level}"));
                    sources.push(header.clone());
                    columns.push(cells.iter().map(|c| f64::from(c == level)).collect());
                }
            }
        }
    }
    let n = table.rows.len();
    let mut features = Array2::zeros((n, columns.len()));
    for (j, values) in columns.iter().enumerate() {
        features.column_mut(j).assign(&Array1::from(values.clone()));
    }
    let mut churned = Vec::with_capacity(n);
    for (i, row) in table.rows.iter().enumerate() {
        churned.push(match row[label].as_str() {
            "Yes" => true,
            "No" => false,
            other => {
                return Err(MlError::InvalidArgument {
                    arg: "path".into(),
                    detail: format!("row {}: churn must be Yes or No, got {other:?}", i + 2),
                });
            }
        });
    }
    let internet = table.rows.iter().map(|r| r[internet].clone()).collect();
    Ok(Customers {
        features,
        names,
        sources,
        churned,
        internet,
    })
}

/// The churn probability of the `test` customers from a logistic regression (L2, alpha 1) fitted
/// on the `train` customers, with the feature columns `columns`, standardised on `train`.
pub fn churn_scores(
    customers: &Customers,
    columns: &[usize],
    train: &[usize],
    test: &[usize],
) -> Result<Array1<f64>> {
    let x = customers.features.select(Axis(1), columns);
    let (a, b) = standardise_with_train(&x.select(Axis(0), train), &x.select(Axis(0), test))?;
    let y: Array1<bool> = train.iter().map(|&i| customers.churned[i]).collect();
    let model = LogisticRegression::default()
        .alpha(1.0)
        .max_iterations(1000)
        .fit(&Dataset::new(a, y))
        .map_err(|e| MlError::Diverged(e.to_string()))?;
    // linfa gives the probability of the class it took as positive: orient it by its decisions.
    let p = model.predict_probabilities(&b);
    let labels = model.predict(&b);
    let agree = labels
        .iter()
        .zip(p.iter())
        .filter(|(l, p)| **l == (**p >= 0.5))
        .count();
    Ok(if 2 * agree >= labels.len() {
        p
    } else {
        p.mapv(|v| 1.0 - v)
    })
}

/// ROC AUC by ranks (ties share their mean rank): the chance that a random churner scores above
/// a random stayer.
pub fn auc(churned: &[bool], scores: &[f64]) -> Result<f64> {
    wb_core::check_len(
        "scores",
        scores.len(),
        churned.len(),
        "one score per customer",
    )?;
    let positives = churned.iter().filter(|c| **c).count();
    let negatives = churned.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(MlError::InvalidArgument {
            arg: "churned".into(),
            detail: "needs both churners and stayers".into(),
        });
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += (i..=j).filter(|&k| churned[order[k]]).count() as f64 * mean_rank;
        i = j + 1;
    }
    let p = positives as f64;
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// The score above which the top `share` of `scores` lie (the offer goes to them).
pub fn top_share_threshold(scores: &[f64], share: f64) -> Result<f64> {
    wb_core::lab::check_open_fraction("share", share)?;
    if scores.is_empty() {
        return Err(MlError::Empty {
            arg: "scores".into(),
            detail: "no customer to rank".into(),
        });
    }
    let mut sorted = scores.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let k = ((share * sorted.len() as f64).round() as usize).clamp(1, sorted.len());
    Ok(sorted[k - 1])
}
