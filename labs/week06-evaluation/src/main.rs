//! Runs the week 6 lab end to end: `cargo run -p week06-evaluation -- --help`.

use anyhow::Result;
use clap::Parser;
use linfa::prelude::*;
use linfa_linear::LinearRegression;
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2, Axis};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use wb_core::lab::{check_open_fraction, elapsed_ms, standardise_with_train};
use wb_plot::{Heatmap, LinePlot, Series};
use week06_evaluation::curves::{auc_rank, auc_trapezoid, precision_recall, roc_curve};
use week06_evaluation::cv::{kfold, stratified_kfold};
use week06_evaluation::metrics::{
    Average, averaged_scores, confusion_matrix, log_loss, per_class_scores, regression_scores,
};

/// Week 6: evaluation — every metric implemented once (confusion matrix, precision, recall, F1
/// averages, ROC and PR curves, AUC two ways, average precision, log loss, MAE/RMSE/R²) and
/// k-fold and stratified k-fold cross-validation.
#[derive(Debug, Parser)]
#[command(version)]
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
    /// Folder for the plots (PNG and SVG)
    #[arg(long, value_name = "DIR", default_value = "output/week06-evaluation")]
    plots: PathBuf,
    /// Print the key results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
    /// Also write the JSON results to FILE, and print the report as usual
    #[arg(long, value_name = "FILE", value_parser = wb_core::lab::writable_file)]
    json_out: Option<PathBuf>,
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

