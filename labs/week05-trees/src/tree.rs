//! CART decision trees from scratch: classification (Gini or entropy) and regression (squared
//! error), with a maximum depth, a minimum number of samples per leaf, optional feature
//! subsampling (for random forests) and impurity-based feature importances.
//!
//! A tree asks yes/no questions `x_j ≤ t` and answers with the majority class (or mean value) of
//! the training rows that reach each leaf. Growing it is greedy: at each node, try every feature
//! and every threshold between two consecutive distinct values, and keep the split whose children
//! are the purest, weighted by their sizes.

use ndarray::{Array1, ArrayView2};
use wb_core::{MlError, Result, check_data, check_len};
use wb_data::SplitMix64;

/// How a node's impurity is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Criterion {
    /// `1 − Σ p_k²`: the chance that two random draws from the node disagree.
    Gini,
    /// `−Σ p_k log₂ p_k`: the bits needed to say a row's class (scikit-learn's "entropy").
    Entropy,
    /// The variance of the values (regression; scikit-learn's "squared_error").
    SquaredError,
}

// ANCHOR: impurity
/// The impurity of a node from its sufficient statistics: class counts for Gini and entropy;
/// `[n, Σy, Σy²]` for squared error.
pub fn impurity(criterion: Criterion, stats: &[f64]) -> f64 {
    // BEGIN SOLUTION impurity
    match criterion {
        Criterion::Gini | Criterion::Entropy => {
            let n: f64 = stats.iter().sum();
            if n <= 0.0 {
                return 0.0;
            }
            let ps = stats.iter().filter(|&&c| c > 0.0).map(|c| c / n);
            match criterion {
                Criterion::Gini => 1.0 - ps.map(|p| p * p).sum::<f64>(),
                _ => -ps.map(|p| p * p.log2()).sum::<f64>(),
            }
        }
        Criterion::SquaredError => {
            let (n, s, ss) = (stats[0], stats[1], stats[2]);
            if n <= 0.0 {
                0.0
            } else {
                (ss / n - (s / n) * (s / n)).max(0.0)
            }
        }
    }
    // END SOLUTION
}
// ANCHOR_END: impurity

/// Settings of a tree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeParams {
    pub criterion: Criterion,
    /// None: grow until the leaves are pure (or too small to split).
    pub max_depth: Option<usize>,
    /// Every leaf keeps at least this many training rows (≥ 1).
    pub min_samples_leaf: usize,
    /// Features tried at each split: None for all; Some(m) for a random m of them (random forest).
    pub max_features: Option<usize>,
    /// Seeds the feature subsampling.
    pub seed: u64,
}

impl Default for TreeParams {
    fn default() -> Self {
        Self {
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_leaf: 1,
            max_features: None,
            seed: 0,
        }
    }
}

/// A node of a fitted tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Leaf {
        /// Class counts (classification) or `[n, Σy, Σy²]` (regression) of the training rows here.
        stats: Vec<f64>,
    },
    Split {
        feature: usize,
        threshold: f64,
        /// Rows with `x[feature] ≤ threshold`.
        left: Box<Node>,
        right: Box<Node>,
    },
}

/// What a tree predicts.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets<'a> {
    /// Class indices in `0..n_classes`.
    Classes {
        y: &'a [usize],
        n_classes: usize,
    },
    Values {
        y: &'a [f64],
    },
}

impl Targets<'_> {
    fn len(&self) -> usize {
        match self {
            Targets::Classes { y, .. } => y.len(),
            Targets::Values { y } => y.len(),
        }
    }

    fn width(&self) -> usize {
        match self {
            Targets::Classes { n_classes, .. } => *n_classes,
            Targets::Values { .. } => 3,
        }
    }

    /// Adds row i's contribution to `stats` with sign `s` (+1 add, −1 remove).
    fn add(&self, stats: &mut [f64], i: usize, s: f64) {
        match self {
            Targets::Classes { y, .. } => stats[y[i]] += s,
            Targets::Values { y } => {
                stats[0] += s;
                stats[1] += s * y[i];
                stats[2] += s * y[i] * y[i];
            }
        }
    }
}

/// A fitted decision tree.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTree {
    pub root: Node,
    pub criterion: Criterion,
    pub n_features: usize,
    /// Impurity decrease per feature, weighted by node size, normalised to sum to 1
    /// (scikit-learn's `feature_importances_`; all zero for a tree with no split).
    pub feature_importances: Array1<f64>,
}

/// The best split of the rows `rows` of a node: (feature, threshold, weighted child impurity).
pub type Split = (usize, f64, f64);

