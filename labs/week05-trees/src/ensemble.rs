//! Ensembles of trees: a random forest (many deep trees on bootstrap samples and random feature
//! subsets, voting) and gradient boosting (many shallow trees, each fitting what the previous
//! ones got wrong).

use crate::tree::{Criterion, DecisionTree, Targets, TreeParams, argmax};
use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use wb_core::{MlError, Result, check_data, check_len};
use wb_data::SplitMix64;

/// A fitted random forest.
#[derive(Debug, Clone)]
pub struct RandomForest {
    pub trees: Vec<DecisionTree>,
    pub n_classes: usize,
    /// Accuracy of each training row's vote by the trees that did not see it (None if no row was
    /// left out of every tree's sample).
    pub oob_score: Option<f64>,
}

// ANCHOR: forest
/// A random forest of `n_trees` classification trees. Tree t is grown on a bootstrap sample (n
/// rows drawn with replacement as `⌊u·n⌋` with `SplitMix64::new(seed + t)`), trying
/// `max_features` random features at each split (seeded with `seed + t` too). Each training row
/// is then voted on by the trees whose sample did not contain it: the out-of-bag score, a test
/// score for free.
///
/// x: [n, d], y: [n]
pub fn random_forest(
    x: ArrayView2<f64>,
    y: &[usize],
    n_classes: usize,
    n_trees: usize,
    max_features: usize,
    params: &TreeParams,
    seed: u64,
) -> Result<RandomForest> {
    check_data("x", &x)?;
    check_len("y", y.len(), x.nrows(), "one label per row of x")?;
    if n_trees == 0 {
        return Err(MlError::InvalidArgument {
            arg: "n_trees".into(),
            detail: "at least one tree is needed".into(),
        });
    }
    // BEGIN SOLUTION forest
    let n = x.nrows();
    let mut trees = Vec::with_capacity(n_trees);
    let mut oob_votes = vec![vec![0.0; n_classes]; n];
    for t in 0..n_trees {
        let mut rng = SplitMix64::new(seed.wrapping_add(t as u64));
        let sample: Vec<usize> = (0..n)
            .map(|_| ((rng.next_f64() * n as f64) as usize).min(n - 1))
            .collect();
        let mut in_bag = vec![false; n];
        for &i in &sample {
            in_bag[i] = true;
        }
        let xs = x.select(Axis(0), &sample);
        let ys: Vec<usize> = sample.iter().map(|&i| y[i]).collect();
        let tree_params = TreeParams {
            max_features: Some(max_features),
            seed: seed.wrapping_add(t as u64),
            ..*params
        };
        let tree = DecisionTree::fit(
            xs.view(),
            &Targets::Classes { y: &ys, n_classes },
            &tree_params,
        )?;
        let out: Vec<usize> = (0..n).filter(|&i| !in_bag[i]).collect();
        if !out.is_empty() {
            for (&i, c) in out
                .iter()
                .zip(tree.predict_class(x.select(Axis(0), &out).view())?)
            {
                oob_votes[i][c] += 1.0;
            }
        }
        trees.push(tree);
    }
    let voted: Vec<usize> = (0..n)
        .filter(|&i| oob_votes[i].iter().sum::<f64>() > 0.0)
        .collect();
    let oob_score = (!voted.is_empty()).then(|| {
        voted
            .iter()
            .filter(|&&i| argmax(&oob_votes[i]) == y[i])
            .count() as f64
            / voted.len() as f64
    });
    Ok(RandomForest {
        trees,
        n_classes,
        oob_score,
    })
    // END SOLUTION
}
// ANCHOR_END: forest

impl RandomForest {
    /// The majority vote of the trees. x: [n, d]
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<usize>> {
        let mut votes = vec![vec![0.0; self.n_classes]; x.nrows()];
        for tree in &self.trees {
            for (v, c) in votes.iter_mut().zip(tree.predict_class(x)?) {
                v[c] += 1.0;
            }
        }
        Ok(votes.iter().map(|v| argmax(v)).collect())
    }
}

/// A fitted gradient-boosting regressor.
#[derive(Debug, Clone)]
pub struct GradientBoosting {
    pub initial: f64,
    pub learning_rate: f64,
    pub trees: Vec<DecisionTree>,
    /// Training MSE before the first tree and after each.
    pub train_mse: Vec<f64>,
}

// ANCHOR: boosting
/// Gradient boosting for regression with squared loss: start from the mean; each round fits a
/// regression tree (depth `max_depth`) to the residuals `y − F(x)` — the negative gradient of
/// ½(y − F)² — and adds `learning_rate` times its prediction to F.
///
/// x: [n, d], y: [n]
pub fn gradient_boosting(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    n_rounds: usize,
    learning_rate: f64,
    max_depth: usize,
) -> Result<GradientBoosting> {
    check_data("x", &x)?;
    check_data("y", &y)?;
    check_len("y", y.len(), x.nrows(), "one target per row of x")?;
    wb_core::check_positive("learning_rate", learning_rate)?;
    // BEGIN SOLUTION boosting
    let initial = y.mean().expect("not empty");
    let mut f = Array1::from_elem(y.len(), initial);
    let mse = |f: &Array1<f64>| (&y - f).mapv(|r| r * r).mean().unwrap_or(0.0);
    let mut train_mse = vec![mse(&f)];
    let params = TreeParams {
        criterion: Criterion::SquaredError,
        max_depth: Some(max_depth),
        ..TreeParams::default()
    };
    let mut trees = Vec::with_capacity(n_rounds);
    for _ in 0..n_rounds {
        let residuals: Vec<f64> = (&y - &f).to_vec();
        let tree = DecisionTree::fit(x, &Targets::Values { y: &residuals }, &params)?;
        f.scaled_add(learning_rate, &tree.predict_value(x)?);
        train_mse.push(mse(&f));
        trees.push(tree);
    }
    Ok(GradientBoosting {
        initial,
        learning_rate,
        trees,
        train_mse,
    })
    // END SOLUTION
}
// ANCHOR_END: boosting

impl GradientBoosting {
    /// x: [n, d] → [n]
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        let mut f = Array1::from_elem(x.nrows(), self.initial);
        for tree in &self.trees {
            f.scaled_add(self.learning_rate, &tree.predict_value(x)?);
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn boosting_lowers_the_loss_every_round() {
        let x = array![[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]];
        let y = array![1.0, 1.5, 3.0, 3.5, 8.0, 9.0];
        let gb = gradient_boosting(x.view(), y.view(), 20, 0.3, 2).unwrap();
        assert!(gb.train_mse.windows(2).all(|w| w[1] <= w[0]));
        assert!(gb.train_mse.last().unwrap() < &0.1);
    }

    #[test]
    fn a_forest_votes() {
        let x = array![[0.0], [0.1], [0.2], [1.0], [1.1], [1.2]];
        let y = [0, 0, 0, 1, 1, 1];
        let f = random_forest(x.view(), &y, 2, 25, 1, &TreeParams::default(), 3).unwrap();
        assert_eq!(f.predict(x.view()).unwrap(), y);
        assert!(random_forest(x.view(), &y, 2, 0, 1, &TreeParams::default(), 3).is_err());
    }
}
