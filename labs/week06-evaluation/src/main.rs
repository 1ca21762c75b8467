//! Runs the week 6 lab end to end: `cargo run -p week06-evaluation -- --help`.

mod plots;
mod report;

use anyhow::Result;
use clap::Parser;
use linfa::prelude::*;
use linfa_linear::LinearRegression;
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2, Axis};
use report::*;
use std::time::Instant;
use wb_core::lab::{check_open_fraction, elapsed_ms, standardise_with_train};
use wb_lab::{Lab, LabArgs};
use week06_evaluation::curves::{auc_rank, auc_trapezoid, precision_recall, roc_curve};
use week06_evaluation::cv::{kfold, stratified_kfold};
use week06_evaluation::metrics::{
    Average, averaged_scores, confusion_matrix, log_loss, per_class_scores, regression_scores,
};

/// Week 6: evaluation — every metric implemented once (confusion matrix, precision, recall, F1
/// averages, ROC and PR curves, AUC two ways, average precision, log loss, MAE/RMSE/R²) and
/// k-fold and stratified k-fold cross-validation.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// Share of the rows held out for testing, strictly between 0 and 1
    #[arg(long, value_name = "F", default_value_t = 0.3)]
    test_fraction: f64,
    /// Number of cross-validation folds
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the split and of the fold shuffles
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[command(flatten)]
    lab: LabArgs,
}

/// The rows of a matrix as vectors.
fn rows<T: Clone>(a: &Array2<T>) -> Vec<Vec<T>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// Probability of "malignant" from a logistic regression fitted on the training rows.
fn malignant_probability(
    xtr: &Array2<f64>,
    ytr: &[bool],
    xte: &Array2<f64>,
) -> Result<Array1<f64>> {
    let (a, b) = standardise_with_train(xtr, xte)?;
    let model = LogisticRegression::default()
        .alpha(1.0)
        .max_iterations(1000)
        .fit(&Dataset::new(a, Array1::from(ytr.to_vec())))?;
    // linfa reports the probability of the class it took as "positive", which need not be `true`:
    // orient it with the model's own decisions.
    let p = model.predict_probabilities(&b);
    let labels = model.predict(&b);
    let agree = labels
        .iter()
        .zip(p.iter())
        .filter(|(l, p)| **l == (**p >= 0.5))
        .count();
    Ok(if 2 * agree >= labels.len() {
        p
    } else {
        p.mapv(|v| 1.0 - v)
    })
}

