//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub data: String,
    pub shape: [usize; 2],
    pub classes: Vec<String>,
    pub seed: u64,
    pub n_train: usize,
    pub n_test: usize,
    pub tree: Tree,
    pub unbounded_tree: TrainTest,
    pub depth_sweep: Vec<DepthRow>,
    pub forest: Forest,
    pub boosting: Boosting,
    pub diabetes_features: Vec<String>,
    pub ridge: Penalised,
    pub lasso: Penalised,
    pub linfa_lasso_coefficients: Vec<f64>,
    pub ols_standardised: Vec<f64>,
}

#[derive(Serialize)]
pub struct Tree {
    pub criterion: String,
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    pub test_accuracy: f64,
    pub linfa_test_accuracy: f64,
    pub leaves: usize,
    pub depth: usize,
    pub importances: Vec<Importance>,
    #[serde(skip)]
    pub ms: (f64, f64),
}

#[derive(Serialize)]
pub struct Importance {
    pub feature: String,
    pub importance: f64,
}

#[derive(Serialize)]
pub struct TrainTest {
    pub train_accuracy: f64,
    pub test_accuracy: f64,
}

#[derive(Serialize)]
pub struct DepthRow {
    pub depth: usize,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
}

#[derive(Serialize)]
pub struct Forest {
    pub n_trees: usize,
    pub max_features: usize,
    pub test_accuracy: f64,
    pub oob_score: Option<f64>,
    #[serde(skip)]
    pub ms: f64,
}

#[derive(Serialize)]
pub struct Boosting {
    pub rounds: usize,
    pub learning_rate: f64,
    pub train_mse: Vec<f64>,
    pub test_mse: f64,
    pub test_r2: f64,
    #[serde(skip)]
    pub ms: f64,
}

#[derive(Serialize)]
pub struct Penalised {
    pub alpha: f64,
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Data for the trees: {} ({} rows, {} features, classes {:?}); split {}/{} (seed {})",
            self.data,
            self.shape[0],
            self.shape[1],
            self.classes,
            self.n_train,
            self.n_test,
            self.seed
        )?;
        let t = &self.tree;
        writeln!(
            f,
            "\n1. One tree ({}, max depth {}, ≥ {} rows per leaf)",
            t.criterion, t.max_depth, t.min_samples_leaf
        )?;
        writeln!(
            f,
            "   from scratch: test accuracy {:.1}%, {} leaves, depth {} ({:.1} ms)",
            100.0 * t.test_accuracy,
            t.leaves,
            t.depth,
            t.ms.0
        )?;
        writeln!(
            f,
            "   linfa-trees:  test accuracy {:.1}% ({:.1} ms)",
            100.0 * t.linfa_test_accuracy,
            t.ms.1
        )?;
        writeln!(f, "   most important features (impurity decrease):")?;
        for i in t.importances.iter().take(5) {
            writeln!(f, "     {:<28} {:.3}", i.feature, i.importance)?;
        }
        writeln!(
            f,
            "\n2. Overfitting: the deeper the tree, the better it fits the training rows"
        )?;
        writeln!(f, "   {:>5} {:>7} {:>7}", "depth", "train", "test")?;
        for r in &self.depth_sweep {
            let (a, b) = (100.0 * r.train_accuracy, 100.0 * r.test_accuracy);
            writeln!(f, "   {:>5} {a:>6.1}% {b:>6.1}%", r.depth)?;
        }
        let full = &self.unbounded_tree;
        writeln!(
            f,
            "   unbounded: {:.1}% on the training rows (every leaf pure), {:.1}% on the test rows",
            100.0 * full.train_accuracy,
            100.0 * full.test_accuracy
        )?;
        let fo = &self.forest;
        writeln!(
            f,
            "\n3. Random forest: {} unbounded trees, bootstrap samples, {} random features per split ({:.0} ms)",
            fo.n_trees, fo.max_features, fo.ms
        )?;
        writeln!(
            f,
            "   test accuracy {:.1}% (one unbounded tree: {:.1}%)",
            100.0 * fo.test_accuracy,
            100.0 * full.test_accuracy
        )?;
        if let Some(oob) = fo.oob_score {
            writeln!(
                f,
                "   out-of-bag accuracy {:.1}%: an estimate of the test accuracy from the training rows alone",
                100.0 * oob
            )?;
        }
        let gb = &self.boosting;
        writeln!(
            f,
            "\n4. Gradient boosting on diabetes: {} rounds of depth-3 trees, learning rate {} ({:.0} ms)",
            gb.rounds, gb.learning_rate, gb.ms
        )?;
        writeln!(
            f,
            "   training MSE {:.0} → {:.0} ({}); test MSE {:.0}, test R² {:.3}",
            gb.train_mse.first().copied().unwrap_or(f64::NAN),
            gb.train_mse.last().copied().unwrap_or(f64::NAN),
            if gb.train_mse.windows(2).all(|w| w[1] < w[0]) {
                "it fell at every round"
            } else {
                "it rose at some round!"
            },
            gb.test_mse,
            gb.test_r2
        )?;
        writeln!(
            f,
            "\n5. Regularisation on diabetes (standardised features): coefficients"
        )?;
        writeln!(
            f,
            "   {:<8} {:>10} {:>12} {:>12} {:>14}",
            "feature",
            "OLS",
            format!("ridge α={}", self.ridge.alpha),
            format!("lasso α={}", self.lasso.alpha),
            "linfa lasso"
        )?;
        for (j, n) in self.diabetes_features.iter().enumerate() {
            writeln!(
                f,
                "   {n:<8} {:>10.3} {:>12.3} {:>12.3} {:>14.3}",
                self.ols_standardised[j],
                self.ridge.coefficients[j],
                self.lasso.coefficients[j],
                self.linfa_lasso_coefficients[j]
            )?;
        }
        let zeros = self
            .lasso
            .coefficients
            .iter()
            .filter(|w| **w == 0.0)
            .count();
        writeln!(
            f,
            "   ridge shrinks every coefficient; lasso sets {zeros} of {} exactly to zero: it selects features.",
            self.diabetes_features.len()
        )
    }
}
