//! Runs the week 5 lab end to end: `cargo run -p week05-trees -- --help`.

mod report;

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};
use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use linfa_trees::{DecisionTree as LinfaTree, SplitQuality};
use ndarray::{Array1, Array2, Axis};
use report::*;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use wb_core::lab::{check_open_fraction, display_path, elapsed_ms};
use wb_lab::{Lab, LabArgs};
use wb_plot::{DecisionRegions, LinePlot, Series};
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

/// The share of right answers (0 for an empty test set, which a test fraction in (0, 1) cannot
/// leave on data of two rows or more).
fn accuracy(predicted: &[usize], truth: &[usize]) -> f64 {
    wb_core::accuracy(truth, predicted).unwrap_or(0.0)
}

/// A labelled CSV: (x, class indices, class names, feature names).
type Labelled = (Array2<f64>, Vec<usize>, Vec<String>, Vec<String>);

/// Reads a labelled CSV.
fn load(path: &std::path::Path, label: &str) -> Result<Labelled> {
    let (t, labels) = wb_data::read_labelled_csv(path, label)?;
    let mut classes = labels.clone();
    classes.sort();
    classes.dedup();
    if classes.len() < 2 {
        bail!(
            "{}: column `{label}` has a single class ({:?}); a classifier needs at least two",
            display_path(path),
            classes
        );
    }
    // A column of many distinct numbers is a quantity to predict, not a set of classes.
    if classes.len() > 20 && classes.iter().all(|c| c.parse::<f64>().is_ok()) {
        bail!(
            "{}: column `{label}` holds {} distinct numbers: a continuous target, not classes. \
             Predict it with regression (week 2's lab, `--target {label}`), or bin it into a few classes first",
            display_path(path),
            classes.len()
        );
    }
    let y = labels
        .iter()
        .map(|l| classes.iter().position(|c| c == l).unwrap_or(0))
        .collect();
    Ok((t.data, y, classes, t.columns))
}

struct Split {
    xtr: Array2<f64>,
    xte: Array2<f64>,
    ytr: Vec<usize>,
    yte: Vec<usize>,
}