// ANCHOR: best_split
/// The best split of a node: for each candidate feature, sort the node's rows by it, move the
/// rows one by one from the right child to the left child (updating both children's statistics),
/// and score each threshold halfway between two consecutive distinct values by
/// `n_left·impurity(left) + n_right·impurity(right)`. Children must keep `min_samples_leaf` rows.
/// Returns None when no split is allowed. The first best (lowest feature, then lowest threshold)
/// wins ties.
pub fn best_split(
    x: ArrayView2<f64>,
    targets: &Targets,
    rows: &[usize],
    features: &[usize],
    criterion: Criterion,
    min_samples_leaf: usize,
) -> Option<Split> {
    // BEGIN SOLUTION best_split
    let n = rows.len();
    let mut total = vec![0.0; targets.width()];
    for &i in rows {
        targets.add(&mut total, i, 1.0);
    }
    let mut best: Option<Split> = None;
    let mut order = rows.to_vec();
    for &j in features {
        order.sort_by(|&a, &b| x[[a, j]].total_cmp(&x[[b, j]]));
        let mut left = vec![0.0; total.len()];
        let mut right = total.clone();
        for k in 0..n - 1 {
            let i = order[k];
            targets.add(&mut left, i, 1.0);
            targets.add(&mut right, i, -1.0);
            let (lo, hi) = (x[[i, j]], x[[order[k + 1], j]]);
            let n_left = k + 1;
            if lo == hi || n_left < min_samples_leaf || n - n_left < min_samples_leaf {
                continue;
            }
            let score = n_left as f64 * impurity(criterion, &left)
                + (n - n_left) as f64 * impurity(criterion, &right);
            if best.is_none_or(|b| score < b.2 - 1e-12) {
                best = Some((j, lo + (hi - lo) / 2.0, score));
            }
        }
    }
    best
    // END SOLUTION
}
// ANCHOR_END: best_split

fn check_fit(x: ArrayView2<f64>, targets: &Targets, params: &TreeParams) -> Result<()> {
    check_data("x", &x)?;
    check_len("y", targets.len(), x.nrows(), "one target per row of x")?;
    if params.max_depth == Some(0) {
        return Err(MlError::InvalidArgument {
            arg: "max_depth".into(),
            detail: "must be at least 1 (or None for no limit)".into(),
        });
    }
    if params.min_samples_leaf == 0 {
        return Err(MlError::InvalidArgument {
            arg: "min_samples_leaf".into(),
            detail: "must be at least 1".into(),
        });
    }
    if params.max_features == Some(0) {
        return Err(MlError::InvalidArgument {
            arg: "max_features".into(),
            detail: "must be at least 1".into(),
        });
    }
    match targets {
        Targets::Classes { y, n_classes } => {
            if let Some(&bad) = y.iter().find(|&&c| c >= *n_classes) {
                return Err(MlError::InvalidArgument {
                    arg: "y".into(),
                    detail: format!("class {bad} ≥ n_classes = {n_classes}"),
                });
            }
        }
        Targets::Values { y } => check_data("y", &ndarray::ArrayView1::from(*y))?,
    }
    Ok(())
}

impl DecisionTree {
    /// Grows a tree on (x, targets). x: [n, d]
    pub fn fit(x: ArrayView2<f64>, targets: &Targets, params: &TreeParams) -> Result<Self> {
        check_fit(x, targets, params)?;
        let mut importances = Array1::zeros(x.ncols());
        let mut rng = SplitMix64::new(params.seed);
        let rows: Vec<usize> = (0..x.nrows()).collect();
        let root = grow(x, targets, params, &rows, 0, &mut importances, &mut rng);
        let total = importances.sum();
        if total > 0.0 {
            importances /= total;
        }
        Ok(Self {
            root,
            criterion: params.criterion,
            n_features: x.ncols(),
            feature_importances: importances,
        })
    }

    /// The statistics of the leaf each row falls into. x: [n, d]
    pub fn leaves(&self, x: ArrayView2<f64>) -> Result<Vec<&[f64]>> {
        check_data("x", &x)?;
        check_len(
            "x (columns)",
            x.ncols(),
            self.n_features,
            "the number of features seen by fit",
        )?;
        Ok(x.rows()
            .into_iter()
            .map(|row| {
                let mut node = &self.root;
                loop {
                    match node {
                        Node::Leaf { stats } => return stats.as_slice(),
                        Node::Split {
                            feature,
                            threshold,
                            left,
                            right,
                        } => {
                            node = if row[*feature] <= *threshold {
                                left
                            } else {
                                right
                            };
                        }
                    }
                }
            })
            .collect())
    }

