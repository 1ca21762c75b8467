//! Runs the week 5 lab end to end: `cargo run -p week05-trees -- --help`.

mod data;
mod plots;
mod report;

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};
use data::accuracy;
use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use linfa_trees::{DecisionTree as LinfaTree, SplitQuality};
use ndarray::{Array1, Axis};
use report::*;
use std::path::PathBuf;
use wb_core::lab::{check_open_fraction, display_path};
use wb_lab::{Lab, LabArgs};
use week05_trees::ensemble::{gradient_boosting, random_forest};
use week05_trees::regularized::{Penalty, coordinate_descent};
use week05_trees::tree::{Criterion, DecisionTree, Targets, TreeParams};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CriterionArg {
    Gini,
    Entropy,
}

/// Week 5: CART from scratch beside linfa-trees, a random forest with its out-of-bag score,
/// gradient boosting, a depth sweep that shows overfitting, and ridge and lasso by coordinate
/// descent beside linfa-elasticnet.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// A CSV of numeric features and one label column for the tree section [default: breast cancer]
    #[arg(long, value_name = "FILE.csv")]
    data: Option<PathBuf>,
    /// The label column of --data
    #[arg(long, value_name = "COL", default_value = "diagnosis")]
    target: String,
    /// Split criterion of the trees
    #[arg(long, value_enum, default_value = "gini")]
    criterion: CriterionArg,
    /// Maximum depth of the single tree compared with linfa
    #[arg(long, default_value_t = 5)]
    max_depth: usize,
    /// Minimum training rows per leaf
    #[arg(long, default_value_t = 1)]
    min_samples_leaf: usize,
    /// Trees in the random forest
    #[arg(long, default_value_t = 100)]
    n_trees: usize,
    /// Share of the rows held out for testing, strictly between 0 and 1
    #[arg(long, value_name = "F", default_value_t = 0.3)]
    test_fraction: f64,
    /// Seed of the splits, the bootstrap samples and the feature subsets
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[command(flatten)]
    lab: LabArgs,
}

