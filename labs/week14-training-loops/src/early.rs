//! Early stopping, from scratch.

/// Whether a smaller or a larger metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Minimise,
    Maximise,
}

// ANCHOR: early
/// Given the validation metric after each epoch, the (0-based) epoch after which training stops:
/// the first epoch that ends `patience` epochs in a row without improving on the best value by
/// more than `min_delta`. `None` if training never stops early.
pub fn stop_epoch(history: &[f64], goal: Goal, patience: usize, min_delta: f64) -> Option<usize> {
    // BEGIN SOLUTION early_stopping
    let mut best: Option<f64> = None;
    let mut bad = 0;
    for (epoch, &v) in history.iter().enumerate() {
        let improved = match (best, goal) {
            (None, _) => true,
            (Some(b), Goal::Minimise) => v < b - min_delta,
            (Some(b), Goal::Maximise) => v > b + min_delta,
        };
        if improved {
            best = Some(v);
            bad = 0;
        } else {
            bad += 1;
            if bad >= patience {
                return Some(epoch);
            }
        }
    }
    None
    // END SOLUTION
}
// ANCHOR_END: early