    /// Classification: the majority class of each row's leaf (the lowest class on a tie).
    pub fn predict_class(&self, x: ArrayView2<f64>) -> Result<Vec<usize>> {
        Ok(self.leaves(x)?.iter().map(|s| argmax(s)).collect())
    }

    /// Regression: the mean value of each row's leaf.
    pub fn predict_value(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        Ok(self
            .leaves(x)?
            .iter()
            .map(|s| if s[0] > 0.0 { s[1] / s[0] } else { 0.0 })
            .collect())
    }

    /// Number of leaves and depth.
    pub fn size(&self) -> (usize, usize) {
        fn walk(n: &Node, d: usize) -> (usize, usize) {
            match n {
                Node::Leaf { .. } => (1, d),
                Node::Split { left, right, .. } => {
                    let (a, da) = walk(left, d + 1);
                    let (b, db) = walk(right, d + 1);
                    (a + b, da.max(db))
                }
            }
        }
        walk(&self.root, 0)
    }
}

/// The index of the largest value (the first on a tie).
pub fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .fold(
            (0, f64::NEG_INFINITY),
            |b, (i, &c)| if c > b.1 { (i, c) } else { b },
        )
        .0
}

// ANCHOR: grow
fn grow(
    x: ArrayView2<f64>,
    targets: &Targets,
    params: &TreeParams,
    rows: &[usize],
    depth: usize,
    importances: &mut Array1<f64>,
    rng: &mut SplitMix64,
) -> Node {
    let mut stats = vec![0.0; targets.width()];
    for &i in rows {
        targets.add(&mut stats, i, 1.0);
    }
    let node_impurity = impurity(params.criterion, &stats);
    let too_deep = params.max_depth.is_some_and(|m| depth >= m);
    if too_deep || node_impurity <= 1e-12 || rows.len() < 2 * params.min_samples_leaf {
        return Node::Leaf { stats };
    }
    let features: Vec<usize> = match params.max_features {
        Some(m) if m < x.ncols() => {
            // A random subset of m features: a partial Fisher–Yates shuffle.
            let mut all: Vec<usize> = (0..x.ncols()).collect();
            for k in 0..m {
                let j = k + (rng.next_u64() % (x.ncols() - k) as u64) as usize;
                all.swap(k, j);
            }
            let mut chosen = all[..m].to_vec();
            chosen.sort_unstable();
            chosen
        }
        _ => (0..x.ncols()).collect(),
    };
    let Some((feature, threshold, child_score)) = best_split(
        x,
        targets,
        rows,
        &features,
        params.criterion,
        params.min_samples_leaf,
    ) else {
        return Node::Leaf { stats };
    };
    importances[feature] += rows.len() as f64 * node_impurity - child_score;
    let (l, r): (Vec<usize>, Vec<usize>) =
        rows.iter().partition(|&&i| x[[i, feature]] <= threshold);
    Node::Split {
        feature,
        threshold,
        left: Box::new(grow(x, targets, params, &l, depth + 1, importances, rng)),
        right: Box::new(grow(x, targets, params, &r, depth + 1, importances, rng)),
    }
}
// ANCHOR_END: grow

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn impurities_are_hand_worked() {
        assert_eq!(impurity(Criterion::Gini, &[5.0, 5.0]), 0.5);
        assert_eq!(impurity(Criterion::Entropy, &[5.0, 5.0]), 1.0);
        assert_eq!(impurity(Criterion::Gini, &[4.0, 0.0]), 0.0);
        // values 1, 2, 3: variance 2/3
        assert!((impurity(Criterion::SquaredError, &[3.0, 6.0, 14.0]) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_threshold_is_found_and_the_tree_fits() {
        let x = array![[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [10.0, 0.0], [11.0, 0.0]];
        let y = [0, 0, 0, 1, 1];
        let t = Targets::Classes {
            y: &y,
            n_classes: 2,
        };
        let s = best_split(x.view(), &t, &[0, 1, 2, 3, 4], &[0, 1], Criterion::Gini, 1).unwrap();
        assert_eq!((s.0, s.1, s.2), (0, 6.5, 0.0));
        let tree = DecisionTree::fit(x.view(), &t, &TreeParams::default()).unwrap();
        assert_eq!(tree.predict_class(x.view()).unwrap(), y);
        assert_eq!(tree.feature_importances, array![1.0, 0.0]);
        assert!(
            DecisionTree::fit(
                x.view(),
                &t,
                &TreeParams {
                    max_depth: Some(0),
                    ..TreeParams::default()
                }
            )
            .is_err()
        );
    }
}