wb_lab::main!(
    "Week 5 — trees, ensembles, overfitting and regularisation",
    run
);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    check_open_fraction("--test-fraction", args.test_fraction)?;
    if args.max_depth == 0 {
        bail!("--max-depth must be at least 1");
    }
    let (criterion, quality) = match args.criterion {
        CriterionArg::Gini => (Criterion::Gini, SplitQuality::Gini),
        CriterionArg::Entropy => (Criterion::Entropy, SplitQuality::Entropy),
    };

    // 1. One tree, from scratch and with linfa-trees, same split and settings. ----------------
    let (path, label) = match &args.data {
        Some(p) => (p.clone(), args.target.clone()),
        None => (
            wb_data::dataset("tabular/breast_cancer.csv")?,
            "diagnosis".to_string(),
        ),
    };
    let (x, y, classes, features) = data::load(&path, &label)?;
    let s = data::split(&x, &y, &classes, args.test_fraction, args.seed)?;
    let params = TreeParams {
        criterion,
        max_depth: Some(args.max_depth),
        min_samples_leaf: args.min_samples_leaf,
        ..TreeParams::default()
    };
    let targets = Targets::Classes {
        y: &s.ytr,
        n_classes: classes.len(),
    };
    let ours = lab.timed("tree_ours", || {
        DecisionTree::fit(s.xtr.view(), &targets, &params)
    })?;
    let ours_acc = accuracy(&ours.predict_class(s.xte.view())?, &s.yte);
    let train = Dataset::new(s.xtr.clone(), Array1::from(s.ytr.clone()));
    let linfa = lab.timed("tree_linfa", || {
        LinfaTree::params()
            .split_quality(quality)
            .max_depth(Some(args.max_depth))
            .min_weight_leaf(args.min_samples_leaf as f32)
            .min_weight_split(2.0 * args.min_samples_leaf as f32)
            .fit(&train)
    })?;
    let linfa_acc = accuracy(&linfa.predict(&s.xte).to_vec(), &s.yte);
    let importance = |(feature, &importance): (&String, _)| Importance {
        feature: feature.clone(),
        importance,
    };
    let mut importances: Vec<_> = features
        .iter()
        .zip(&ours.feature_importances)
        .map(importance)
        .collect();
    importances.sort_by(|a, b| b.importance.total_cmp(&a.importance));
    let (leaves, depth) = ours.size();

    // 2. Overfitting: accuracy against depth. --------------------------------------------------
    let mut sweep = Vec::new();
    for d in 1..=12 {
        let p = TreeParams {
            max_depth: Some(d),
            ..params
        };
        let tree = DecisionTree::fit(s.xtr.view(), &targets, &p)?;
        sweep.push(DepthRow {
            depth: d,
            train_accuracy: accuracy(&tree.predict_class(s.xtr.view())?, &s.ytr),
            test_accuracy: accuracy(&tree.predict_class(s.xte.view())?, &s.yte),
        });
    }
    let unbounded = TreeParams {
        max_depth: None,
        ..params
    };
    let full = DecisionTree::fit(s.xtr.view(), &targets, &unbounded)?;
    let full_train = accuracy(&full.predict_class(s.xtr.view())?, &s.ytr);
    let full_test = accuracy(&full.predict_class(s.xte.view())?, &s.yte);

    // 3. A random forest on the same split. ---------------------------------------------------
    let max_features = ((x.ncols() as f64).sqrt().round() as usize).max(1);
    let forest = lab.timed("forest", || {
        let (n_classes, n_trees) = (classes.len(), args.n_trees);
        let (x, y) = (s.xtr.view(), &s.ytr);
        random_forest(
            x,
            y,
            n_classes,
            n_trees,
            max_features,
            &unbounded,
            args.seed,
        )
    })?;
    let forest_acc = accuracy(&forest.predict(s.xte.view())?, &s.yte);

    // 4. Gradient boosting and ridge/lasso on diabetes. ---------------------------------------
    let diabetes = wb_data::read_numeric_csv(&wb_data::dataset("tabular/diabetes.csv")?)?;
    let (dx, dy, dnames) = diabetes.split_target("target")?;
    let (dtr, dte) = wb_data::train_test_indices(dx.nrows(), args.test_fraction, args.seed);
    let rows = |idx: &[usize]| (dx.select(Axis(0), idx), dy.select(Axis(0), idx));
    let ((dxtr, dytr), (dxte, dyte)) = (rows(&dtr), rows(&dte));
    let gb = lab.timed("boosting", || {
        gradient_boosting(dxtr.view(), dytr.view(), 200, 0.05, 3)
    })?;
    let gb_test = (&dyte - &gb.predict(dxte.view())?)
        .mapv(|r| r * r)
        .mean()
        .unwrap_or(f64::NAN);
    let r2 = |mse: f64| 1.0 - mse / dyte.var(0.0);
    let mean = dx.mean_axis(Axis(0)).unwrap_or_default();
    let sd = dx.std_axis(Axis(0), 0.0);
    let dz = (&dx - &mean) / &sd; // standardised, so that one α means the same for every feature
    let (ridge_alpha, lasso_alpha) = (10.0, 1.0);
    let fit = |penalty, alpha, iterations| {
        coordinate_descent(dz.view(), dy.view(), penalty, alpha, iterations, 1e-10)
    };
    let ridge = fit(Penalty::Ridge, ridge_alpha, 10_000)?;
    let lasso = fit(Penalty::Lasso, lasso_alpha, 10_000)?;
    let ols = fit(Penalty::Ridge, 0.0, 100_000)?;
    let enet = ElasticNet::<f64>::lasso()
        .penalty(lasso_alpha)
        .tolerance(1e-10)
        .max_iterations(100_000)
        .fit(&Dataset::new(dz.clone(), dy.clone()))?;
    let penalised = |alpha: f64, fit: &week05_trees::regularized::PenalizedFit| Penalised {
        alpha,
        coefficients: fit.weights.to_vec(),
        intercept: fit.intercept,
    };
    let report = Report {
        data: display_path(&path),
        shape: [x.nrows(), x.ncols()],
        classes,
        seed: args.seed,
        n_train: s.ytr.len(),
        n_test: s.yte.len(),
        tree: Tree {
            criterion: format!("{criterion:?}"),
            max_depth: args.max_depth,
            min_samples_leaf: args.min_samples_leaf,
            test_accuracy: ours_acc,
            linfa_test_accuracy: linfa_acc,
            leaves,
            depth,
            importances,
            ms: (lab.ms("tree_ours"), lab.ms("tree_linfa")),
        },
        unbounded_tree: TrainTest {
            train_accuracy: full_train,
            test_accuracy: full_test,
        },
        depth_sweep: sweep,
        forest: Forest {
            n_trees: args.n_trees,
            max_features,
            test_accuracy: forest_acc,
            oob_score: forest.oob_score,
            ms: lab.ms("forest"),
        },
        boosting: Boosting {
            rounds: 200,
            learning_rate: 0.05,
            train_mse: gb.train_mse.clone(),
            test_mse: gb_test,
            test_r2: r2(gb_test),
            ms: lab.ms("boosting"),
        },
        diabetes_features: dnames,
        ridge: penalised(ridge_alpha, &ridge),
        lasso: penalised(lasso_alpha, &lasso),
        linfa_lasso_coefficients: enet.hyperplane().to_vec(),
        ols_standardised: ols.weights.to_vec(),
    };
    plots::save(lab, &report, criterion, dz.view(), dy.view())?;
    Ok(report)
}