wb_lab::main!(
    "Week 6 — evaluation: metrics, curves and cross-validation",
    run
);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    check_open_fraction("--test-fraction", args.test_fraction)?;

    // 1. A binary scorer: breast cancer, logistic regression. -------------------------------------
    let (bc, diag) =
        wb_data::read_labelled_csv(&wb_data::dataset("tabular/breast_cancer.csv")?, "diagnosis")?;
    let y: Vec<bool> = diag.iter().map(|d| d == "malignant").collect();
    let (tr, te) = wb_data::train_test_indices(y.len(), args.test_fraction, args.seed);
    let (xtr, xte) = (bc.data.select(Axis(0), &tr), bc.data.select(Axis(0), &te));
    let ytr: Vec<bool> = tr.iter().map(|&i| y[i]).collect();
    let yte: Vec<bool> = te.iter().map(|&i| y[i]).collect();
    let p = malignant_probability(&xtr, &ytr, &xte)?;
    let pred: Vec<usize> = p.iter().map(|&v| usize::from(v >= 0.5)).collect();
    let truth: Vec<usize> = yte.iter().map(|&b| usize::from(b)).collect();
    let t = Instant::now();
    let cm = confusion_matrix(&truth, &pred, 2)?;
    let per = per_class_scores(&truth, &pred, 2)?;
    let roc = roc_curve(&yte, p.view())?;
    let auc_t = auc_trapezoid(&roc)?;
    let auc_r = auc_rank(&yte, p.view())?;
    let (pr, ap) = precision_recall(&yte, p.view())?;
    let ll = log_loss(&truth, p.view())?;
    lab.record_ms("metrics", elapsed_ms(t));

    // 2. Three classes: wine, multinomial logistic regression. -----------------------------------
    let (wine, wclass) =
        wb_data::read_labelled_csv(&wb_data::dataset("tabular/wine.csv")?, "class")?;
    let mut wnames = wclass.clone();
    wnames.sort();
    wnames.dedup();
    let wy: Vec<usize> = wclass
        .iter()
        .map(|c| wnames.iter().position(|n| n == c).unwrap_or(0))
        .collect();
    let (wtr, wte) = wb_data::train_test_indices(wy.len(), args.test_fraction, args.seed);
    let (a, b) = standardise_with_train(
        &wine.data.select(Axis(0), &wtr),
        &wine.data.select(Axis(0), &wte),
    )?;
    let wmodel = MultiLogisticRegression::default()
        .alpha(1.0)
        .max_iterations(1000)
        .fit(&Dataset::new(
            a,
            Array1::from(wtr.iter().map(|&i| wy[i]).collect::<Vec<_>>()),
        ))?;
    let wpred = wmodel.predict(&b).to_vec();
    let wtruth: Vec<usize> = wte.iter().map(|&i| wy[i]).collect();
    let wcm = confusion_matrix(&wtruth, &wpred, wnames.len())?;
    let averages: Vec<Averaged> = [
        ("macro", Average::Macro),
        ("micro", Average::Micro),
        ("weighted", Average::Weighted),
    ]
    .iter()
    .map(|&(average, a)| {
        let (precision, recall, f1) = averaged_scores(&wtruth, &wpred, wnames.len(), a)?;
        Ok(Averaged {
            average,
            precision,
            recall,
            f1,
        })
    })
    .collect::<Result<_>>()?;

    // 3. Regression metrics: diabetes, least squares on a split. --------------------------------
    let d = wb_data::read_numeric_csv(&wb_data::dataset("tabular/diabetes.csv")?)?;
    let (dx, dy, _) = d.split_target("target")?;
    let (dtr, dte) = wb_data::train_test_indices(dy.len(), args.test_fraction, args.seed);
    let lin = LinearRegression::new().fit(&Dataset::new(
        dx.select(Axis(0), &dtr),
        dy.select(Axis(0), &dtr),
    ))?;
    let reg = regression_scores(
        dy.select(Axis(0), &dte).view(),
        lin.predict(&dx.select(Axis(0), &dte)).view(),
    )?;

    // 4. Cross-validation of the breast-cancer model. ---------------------------------------------
    let labels: Vec<usize> = y.iter().map(|&b| usize::from(b)).collect();
    let mut cv_rows = Vec::new();
    for (name, folds) in [
        (
            "k-fold (shuffled)",
            kfold(y.len(), args.folds, Some(args.seed))?,
        ),
        (
            "stratified k-fold",
            stratified_kfold(&labels, args.folds, Some(args.seed))?,
        ),
    ] {
        let (mut auc, mut positive_share) = (Vec::new(), Vec::new());
        for (train, test) in &folds {
            let ytrain: Vec<bool> = train.iter().map(|&i| y[i]).collect();
            let ytest: Vec<bool> = test.iter().map(|&i| y[i]).collect();
            let prob = malignant_probability(
                &bc.data.select(Axis(0), train),
                &ytrain,
                &bc.data.select(Axis(0), test),
            )?;
            let share = test.iter().filter(|&&i| y[i]).count() as f64 / test.len() as f64;
            auc.push(auc_rank(&ytest, prob.view())?);
            positive_share.push(share);
        }
        cv_rows.push(CvScheme {
            scheme: name,
            auc,
            positive_share,
        });
    }

    let report = Report {
        binary: Binary {
            n_test: yte.len(),
            confusion_matrix: rows(&cm),
            precision_malignant: per[1].precision,
            recall_malignant: per[1].recall,
            f1_malignant: per[1].f1,
            auc_trapezoid: auc_t,
            auc_rank: auc_r,
            average_precision: ap,
            log_loss: ll,
            roc_thresholds: roc.thresholds.len(),
            metrics_ms: lab.ms("metrics"),
        },
        multiclass: Multiclass {
            n_test: wtruth.len(),
            classes: wnames,
            confusion_matrix: rows(&wcm),
            averages,
        },
        regression: Regression {
            mae: reg.mae,
            rmse: reg.rmse,
            r2: reg.r2,
        },
        folds: args.folds,
        cross_validation: cv_rows,
    };
    // 5. Plots: the two curves and the report's confusion matrix.
    let positives = yte.iter().filter(|&&b| b).count() as f64 / yte.len() as f64;
    plots::save(lab, &report, &roc, &pr, positives)?;
    Ok(report)
}
