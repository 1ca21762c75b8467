//! Cross-validation: every row is tested exactly once, by a model that did not see it.
//!
//! One train/test split gives one score, and a different split would give another. k-fold
//! cross-validation cuts the rows into k folds and fits k models, each tested on one fold and
//! trained on the others: k scores, whose mean is steadier and whose spread shows the uncertainty.

use wb_core::{MlError, Result};
use wb_data::shuffled_indices;

/// One fold: (training rows, test rows), both sorted.
pub type Fold = (Vec<usize>, Vec<usize>);

fn check_k(n: usize, k: usize) -> Result<()> {
    if k < 2 {
        return Err(MlError::InvalidArgument {
            arg: "k".into(),
            detail: format!("need at least 2 folds, got {k}"),
        });
    }
    if n < k {
        return Err(MlError::InvalidArgument {
            arg: "k".into(),
            detail: format!("{k} folds for {n} rows: a fold would be empty"),
        });
    }
    Ok(())
}

fn folds_from_assignment(fold_of: &[usize], k: usize) -> Vec<Fold> {
    (0..k)
        .map(|f| {
            let test: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] == f).collect();
            let train: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] != f).collect();
            (train, test)
        })
        .collect()
}

// ANCHOR: kfold
/// k-fold: the rows (shuffled with `seed` when given, else in order) are cut into k consecutive
/// folds, the first `n % k` folds one row larger — scikit-learn's `KFold`.
pub fn kfold(n: usize, k: usize, seed: Option<u64>) -> Result<Vec<Fold>> {
    check_k(n, k)?;
    // BEGIN SOLUTION kfold
    let order = match seed {
        Some(s) => shuffled_indices(n, s),
        None => (0..n).collect(),
    };
    let mut fold_of = vec![0; n];
    let mut start = 0;
    for f in 0..k {
        let size = n / k + usize::from(f < n % k);
        for &i in &order[start..start + size] {
            fold_of[i] = f;
        }
        start += size;
    }
    Ok(folds_from_assignment(&fold_of, k))
    // END SOLUTION
}

/// Stratified k-fold: each class's rows (in order, shuffled with `seed + class` when a seed is
/// given) are dealt to the folds in turn, continuing where the previous class stopped, so every
/// fold holds each class in the proportion of the whole. A class with fewer rows than folds is an
/// error (some fold would have none of it).
pub fn stratified_kfold(labels: &[usize], k: usize, seed: Option<u64>) -> Result<Vec<Fold>> {
    check_k(labels.len(), k)?;
    // BEGIN SOLUTION kfold
    let n_classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut fold_of = vec![0; labels.len()];
    let mut next = 0;
    for c in 0..n_classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        if members.is_empty() {
            continue;
        }
        if members.len() < k {
            return Err(MlError::InvalidArgument {
                arg: "labels".into(),
                detail: format!(
                    "class {c} has {} rows for {k} folds: some fold would have none",
                    members.len()
                ),
            });
        }
        if let Some(s) = seed {
            let order = shuffled_indices(members.len(), s.wrapping_add(c as u64));
            members = order.iter().map(|&j| members[j]).collect();
        }
        for i in members {
            fold_of[i] = next % k;
            next += 1;
        }
    }
    Ok(folds_from_assignment(&fold_of, k))
    // END SOLUTION
}
// ANCHOR_END: kfold

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_partition_the_rows() {
        let folds = kfold(7, 3, None).unwrap();
        assert_eq!(folds[0].1, [0, 1, 2]);
        assert_eq!(folds[2].1, [5, 6]);
        let labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
        for (_, test) in stratified_kfold(&labels, 2, Some(3)).unwrap() {
            assert_eq!(test.iter().filter(|&&i| labels[i] == 0).count(), 2);
        }
        assert!(kfold(3, 5, None).is_err());
        assert!(kfold(3, 1, None).is_err());
        assert!(stratified_kfold(&[0, 1, 1, 1], 2, None).is_err());
    }
}
