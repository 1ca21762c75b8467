//! Train/test splits: hold data out, and touch it once.
//!
//! A model is judged on rows it never saw during training — or during *any* decision: choosing
//! features, imputation values, scaling, hyper-parameters. Every look at the test set that
//! changes what you do leaks it into the model, and the score stops measuring generalisation.
//! So: split first, fit everything on the training rows, evaluate on the test rows once.
//!
//! The shuffles use `wb_data::shuffled_indices` (SplitMix64 and Fisher–Yates), which the
//! fixtures script reproduces in Python, so scikit-learn's reference numbers use the same rows.

use wb_core::{MlError, Result};
use wb_data::shuffled_indices;

fn check_fraction(test_fraction: f64) -> Result<()> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(MlError::InvalidArgument {
            arg: "test_fraction".into(),
            detail: format!("must be strictly between 0 and 1, got {test_fraction}"),
        });
    }
    Ok(())
}

// ANCHOR: train_test_split
/// Shuffles `0..n` with `seed` and puts the first `round(n · test_fraction)` indices in the test
/// set, the rest in the training set; both come back sorted. Both sets must be non-empty.
pub fn train_test_split(
    n: usize,
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    check_fraction(test_fraction)?;
    // BEGIN SOLUTION train_test_split
    let order = shuffled_indices(n, seed);
    let n_test = (n as f64 * test_fraction).round() as usize;
    if n_test == 0 || n_test == n {
        return Err(MlError::InvalidArgument {
            arg: "test_fraction".into(),
            detail: format!(
                "{test_fraction} of {n} rows leaves {n_test} test rows: both sets must be non-empty"
            ),
        });
    }
    let mut test = order[..n_test].to_vec();
    let mut train = order[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    Ok((train, test))
    // END SOLUTION
}
// ANCHOR_END: train_test_split

// ANCHOR: stratified_split
/// A split that keeps each class's share: for each class (in sorted order, class k counting from
/// 0), its row indices in ascending order are shuffled with `shuffled_indices(len, seed + k)` and
/// the first `round(len · test_fraction)` go to the test set. A class with a single row cannot be
/// in both sets: an error naming it. Both sets come back sorted.
///
/// labels: [n]
pub fn stratified_split<L: Ord + Clone + std::fmt::Debug>(
    labels: &[L],
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    check_fraction(test_fraction)?;
    if labels.is_empty() {
        return Err(MlError::Empty {
            arg: "labels".into(),
            detail: "no rows to split".into(),
        });
    }
    // BEGIN SOLUTION stratified_split
    let mut classes: Vec<L> = labels.to_vec();
    classes.sort();
    classes.dedup();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (k, class) in classes.iter().enumerate() {
        let members: Vec<usize> = (0..labels.len()).filter(|&i| &labels[i] == class).collect();
        if members.len() < 2 {
            return Err(MlError::InvalidArgument {
                arg: "labels".into(),
                detail: format!(
                    "class {class:?} has a single row: it cannot be in both the training and the test set"
                ),
            });
        }
        let order = shuffled_indices(members.len(), seed.wrapping_add(k as u64));
        let n_test = (members.len() as f64 * test_fraction).round() as usize;
        for (pos, &j) in order.iter().enumerate() {
            if pos < n_test {
                test.push(members[j])
            } else {
                train.push(members[j])
            }
        }
    }
    test.sort_unstable();
    train.sort_unstable();
    Ok((train, test))
    // END SOLUTION
}
// ANCHOR_END: stratified_split

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_partition_the_rows() {
        let (train, test) = train_test_split(10, 0.3, 1).unwrap();
        assert_eq!((train.len(), test.len()), (7, 3));
        let labels = ["a", "b", "a", "a", "b", "a", "a", "b", "a", "a"];
        let (train, test) = stratified_split(&labels, 0.3, 1).unwrap();
        let mut all = [train, test.clone()].concat();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        // a: 7 rows → round(2.1) = 2 in test; b: 3 rows → round(0.9) = 1.
        assert_eq!(test.iter().filter(|&&i| labels[i] == "b").count(), 1);
        assert_eq!(test.len(), 3);
    }

    #[test]
    fn bad_splits_are_errors() {
        assert!(train_test_split(10, 0.0, 1).is_err());
        assert!(train_test_split(10, 1.0, 1).is_err());
        assert!(train_test_split(3, 0.1, 1).is_err());
        let err = stratified_split(&["a", "a", "b"], 0.5, 1).unwrap_err();
        assert!(
            err.to_string().contains("class \"b\" has a single row"),
            "{err}"
        );
    }
}
