//! Grader checks for week 5: trees, ensembles and regularisation.
//!
//! References: `fixtures/week05.json` (scikit-learn 1.9: decision stumps, Ridge, Lasso),
//! linfa-trees on the same split, closed forms and hand-worked cases.

use grader::{
    Called, Failure, Tol, check, close, close_array, ensure, expect_err, fixture, num, nums,
};
use ndarray::{Array1, Array2, Axis, array};
use serde_json::Value;
use week05_trees::ensemble::{gradient_boosting, random_forest};
use week05_trees::linfa::prelude::*;
use week05_trees::regularized::{Penalty, coordinate_descent};
use week05_trees::tree::{Criterion, DecisionTree, Targets, TreeParams, best_split, impurity};

/// (x, class indices, number of classes)
fn labelled(name: &str, label: &str) -> Result<(Array2<f64>, Vec<usize>, usize), Failure> {
    let (t, labels) = wb_data::read_labelled_csv(
        &wb_data::dataset(&format!("tabular/{name}")).called(name)?,
        label,
    )
    .called("read_labelled_csv")?;
    let mut classes = labels.clone();
    classes.sort();
    classes.dedup();
    let y = labels
        .iter()
        .map(|l| classes.iter().position(|c| c == l).unwrap_or(0))
        .collect();
    Ok((t.data, y, classes.len()))
}

fn split(
    x: &Array2<f64>,
    y: &[usize],
    f: f64,
) -> (Array2<f64>, Vec<usize>, Array2<f64>, Vec<usize>) {
    let (tr, te) = wb_data::train_test_indices(x.nrows(), f, 42);
    (
        x.select(Axis(0), &tr),
        tr.iter().map(|&i| y[i]).collect(),
        x.select(Axis(0), &te),
        te.iter().map(|&i| y[i]).collect(),
    )
}

fn accuracy(a: &[usize], b: &[usize]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len().max(1) as f64
}

check! {
    fn impurities_match_sklearn(exercise = "impurity") {
        close(
            "Gini of [5, 5]",
            0.5,
            impurity(Criterion::Gini, &[5.0, 5.0]),
            Tol::abs(1e-15),
        )?;
        close(
            "entropy of [5, 5] (bits)",
            1.0,
            impurity(Criterion::Entropy, &[5.0, 5.0]),
            Tol::abs(1e-15),
        )?;
        close(
            "entropy of [1, 1, 1, 1]",
            2.0,
            impurity(Criterion::Entropy, &[1.0, 1.0, 1.0, 1.0]),
            Tol::abs(1e-15),
        )?;
        close(
            "squared error of 1, 2, 3 (stats [3, 6, 14])",
            2.0 / 3.0,
            impurity(Criterion::SquaredError, &[3.0, 6.0, 14.0]),
            Tol::abs(1e-12),
        )?;
        let f = fixture("week05");
        for (name, label) in [("breast_cancer.csv", "diagnosis"), ("wine.csv", "class")] {
            let (_, y, k) = labelled(name, label)?;
            let mut counts = vec![0.0; k];
            for &c in &y {
                counts[c] += 1.0;
            }
            for (crit, c) in [("gini", Criterion::Gini), ("entropy", Criterion::Entropy)] {
                close(
                    &format!("{name}: root {crit} against tree_.impurity[0]"),
                    num(&f, &format!("/stumps/{name}~1{crit}/root_impurity")),
                    impurity(c, &counts),
                    Tol::rel(1e-12),
                )?;
            }
        }
        Ok(())
    }
}

check! {
    fn best_root_split_matches_sklearn(exercise = "best_split") {
        let f = fixture("week05");
        for (name, label) in [("breast_cancer.csv", "diagnosis"), ("wine.csv", "class")] {
            let (x, y, k) = labelled(name, label)?;
            let rows: Vec<usize> = (0..x.nrows()).collect();
            let features: Vec<usize> = (0..x.ncols()).collect();
            for (crit, c) in [("gini", Criterion::Gini), ("entropy", Criterion::Entropy)] {
                let stump: &Value = &f["stumps"][format!("{name}/{crit}")];
                let (feature, threshold, score) = best_split(
                    x.view(),
                    &Targets::Classes {
                        y: &y,
                        n_classes: k,
                    },
                    &rows,
                    &features,
                    c,
                    1,
                )
                .ok_or_else(|| Failure::new("best_split", "found no split of the root"))?;
                let expected = stump["feature"].as_u64().unwrap_or(0) as usize;
                ensure(
                    feature == expected,
                    &format!("{name} {crit}: root feature"),
                    format!("expected feature {expected}, got {feature}"),
                )?;
                // scikit-learn stores thresholds after rounding x to f32.
                close(
                    &format!("{name} {crit}: root threshold"),
                    stump["threshold"].as_f64().unwrap_or(f64::NAN),
                    threshold,
                    Tol::rel(1e-6),
                )?;
                // The weighted child impurity, from the two children scikit-learn reports.
                let (il, ir) = (
                    stump["left_impurity"].as_f64().unwrap_or(f64::NAN),
                    stump["right_impurity"].as_f64().unwrap_or(f64::NAN),
                );
                let n_left = (0..x.nrows())
                    .filter(|&i| x[[i, feature]] <= threshold)
                    .count() as f64;
                let expected_score = n_left * il + (x.nrows() as f64 - n_left) * ir;
                close(
                    &format!("{name} {crit}: n_left·impurity(left) + n_right·impurity(right)"),
                    expected_score,
                    score,
                    Tol::rel(1e-9),
                )?;
            }
        }
        Ok(())
    }
}

