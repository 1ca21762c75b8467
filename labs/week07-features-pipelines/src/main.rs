//! Runs the week 7 lab end to end: `cargo run -p week07-features-pipelines -- --help`.

mod report;

use anyhow::Result;
use clap::Parser;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use report::*;
use wb_core::lab::check_open_fraction;
use wb_lab::{Lab, LabArgs};
use wb_plot::{LegendPosition, LinePlot, Series};
use week07_features_pipelines::analysis::{auc, slice_metrics};
use week07_features_pipelines::features::{Interactions, QuantileBins};
use week07_features_pipelines::frame::{CATEGORICAL, Column, Frame, NUMERIC, SKEWED, load_credit};
use week07_features_pipelines::transform::{
    ColumnTransformer, NumericPipeline, OneHot, TargetEncoder, Transformer,
};

/// Week 7: feature engineering and a column-transformer pipeline on the credit data, out-of-fold
/// target encoding against the leaky version, error analysis by slice and a learning curve.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// Share of the applicants held out for testing, strictly between 0 and 1
    #[arg(long, value_name = "F", default_value_t = 0.25)]
    test_fraction: f64,
    /// Seed of the split
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folds of the out-of-fold target encoding
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Smoothing m of the target encoding: a category's share is shrunk towards the overall share
    /// as if it had m more rows
    #[arg(long, default_value_t = 1.0)]
    smoothing: f64,
    #[command(flatten)]
    lab: LabArgs,
}

/// The base preprocessing: numeric pipeline, one-hot categories, interactions, age bins.
fn base_pipeline() -> ColumnTransformer {
    ColumnTransformer::new()
        .with(NumericPipeline::new(&NUMERIC, &SKEWED))
        .with(OneHot::new(&CATEGORICAL))
        .with(Interactions::new(&["Seniority", "Age", "Time"]))
        .with(QuantileBins::new("Age", 5))
}

/// Fits a logistic regression on (x, y) and returns P(bad) for each row of `xs`.
fn fit_scores(x: &Array2<f64>, y: &[usize], xs: &[&Array2<f64>]) -> Result<Vec<Vec<f64>>> {
    let model = LogisticRegression::default()
        .alpha(1.0)
        .max_iterations(500)
        .fit(&Dataset::new(x.clone(), Array1::from(y.to_vec())))?;
    let mut out = Vec::new();
    for xx in xs {
        // Orient linfa's probability with its own decisions (it reports one of the two classes).
        let p = model.predict_probabilities(*xx);
        let labels = model.predict(*xx);
        let agree = labels
            .iter()
            .zip(p.iter())
            .filter(|(l, p)| (**l == 1) == (**p >= 0.5))
            .count();
        out.push(if 2 * agree >= labels.len() {
            p.to_vec()
        } else {
            p.iter().map(|v| 1.0 - v).collect()
        });
    }
    Ok(out)
}

/// The frame with `Price` also as a categorical column `PriceId`: 1,419 distinct values for
/// 4,454 rows, an ID-like feature — the kind target encoding leaks on.
fn with_price_id(frame: &Frame) -> Result<Frame> {
    let price = frame.numeric("Price")?;
    let mut names = frame.names.clone();
    let mut columns = frame.columns.clone();
    names.push("PriceId".into());
    columns.push(Column::Cat(
        price.iter().map(|p| Some(format!("{p}"))).collect(),
    ));
    Ok(Frame::new(names, columns)?)
}

