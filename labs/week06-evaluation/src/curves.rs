//! Threshold curves of a scorer: ROC (and its area, two ways) and precision–recall (and average
//! precision).
//!
//! A classifier that outputs a score (a probability, a margin) becomes a decision only with a
//! threshold. The curves show every threshold at once: which share of positives it catches
//! (recall = TPR) against which share of negatives it raises an alarm on (FPR), or against how
//! many of its alarms are right (precision).

use ndarray::ArrayView1;
use wb_core::{MlError, Result, check_data, check_len};

/// A curve: one point per distinct score used as threshold (rows with score ≥ threshold are
/// called positive), from the strictest to the most lenient.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// x coordinates: FPR for ROC, recall for PR
    pub x: Vec<f64>,
    /// y coordinates: TPR for ROC, precision for PR
    pub y: Vec<f64>,
    pub thresholds: Vec<f64>,
}

fn check_binary_scores(y_true: &[bool], scores: ArrayView1<f64>) -> Result<(usize, usize)> {
    check_data("scores", &scores)?;
    check_len("scores", scores.len(), y_true.len(), "one score per label")?;
    let p = y_true.iter().filter(|&&y| y).count();
    let n = y_true.len() - p;
    if p == 0 || n == 0 {
        return Err(MlError::InvalidArgument {
            arg: "y_true".into(),
            detail: format!(
                "{p} positive and {n} negative rows: both classes are needed for ROC and PR curves"
            ),
        });
    }
    Ok((p, n))
}

/// (tp, fp) counts at each distinct threshold, scores descending. Returns (thresholds, tps, fps).
fn cumulative_counts(
    y_true: &[bool],
    scores: ArrayView1<f64>,
) -> (Vec<f64>, Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut thresholds, mut tps, mut fps) = (Vec::new(), Vec::new(), Vec::new());
    let (mut tp, mut fp) = (0, 0);
    for (k, &i) in order.iter().enumerate() {
        if y_true[i] {
            tp += 1
        } else {
            fp += 1
        }
        // Close a threshold only after the last row with this score.
        if k + 1 == order.len() || scores[order[k + 1]] != scores[i] {
            thresholds.push(scores[i]);
            tps.push(tp);
            fps.push(fp);
        }
    }
    (thresholds, tps, fps)
}