check! {
    fn trees_fit_and_match_linfa(exercise = "best_split") {
        let f = fixture("week05");
        let (x, y, k) = labelled("breast_cancer.csv", "diagnosis")?;
        let (xtr, ytr, xte, yte) = split(&x, &y, 0.3);
        let targets = Targets::Classes {
            y: &ytr,
            n_classes: k,
        };
        let full = DecisionTree::fit(xtr.view(), &targets, &TreeParams::default())
            .called("DecisionTree::fit")?;
        close(
            "an unbounded tree on its training rows (every leaf pure)",
            1.0,
            accuracy(
                &full.predict_class(xtr.view()).called("predict_class")?,
                &ytr,
            ),
            Tol::abs(0.0),
        )?;
        let params = TreeParams {
            max_depth: Some(5),
            ..TreeParams::default()
        };
        let tree = DecisionTree::fit(xtr.view(), &targets, &params).called("DecisionTree::fit")?;
        ensure(
            tree.size().1 <= 5,
            "max_depth",
            format!("a tree limited to depth 5 has depth {}", tree.size().1),
        )?;
        let ours = accuracy(
            &tree.predict_class(xte.view()).called("predict_class")?,
            &yte,
        );
        let linfa = week05_trees::linfa_trees::DecisionTree::params()
            .max_depth(Some(5))
            .fit(&Dataset::new(xtr.clone(), Array1::from(ytr.clone())))
            .map_err(|e| Failure::new("linfa-trees", e.to_string()))?;
        let theirs = accuracy(&linfa.predict(&xte).to_vec(), &yte);
        close(
            "test accuracy (depth 5) against linfa-trees on the same split",
            theirs,
            ours,
            Tol::abs(0.02),
        )?;
        close(
            "test accuracy (depth 5) against scikit-learn's DecisionTreeClassifier",
            num(&f, "/breast_cancer_depth5_test_accuracy"),
            ours,
            Tol::abs(0.03),
        )?;
        let imp = &tree.feature_importances;
        close(
            "feature importances sum to 1",
            1.0,
            imp.sum(),
            Tol::abs(1e-12),
        )?;
        let leafy = DecisionTree::fit(
            xtr.view(),
            &targets,
            &TreeParams {
                min_samples_leaf: 20,
                ..TreeParams::default()
            },
        )
        .called("fit")?;
        let small = leafy
            .leaves(xtr.view())
            .called("leaves")?
            .iter()
            .map(|s| s.iter().sum::<f64>())
            .fold(f64::INFINITY, f64::min);
        ensure(
            small >= 20.0,
            "min_samples_leaf",
            format!("a leaf holds {small} training rows, fewer than 20"),
        )
    }
}

check! {
    fn a_forest_beats_one_tree(exercise = "forest", timeout_s = 120) {
        let (x, y, k) = labelled("breast_cancer.csv", "diagnosis")?;
        let (xtr, ytr, xte, yte) = split(&x, &y, 0.3);
        let tree = DecisionTree::fit(
            xtr.view(),
            &Targets::Classes {
                y: &ytr,
                n_classes: k,
            },
            &TreeParams::default(),
        )
        .called("fit")?;
        let one = accuracy(&tree.predict_class(xte.view()).called("predict")?, &yte);
        let forest = random_forest(xtr.view(), &ytr, k, 100, 5, &TreeParams::default(), 42)
            .called("random_forest")?;
        ensure(
            forest.trees.len() == 100,
            "trees",
            format!("expected 100 trees, got {}", forest.trees.len()),
        )?;
        let many = accuracy(&forest.predict(xte.view()).called("predict")?, &yte);
        ensure(
            many > one,
            "forest vs tree",
            format!("100 trees should beat one on the test rows: {many:.3} vs {one:.3}"),
        )?;
        let oob = forest
            .oob_score
            .ok_or_else(|| Failure::new("oob_score", "no out-of-bag estimate"))?;
        close(
            "out-of-bag accuracy, an estimate of the test accuracy",
            many,
            oob,
            Tol::abs(0.05),
        )?;
        let again = random_forest(xtr.view(), &ytr, k, 10, 5, &TreeParams::default(), 7)
            .called("random_forest")?;
        let twice = random_forest(xtr.view(), &ytr, k, 10, 5, &TreeParams::default(), 7)
            .called("random_forest")?;
        ensure(
            again.trees == twice.trees,
            "reproducibility",
            "the same seed must grow the same forest",
        )
    }
}