fn split(x: &Array2<f64>, y: &[usize], f: f64, seed: u64) -> Split {
    let (tr, te) = wb_data::train_test_indices(x.nrows(), f, seed);
    Split {
        xtr: x.select(Axis(0), &tr),
        xte: x.select(Axis(0), &te),
        ytr: tr.iter().map(|&i| y[i]).collect(),
        yte: te.iter().map(|&i| y[i]).collect(),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    wb_lab::run(
        "week05-trees",
        "Week 5 — trees, ensembles, overfitting and regularisation",
        &args.lab,
        |lab| run(&args, lab),
    )
}

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
    let (x, y, classes, features) = load(&path, &label)?;
    let s = split(&x, &y, args.test_fraction, args.seed);
    if s.yte.is_empty() || s.ytr.is_empty() {
        bail!(
            "{} rows split with --test-fraction {} leave {} training and {} test rows: both need some",
            x.nrows(),
            args.test_fraction,
            s.ytr.len(),
            s.yte.len()
        );
    }
    if let Some(missing) = (0..classes.len()).find(|c| !s.ytr.contains(c)) {
        bail!(
            "the training rows hold no example of class `{}`: a tree cannot learn it; use more data or a smaller --test-fraction",
            classes[missing]
        );
    }
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
    let t = Instant::now();
    let ours = DecisionTree::fit(s.xtr.view(), &targets, &params)?;
    let ours_ms = elapsed_ms(t);
    let ours_acc = accuracy(&ours.predict_class(s.xte.view())?, &s.yte);
    let t = Instant::now();
    let linfa = LinfaTree::params()
        .split_quality(quality)
        .max_depth(Some(args.max_depth))
        .min_weight_leaf(args.min_samples_leaf as f32)
        .min_weight_split(2.0 * args.min_samples_leaf as f32)
        .fit(&Dataset::new(s.xtr.clone(), Array1::from(s.ytr.clone())))?;
    let linfa_ms = elapsed_ms(t);
    let linfa_acc = accuracy(&linfa.predict(&s.xte).to_vec(), &s.yte);
    let mut importance: Vec<(String, f64)> = features
        .iter()
        .cloned()
        .zip(ours.feature_importances.iter().copied())
        .collect();
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));
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
    let full = DecisionTree::fit(
        s.xtr.view(),
        &targets,
        &TreeParams {
            max_depth: None,
            ..params
        },
    )?;
    let full_train = accuracy(&full.predict_class(s.xtr.view())?, &s.ytr);
    let full_test = accuracy(&full.predict_class(s.xte.view())?, &s.yte);

    // 3. A random forest on the same split. ---------------------------------------------------
    let max_features = ((x.ncols() as f64).sqrt().round() as usize).max(1);
    let t = Instant::now();
    let forest = random_forest(
        s.xtr.view(),
        &s.ytr,
        classes.len(),
        args.n_trees,
        max_features,
        &TreeParams {
            max_depth: None,
            ..params
        },
        args.seed,
    )?;
    let forest_ms = elapsed_ms(t);
    let forest_acc = accuracy(&forest.predict(s.xte.view())?, &s.yte);

    // 4. Gradient boosting and ridge/lasso on diabetes. ---------------------------------------
    let diabetes = wb_data::read_numeric_csv(&wb_data::dataset("tabular/diabetes.csv")?)?;
    let (dx, dy, dnames) = diabetes.split_target("target")?;
    let (dtr, dte) = wb_data::train_test_indices(dx.nrows(), args.test_fraction, args.seed);
    let (dxtr, dxte, dytr, dyte) = (
        dx.select(Axis(0), &dtr),
        dx.select(Axis(0), &dte),
        dy.select(Axis(0), &dtr),
        dy.select(Axis(0), &dte),
    );
    let t = Instant::now();
    let gb = gradient_boosting(dxtr.view(), dytr.view(), 200, 0.05, 3)?;
    let gb_ms = elapsed_ms(t);
    let gb_test = (&dyte - &gb.predict(dxte.view())?)
        .mapv(|r| r * r)
        .mean()
        .unwrap_or(f64::NAN);
    let r2 = |mse: f64| 1.0 - mse / dyte.var(0.0);
    let mean = dx.mean_axis(Axis(0)).unwrap_or_default();
    let sd = dx.std_axis(Axis(0), 0.0);
    let dz = (&dx - &mean) / &sd; // standardised, so that one α means the same for every feature
    let (ridge_alpha, lasso_alpha) = (10.0, 1.0);
    let ridge = coordinate_descent(
        dz.view(),
        dy.view(),
        Penalty::Ridge,
        ridge_alpha,
        10_000,
        1e-10,
    )?;
    let lasso = coordinate_descent(
        dz.view(),
        dy.view(),
        Penalty::Lasso,
        lasso_alpha,
        10_000,
        1e-10,
    )?;
    let ols = coordinate_descent(dz.view(), dy.view(), Penalty::Ridge, 0.0, 100_000, 1e-10)?;
    let enet = ElasticNet::<f64>::lasso()
        .penalty(lasso_alpha)
        .tolerance(1e-10)
        .max_iterations(100_000)
        .fit(&Dataset::new(dz.clone(), dy.clone()))?;
    let alphas: Vec<f64> = (0..40)
        .map(|k| 10f64.powf(-2.0 + 4.5 * k as f64 / 39.0))
        .collect();
    let path_fits = alphas
        .iter()
        .map(|&a| coordinate_descent(dz.view(), dy.view(), Penalty::Lasso, a, 10_000, 1e-9))
        .collect::<Result<Vec<_>, _>>()?;

    // 5. Plots. --------------------------------------------------------------------------------
    lab.saved(
        LinePlot::new(
            "Accuracy against tree depth: overfitting",
            "maximum depth",
            "accuracy",
        )
        .series(Series::new(
            "training rows",
            sweep
                .iter()
                .map(|s| (s.depth as f64, s.train_accuracy))
                .collect(),
        ))
        .series(Series::new(
            "test rows",
            sweep
                .iter()
                .map(|s| (s.depth as f64, s.test_accuracy))
                .collect(),
        ))
        .save(lab.plots_dir(), "depth_sweep")?,
    );
    let (iris, species) =
        wb_data::read_labelled_csv(&wb_data::dataset("tabular/iris.csv")?, "species")?;
    let mut names = species.clone();
    names.sort();
    names.dedup();
    let iy: Vec<usize> = species
        .iter()
        .map(|s| names.iter().position(|n| n == s).unwrap_or(0))
        .collect();
    let petals = iris.data.select(Axis(1), &[2, 3]);
    let iris_tree = DecisionTree::fit(
        petals.view(),
        &Targets::Classes {
            y: &iy,
            n_classes: 3,
        },
        &TreeParams {
            max_depth: Some(3),
            criterion,
            ..TreeParams::default()
        },
    )?;
    let (xr, yr, cells) = ((0.8, 7.2), (0.0, 2.6), (120, 80));
    let centres = DecisionRegions::cell_centres(xr, yr, cells);
    let grid = Array2::from_shape_fn((centres.len(), 2), |(k, j)| {
        if j == 0 { centres[k].0 } else { centres[k].1 }
    });
    let regions = iris_tree.predict_class(grid.view())?;
    let mut boundary = DecisionRegions::new(
        "Decision regions of a depth-3 tree on two iris features",
        "petal length (cm)",
        "petal width (cm)",
        xr,
        yr,
        cells,
        regions,
    )
    .classes(names.clone());
    for i in 0..petals.nrows() {
        boundary = boundary.point(petals[[i, 0]], petals[[i, 1]], iy[i]);
    }
    lab.saved(boundary.save(lab.plots_dir(), "decision_regions")?);
    lab.saved(
        LinePlot::new(
            "Gradient boosting: training loss per round",
            "boosting round",
            "training MSE",
        )
        .series(Series::new(
            "depth-3 trees, learning rate 0.05",
            gb.train_mse
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as f64, v))
                .collect(),
        ))
        .save(lab.plots_dir(), "boosting_loss")?,
    );
    let mut path_plot = LinePlot::new(
        "Lasso path on diabetes (standardised features)",
        "log10(α)",
        "coefficient",
    );
    for (j, n) in dnames.iter().enumerate() {
        path_plot = path_plot.series(Series::new(
            n.clone(),
            alphas
                .iter()
                .zip(&path_fits)
                .map(|(a, f)| (a.log10(), f.weights[j]))
                .collect(),
        ));
    }
    lab.saved(path_plot.save(lab.plots_dir(), "lasso_path")?);

    for (name, ms) in [
        ("tree_ours", ours_ms),
        ("tree_linfa", linfa_ms),
        ("forest", forest_ms),
        ("boosting", gb_ms),
    ] {
        lab.record_ms(name, ms);
    }
    let penalised = |alpha: f64, fit: &week05_trees::regularized::PenalizedFit| Penalised {
        alpha,
        coefficients: fit.weights.to_vec(),
        intercept: fit.intercept,
    };
    Ok(Report {
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
            importances: importance
                .into_iter()
                .map(|(feature, importance)| Importance {
                    feature,
                    importance,
                })
                .collect(),
            ms: (ours_ms, linfa_ms),
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
            ms: forest_ms,
        },
        boosting: Boosting {
            rounds: 200,
            learning_rate: 0.05,
            train_mse: gb.train_mse.clone(),
            test_mse: gb_test,
            test_r2: r2(gb_test),
            ms: gb_ms,
        },
        diabetes_features: dnames,
        ridge: penalised(ridge_alpha, &ridge),
        lasso: penalised(lasso_alpha, &lasso),
        linfa_lasso_coefficients: enet.hyperplane().to_vec(),
        ols_standardised: ols.weights.to_vec(),
    })
}
