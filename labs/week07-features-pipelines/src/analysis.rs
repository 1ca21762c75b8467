//! Error analysis: where does the model fail? Overall scores hide slices that do much worse.

use std::collections::BTreeMap;
use wb_core::{MlError, Result, check_len};

/// How a model does on one slice of the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceMetrics {
    /// The slice's value (`missing` for a missing one).
    pub slice: String,
    pub rows: usize,
    pub accuracy: f64,
    /// Share of positive targets in the slice.
    pub positive_rate: f64,
    /// Recall of the positives in the slice (NaN when the slice has none).
    pub recall: f64,
}

// ANCHOR: slices
/// Metrics per value of `slices`, sorted by slice name (pandas' `groupby` order).
///
/// slices, y_true, y_pred: [n]
pub fn slice_metrics(
    slices: &[Option<String>],
    y_true: &[usize],
    y_pred: &[usize],
) -> Result<Vec<SliceMetrics>> {
    if slices.is_empty() {
        return Err(MlError::Empty {
            arg: "slices".into(),
            detail: "no rows to analyse".into(),
        });
    }
    check_len("y_true", y_true.len(), slices.len(), "one target per row")?;
    check_len(
        "y_pred",
        y_pred.len(),
        slices.len(),
        "one prediction per row",
    )?;
    // BEGIN SOLUTION slices
    // (rows, right, positives, positives found)
    let mut groups: BTreeMap<String, (usize, usize, usize, usize)> = BTreeMap::new();
    for ((s, &t), &p) in slices.iter().zip(y_true).zip(y_pred) {
        let g = groups
            .entry(s.clone().unwrap_or_else(|| "missing".into()))
            .or_default();
        g.0 += 1;
        g.1 += usize::from(t == p);
        g.2 += usize::from(t == 1);
        g.3 += usize::from(t == 1 && p == 1);
    }
    Ok(groups
        .into_iter()
        .map(|(slice, (n, right, pos, found))| SliceMetrics {
            slice,
            rows: n,
            accuracy: right as f64 / n as f64,
            positive_rate: pos as f64 / n as f64,
            recall: if pos == 0 {
                f64::NAN
            } else {
                found as f64 / pos as f64
            },
        })
        .collect())
    // END SOLUTION
}
// ANCHOR_END: slices

/// ROC AUC by ranks (ties averaged): the chance a random positive outscores a random negative.
pub fn auc(y: &[usize], scores: &[f64]) -> Result<f64> {
    check_len("scores", scores.len(), y.len(), "one score per label")?;
    let p = y.iter().filter(|&&v| v == 1).count();
    let n = y.len() - p;
    if p == 0 || n == 0 {
        return Err(MlError::InvalidArgument {
            arg: "y".into(),
            detail: "both classes are needed for an AUC".into(),
        });
    }
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut k) = (0.0, 0);
    while k < order.len() {
        let tied = order[k..]
            .iter()
            .take_while(|&&i| scores[i] == scores[order[k]])
            .count();
        let r = k as f64 + (tied as f64 + 1.0) / 2.0;
        rank_sum += r * order[k..k + tied].iter().filter(|&&i| y[i] == 1).count() as f64;
        k += tied;
    }
    Ok((rank_sum - (p * (p + 1)) as f64 / 2.0) / (p * n) as f64)
}