check! {
    fn boosting_lowers_the_loss_every_round(exercise = "boosting") {
        let t = wb_data::read_numeric_csv(
            &wb_data::dataset("tabular/diabetes.csv").called("diabetes.csv")?,
        )
        .called("read")?;
        let (x, y, _) = t.split_target("target").called("split_target")?;
        let gb = gradient_boosting(x.view(), y.view(), 50, 0.1, 3).called("gradient_boosting")?;
        ensure(
            gb.train_mse.len() == 51,
            "loss history",
            format!("expected 51 values, got {}", gb.train_mse.len()),
        )?;
        close(
            "loss before any tree = variance of y",
            y.var(0.0),
            gb.train_mse[0],
            Tol::rel(1e-12),
        )?;
        ensure(
            gb.train_mse.windows(2).all(|w| w[1] < w[0]),
            "training loss",
            "must fall at every round",
        )?;
        let pred = gb.predict(x.view()).called("predict")?;
        let mse = (&y - &pred).mapv(|r| r * r).mean().unwrap_or(f64::NAN);
        close(
            "predict reproduces the last training loss",
            *gb.train_mse.last().unwrap_or(&f64::NAN),
            mse,
            Tol::rel(1e-9),
        )
    }
}

check! {
    fn ridge_and_lasso_match_sklearn(exercise = "coordinate_descent") {
        let f = fixture("week05");
        let t = wb_data::read_numeric_csv(
            &wb_data::dataset("tabular/diabetes.csv").called("diabetes.csv")?,
        )
        .called("read")?;
        let (x, y, _) = t.split_target("target").called("split_target")?;
        let z = (&x - &x.mean_axis(Axis(0)).unwrap_or_default()) / &x.std_axis(Axis(0), 0.0);
        let ridge = coordinate_descent(z.view(), y.view(), Penalty::Ridge, 10.0, 100_000, 1e-12)
            .called("coordinate_descent (ridge)")?;
        close_array(
            "ridge coefficients (α = 10) against sklearn Ridge",
            nums(&f, "/ridge/coefficients").view(),
            ridge.weights.view(),
            Tol::rel(1e-6).and_abs(1e-9),
        )?;
        close(
            "ridge intercept",
            num(&f, "/ridge/intercept"),
            ridge.intercept,
            Tol::rel(1e-9),
        )?;
        let lasso = coordinate_descent(z.view(), y.view(), Penalty::Lasso, 1.0, 100_000, 1e-12)
            .called("coordinate_descent (lasso)")?;
        close_array(
            "lasso coefficients (α = 1) against sklearn Lasso",
            nums(&f, "/lasso/coefficients").view(),
            lasso.weights.view(),
            Tol::rel(1e-6).and_abs(1e-9),
        )?;
        ensure(
            lasso.weights.iter().filter(|w| **w == 0.0).count() == 3,
            "lasso zeros",
            "lasso must set exactly 3 coefficients to 0 here (age, s2, s4)",
        )
    }
}

check! {
    fn bad_input_returns_errors(exercise = "best_split") {
        let x = array![[0.0], [1.0]];
        let y = [0usize, 1];
        let t = Targets::Classes {
            y: &y,
            n_classes: 2,
        };
        expect_err(
            "a tree with max_depth 0",
            DecisionTree::fit(
                x.view(),
                &t,
                &TreeParams {
                    max_depth: Some(0),
                    ..TreeParams::default()
                },
            ),
        )?;
        expect_err(
            "a tree with NaN in x",
            DecisionTree::fit(array![[f64::NAN], [1.0]].view(), &t, &TreeParams::default()),
        )?;
        expect_err(
            "a tree with 3 labels for 2 rows",
            DecisionTree::fit(
                x.view(),
                &Targets::Classes {
                    y: &[0, 1, 0],
                    n_classes: 2,
                },
                &TreeParams::default(),
            ),
        )?;
        expect_err(
            "a label ≥ n_classes",
            DecisionTree::fit(
                x.view(),
                &Targets::Classes {
                    y: &[0, 2],
                    n_classes: 2,
                },
                &TreeParams::default(),
            ),
        )?;
        expect_err(
            "a forest of 0 trees",
            random_forest(x.view(), &y, 2, 0, 1, &TreeParams::default(), 1),
        )?;
        expect_err(
            "lasso with α < 0",
            coordinate_descent(
                x.view(),
                array![1.0, 2.0].view(),
                Penalty::Lasso,
                -1.0,
                10,
                1e-6,
            ),
        )?;
        let tree = DecisionTree::fit(x.view(), &t, &TreeParams::default())
            .called("a tree on good input")?;
        ensure(
            tree.predict_class(x.view()).called("predict")? == vec![0, 1],
            "good input",
            "two separable rows must be classified right",
        )
    }
}