fn main() -> Result<()> {
    let args = Args::parse();
    check_open_fraction("--test-fraction", args.test_fraction)?;
    let t0 = Instant::now();

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
    let metrics_ms = elapsed_ms(t);

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
    let averages: Vec<(&str, (f64, f64, f64))> = [
        ("macro", Average::Macro),
        ("micro", Average::Micro),
        ("weighted", Average::Weighted),
    ]
    .iter()
    .map(|(n, a)| Ok((*n, averaged_scores(&wtruth, &wpred, wnames.len(), *a)?)))
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
        let mut scores = Vec::new();
        for (train, test) in &folds {
            let ytrain: Vec<bool> = train.iter().map(|&i| y[i]).collect();
            let ytest: Vec<bool> = test.iter().map(|&i| y[i]).collect();
            let prob = malignant_probability(
                &bc.data.select(Axis(0), train),
                &ytrain,
                &bc.data.select(Axis(0), test),
            )?;
            let share = test.iter().filter(|&&i| y[i]).count() as f64 / test.len() as f64;
            scores.push((auc_rank(&ytest, prob.view())?, share));
        }
        cv_rows.push((name, scores));
    }

    // 5. Plots. -------------------------------------------------------------------------------
    let mut plots = Vec::new();
    plots.extend(
        LinePlot::new(
            "ROC curve: breast-cancer test rows",
            "false positive rate",
            "true positive rate (recall)",
        )
        .series(Series::new(
            format!("logistic regression, AUC {auc_t:.3}"),
            roc.x.iter().copied().zip(roc.y.iter().copied()).collect(),
        ))
        .series(Series::new(
            "chance (AUC 0.5)",
            vec![(0.0, 0.0), (1.0, 1.0)],
        ))
        .legend(wb_plot::LegendPosition::LowerRight)
        .save(&args.plots, "roc_curve")?,
    );
    let base = yte.iter().filter(|&&b| b).count() as f64 / yte.len() as f64;
    plots.extend(
        LinePlot::new(
            "Precision–recall curve: breast-cancer test rows",
            "recall",
            "precision",
        )
        .series(Series::new(
            format!("logistic regression, AP {ap:.3}"),
            pr.x.iter().copied().zip(pr.y.iter().copied()).collect(),
        ))
        .series(Series::new(
            format!("chance (precision {base:.2})"),
            vec![(0.0, base), (1.0, base)],
        ))
        .legend(wb_plot::LegendPosition::LowerLeft)
        .save(&args.plots, "pr_curve")?,
    );
    plots.extend(
        Heatmap::new(
            "Confusion matrix: wine test rows",
            "predicted class",
            "true class",
            wnames.iter().map(|n| format!("class {n}")).collect(),
            wnames.iter().map(|n| format!("class {n}")).collect(),
            wcm.rows()
                .into_iter()
                .map(|r| r.iter().map(|&v| v as f64).collect())
                .collect(),
        )
        .save(&args.plots, "confusion_matrix")?,
    );

    let mean = |v: &[(f64, f64)]| v.iter().map(|s| s.0).sum::<f64>() / v.len() as f64;
    let sd = |v: &[(f64, f64)]| {
        let m = mean(v);
        (v.iter().map(|s| (s.0 - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)).sqrt()
    };
    if args.json || args.json_out.is_some() {
        let out = json!({
            "lab": "week06-evaluation",
            "binary": {
                "confusion_matrix": cm.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
                "precision_malignant": per[1].precision, "recall_malignant": per[1].recall, "f1_malignant": per[1].f1,
                "auc_trapezoid": auc_t, "auc_rank": auc_r, "average_precision": ap, "log_loss": ll,
            },
            "multiclass": {
                "classes": wnames,
                "confusion_matrix": wcm.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
                "averages": averages.iter().map(|(n, s)| json!({"average": n, "precision": s.0, "recall": s.1, "f1": s.2})).collect::<Vec<_>>(),
            },
            "regression": {"mae": reg.mae, "rmse": reg.rmse, "r2": reg.r2},
            "cross_validation": cv_rows.iter().map(|(n, s)| json!({"scheme": n, "auc": s.iter().map(|v| v.0).collect::<Vec<_>>(), "positive_share": s.iter().map(|v| v.1).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "timings_ms": {"total": elapsed_ms(t0), "metrics": metrics_ms},
            "plots": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&out)?;
        if wb_core::lab::emit_json(&text, args.json, args.json_out.as_deref())? {
            return Ok(());
        }
    }

    println!("Week 6 — evaluation: metrics, curves and cross-validation");
    println!("=========================================================\n");
    println!(
        "1. Breast cancer, logistic regression, {} test rows (positive = malignant)",
        yte.len()
    );
    println!("   confusion matrix (rows: truth, columns: prediction)");
    println!("   {:>16} {:>9} {:>10}", "", "benign", "malignant");
    println!("   {:>16} {:>9} {:>10}", "benign", cm[[0, 0]], cm[[0, 1]]);
    println!(
        "   {:>16} {:>9} {:>10}",
        "malignant",
        cm[[1, 0]],
        cm[[1, 1]]
    );
    println!(
        "   malignant: precision {:.3}, recall {:.3}, F1 {:.3}",
        per[1].precision, per[1].recall, per[1].f1
    );
    println!(
        "   ROC AUC {auc_t:.4} by trapezoids = {auc_r:.4} by ranks; average precision {ap:.4}; log loss {ll:.4}"
    );
    println!(
        "   ({} thresholds on the ROC curve; the metrics took {metrics_ms:.2} ms)\n",
        roc.thresholds.len()
    );
    println!(
        "2. Wine, three classes, multinomial logistic regression, {} test rows",
        wtruth.len()
    );
    for (k, n) in wnames.iter().enumerate() {
        println!("   class {n}: {:?}", wcm.row(k).to_vec());
    }
    for (n, (p, r, f)) in &averages {
        println!("   {n:<9} precision {p:.3}  recall {r:.3}  F1 {f:.3}");
    }
    println!(
        "   (micro averages pool all decisions: for single-label data they all equal the accuracy)\n"
    );
    println!(
        "3. Regression, diabetes, least squares: MAE {:.2}, RMSE {:.2}, R² {:.3}\n",
        reg.mae, reg.rmse, reg.r2
    );
    println!(
        "4. {}-fold cross-validation of the breast-cancer model (ROC AUC per fold)",
        args.folds
    );
    for (name, s) in &cv_rows {
        let aucs: Vec<String> = s.iter().map(|v| format!("{:.3}", v.0)).collect();
        let shares: Vec<String> = s.iter().map(|v| format!("{:.0}%", 100.0 * v.1)).collect();
        println!(
            "   {name:<18} AUC {}  mean {:.4} ± {:.4}",
            aucs.join(" "),
            mean(s),
            sd(s)
        );
        println!(
            "   {:<18} malignant share per test fold: {}",
            "",
            shares.join(" ")
        );
    }
    println!(
        "   Stratification keeps each fold's share of malignant tumours at the data set's 37%.\n"
    );
    println!("Plots:");
    for p in &plots {
        println!("   {}", p.display());
    }
    Ok(())
}