// ANCHOR: roc
/// The ROC curve: (FPR, TPR) at every distinct score, starting at (0, 0) with threshold +∞ —
/// scikit-learn's `roc_curve(..., drop_intermediate=False)`.
///
/// y_true: [n], scores: [n]
pub fn roc_curve(y_true: &[bool], scores: ArrayView1<f64>) -> Result<Curve> {
    let (p, n) = check_binary_scores(y_true, scores)?;
    // BEGIN SOLUTION roc
    let (thresholds, tps, fps) = cumulative_counts(y_true, scores);
    let mut curve = Curve {
        x: vec![0.0],
        y: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    for ((t, tp), fp) in thresholds.into_iter().zip(tps).zip(fps) {
        curve.x.push(fp as f64 / n as f64);
        curve.y.push(tp as f64 / p as f64);
        curve.thresholds.push(t);
    }
    Ok(curve)
    // END SOLUTION
}

/// The area under a curve by the trapezoid rule (x must not decrease).
pub fn auc_trapezoid(curve: &Curve) -> Result<f64> {
    check_len("curve.y", curve.y.len(), curve.x.len(), "one y per x")?;
    if curve.x.windows(2).any(|w| w[1] < w[0]) {
        return Err(MlError::InvalidArgument {
            arg: "curve.x".into(),
            detail: "must not decrease".into(),
        });
    }
    // BEGIN SOLUTION roc
    Ok(curve
        .x
        .windows(2)
        .zip(curve.y.windows(2))
        .map(|(x, y)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
        .sum())
    // END SOLUTION
}
// ANCHOR_END: roc

// ANCHOR: auc_rank
/// ROC AUC by the rank formula (Mann–Whitney U): the probability that a random positive scores
/// above a random negative, ties counting one half. With 1-based ranks of the scores (tied scores
/// share their average rank), `AUC = (Σ ranks of positives − P(P+1)/2) / (P·N)`. Equal to the
/// trapezoid area; O(n log n). All-identical scores give 0.5: the scorer cannot rank at all.
///
/// y_true: [n], scores: [n]
pub fn auc_rank(y_true: &[bool], scores: ArrayView1<f64>) -> Result<f64> {
    let (p, n) = check_binary_scores(y_true, scores)?;
    // BEGIN SOLUTION auc_rank
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut k = 0;
    while k < order.len() {
        let tied = order[k..]
            .iter()
            .take_while(|&&i| scores[i] == scores[order[k]])
            .count();
        let average_rank = k as f64 + (tied as f64 + 1.0) / 2.0; // ranks k+1 ..= k+tied
        rank_sum += average_rank * order[k..k + tied].iter().filter(|&&i| y_true[i]).count() as f64;
        k += tied;
    }
    Ok((rank_sum - (p * (p + 1)) as f64 / 2.0) / (p * n) as f64)
    // END SOLUTION
}
// ANCHOR_END: auc_rank

/// The same probability by comparing every positive with every negative: O(P·N). The benchmark's
/// "naive version".
pub fn auc_pairs_naive(y_true: &[bool], scores: ArrayView1<f64>) -> Result<f64> {
    let (p, n) = check_binary_scores(y_true, scores)?;
    let mut wins = 0.0;
    for (i, &yi) in y_true.iter().enumerate() {
        if !yi {
            continue;
        }
        for (j, &yj) in y_true.iter().enumerate() {
            if !yj {
                wins += if scores[i] > scores[j] {
                    1.0
                } else if scores[i] == scores[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    Ok(wins / (p * n) as f64)
}

// ANCHOR: pr
/// The precision–recall curve at every distinct score (strictest first), and the average
/// precision `AP = Σ_k (R_k − R_{k−1}) P_k` with R_0 = 0 — scikit-learn's
/// `average_precision_score`, a step-wise area that never interpolates.
///
/// y_true: [n], scores: [n] → (curve with x = recall, y = precision, AP)
pub fn precision_recall(y_true: &[bool], scores: ArrayView1<f64>) -> Result<(Curve, f64)> {
    let (p, _) = check_binary_scores(y_true, scores)?;
    // BEGIN SOLUTION pr
    let (thresholds, tps, fps) = cumulative_counts(y_true, scores);
    let mut curve = Curve {
        x: Vec::new(),
        y: Vec::new(),
        thresholds: Vec::new(),
    };
    let (mut ap, mut previous_recall) = (0.0, 0.0);
    for ((t, tp), fp) in thresholds.into_iter().zip(tps).zip(fps) {
        let precision = tp as f64 / (tp + fp) as f64;
        let recall = tp as f64 / p as f64;
        ap += (recall - previous_recall) * precision;
        previous_recall = recall;
        curve.x.push(recall);
        curve.y.push(precision);
        curve.thresholds.push(t);
    }
    Ok((curve, ap))
    // END SOLUTION
}
// ANCHOR_END: pr

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_worked_curves() {
        let y = [true, false, true, false];
        let s = array![0.9, 0.8, 0.4, 0.1];
        let roc = roc_curve(&y, s.view()).unwrap();
        assert_eq!(roc.x, [0.0, 0.0, 0.5, 0.5, 1.0]);
        assert_eq!(roc.y, [0.0, 0.5, 0.5, 1.0, 1.0]);
        assert_eq!(auc_trapezoid(&roc).unwrap(), 0.75);
        assert_eq!(auc_rank(&y, s.view()).unwrap(), 0.75);
        assert_eq!(auc_pairs_naive(&y, s.view()).unwrap(), 0.75);
        let (_, ap) = precision_recall(&y, s.view()).unwrap();
        assert_eq!(ap, 0.5 * 1.0 + 0.5 * (2.0 / 3.0));
        let flat = array![0.3, 0.3, 0.3, 0.3];
        assert_eq!(auc_rank(&y, flat.view()).unwrap(), 0.5);
        assert_eq!(
            auc_trapezoid(&roc_curve(&y, flat.view()).unwrap()).unwrap(),
            0.5
        );
        assert!(roc_curve(&[true, true], array![0.1, 0.2].view()).is_err());
    }
}