wb_lab::main!("Week 7 — features, pipelines and error analysis", run);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    check_open_fraction("--test-fraction", args.test_fraction)?;
    let (frame, y) = load_credit(&wb_data::dataset("tabular/credit_data.csv")?)?;
    let frame = with_price_id(&frame)?;
    let (tr, te) = wb_data::train_test_indices(y.len(), args.test_fraction, args.seed);
    let (ftr, fte) = (frame.select(&tr), frame.select(&te));
    let ytr: Vec<usize> = tr.iter().map(|&i| y[i]).collect();
    let yte: Vec<usize> = te.iter().map(|&i| y[i]).collect();
    let missing: Vec<Missing> = frame
        .names
        .iter()
        .zip(&frame.columns)
        .map(|(n, c)| Missing {
            column: n.clone(),
            missing: match c {
                Column::Num(v) => v.iter().filter(|x| x.is_nan()).count(),
                Column::Cat(v) => v.iter().filter(|x| x.is_none()).count(),
            },
        })
        .filter(|m| m.missing > 0)
        .collect();

    // 1. The base pipeline, fitted on the training rows only. -----------------------------------
    let mut base = base_pipeline();
    let (xtr, xte, names) = lab.timed("pipeline", || -> Result<_> {
        let xtr = base.fit_transform(&ftr, &ytr)?;
        Ok((xtr, base.transform(&fte)?, base.feature_names()?))
    })?;
    let scores = fit_scores(&xtr, &ytr, &[&xtr, &xte])?;
    let (base_train, base_test) = (auc(&ytr, &scores[0])?, auc(&yte, &scores[1])?);

    // 2. Target encoding of an ID-like column: leaky against out-of-fold. -----------------------
    let mut te_rows = Vec::new();
    for (name, leaky) in [
        ("leaky (in-sample) target encoding", true),
        ("out-of-fold target encoding", false),
    ] {
        let mut ct = base_pipeline().with(TargetEncoder::new(
            "PriceId",
            args.smoothing,
            args.folds,
            leaky,
        ));
        let a = ct.fit_transform(&ftr, &ytr)?;
        let b = ct.transform(&fte)?;
        let s = fit_scores(&a, &ytr, &[&a, &b])?;
        te_rows.push(Encoding {
            variant: name,
            train_auc: auc(&ytr, &s[0])?,
            test_auc: auc(&yte, &s[1])?,
        });
    }

    // 3. Error analysis by slice, on the test rows (decision threshold 0.5). --------------------
    let pred: Vec<usize> = scores[1].iter().map(|&p| usize::from(p >= 0.5)).collect();
    let mut slices = Vec::new();
    for col in ["Home", "Job", "Marital"] {
        let metrics = slice_metrics(fte.categorical(col)?, &yte, &pred)?;
        let slices_of_col = metrics
            .into_iter()
            .map(|m| Slice {
                slice: m.slice,
                rows: m.rows,
                accuracy: m.accuracy,
                bad_rate: m.positive_rate,
                recall: (!m.recall.is_nan()).then_some(m.recall),
            })
            .collect();
        slices.push(SliceTable {
            column: col,
            slices: slices_of_col,
        });
    }

    // 4. Learning curve: the same pipeline and model on growing shares of the training rows. -----
    let mut curve = Vec::new();
    for k in 1..=10 {
        let n = ftr.n_rows() * k / 10;
        let idx: Vec<usize> = (0..n).collect();
        let (f, yy) = (ftr.select(&idx), &ytr[..n]);
        let mut ct = base_pipeline();
        let a = ct.fit_transform(&f, yy)?;
        let b = ct.transform(&fte)?;
        let s = fit_scores(&a, yy, &[&a, &b])?;
        curve.push(CurvePoint {
            rows: n,
            train_auc: auc(yy, &s[0])?,
            test_auc: auc(&yte, &s[1])?,
        });
    }

    lab.saved(
        LinePlot::new(
            "Learning curve: credit default, logistic regression",
            "training rows",
            "ROC AUC",
        )
        .series(Series::new(
            "on the training rows",
            curve.iter().map(|c| (c.rows as f64, c.train_auc)).collect(),
        ))
        .series(Series::new(
            "on the test rows",
            curve.iter().map(|c| (c.rows as f64, c.test_auc)).collect(),
        ))
        .legend(LegendPosition::LowerRight)
        .save(lab.plots_dir(), "learning_curve")?,
    );

    Ok(Report {
        n_rows: y.len(),
        n_bad: y.iter().sum(),
        seed: args.seed,
        n_train: tr.len(),
        n_test: te.len(),
        missing,
        features: names,
        base: Auc {
            train_auc: base_train,
            test_auc: base_test,
        },
        target_encoding: te_rows,
        slices,
        learning_curve: curve,
        pipeline_ms: lab.ms("pipeline"),
    })
}
