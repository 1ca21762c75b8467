//! Runs the week 3 lab end to end: `cargo run -p week03-preprocessing -- --help`.

mod plots;
mod report;

use anyhow::Result;
use clap::Parser;
use ndarray::{Array1, ArrayView1, Axis};
use report::*;
use std::time::Instant;
use wb_core::lab::{check_open_fraction, elapsed_ms};
use wb_data::SplitMix64;
use wb_lab::{Lab, LabArgs};
use week03_preprocessing::logistic::{
    BinaryMetrics, binary_metrics, fit_logistic, log_loss, majority_class,
};
use week03_preprocessing::split::{stratified_split, train_test_split};
use week03_preprocessing::stats::{
    correlation, covariance, mean, median, quantile, std_dev, variance,
};
use week03_preprocessing::titanic::{Titanic, TitanicPreprocessor, load_titanic};

/// Week 3: statistics from scratch, train/test splits, a preprocessing pipeline that fits on
/// training rows only, and the Titanic mini-project against the majority-class baseline.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// Share of the passengers held out as the test set, strictly between 0 and 1
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    test_fraction: f64,
    /// Seed of the splits and of the central-limit-theorem simulation
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Learning rate of the logistic regression
    #[arg(long, default_value_t = 0.5)]
    learning_rate: f64,
    /// Gradient-descent iterations of the logistic regression
    #[arg(long, default_value_t = 2000)]
    iterations: usize,
    #[command(flatten)]
    lab: LabArgs,
}

impl From<&BinaryMetrics> for Metrics {
    fn from(b: &BinaryMetrics) -> Self {
        Self {
            accuracy: b.accuracy,
            precision: b.precision,
            recall: b.recall,
            tp: b.true_positives,
            fp: b.false_positives,
            tn: b.true_negatives,
            fn_: b.false_negatives,
        }
    }
}

/// Survival rate of the rows `idx`.
fn rate(y: ArrayView1<f64>, idx: &[usize]) -> f64 {
    idx.iter().map(|&i| y[i]).sum::<f64>() / idx.len().max(1) as f64
}

/// The central limit theorem, measured: means of `size` draws from Exponential(1) (mean 1,
/// standard deviation 1, heavily skewed), `reps` times.
fn sample_means(rng: &mut SplitMix64, size: usize, reps: usize) -> Vec<f64> {
    (0..reps)
        .map(|_| (0..size).map(|_| -(1.0 - rng.next_f64()).ln()).sum::<f64>() / size as f64)
        .collect()
}

wb_lab::main!(
    "Week 3 — statistics, splits, preprocessing and a first model",
    run
);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    check_open_fraction("--test-fraction", args.test_fraction)?;
    let mut ms = Timings::default();
    let path = wb_data::dataset("tabular/titanic.csv")?;
    let data: Titanic = load_titanic(&path)?;
    let n = data.len();
    let y = data.survived.view();

    // 1. Statistics of the ages that are present.
    let t = Instant::now();
    let has_age: Vec<usize> = (0..n).filter(|&i| !data.numeric[[i, 0]].is_nan()).collect();
    let known = data.numeric.select(Axis(0), &has_age);
    let (age, sibsp, parch) = (known.column(0), known.column(1), known.column(2));
    let qs = [0.1, 0.25, 0.5, 0.75, 0.9];
    let quantiles: Vec<f64> = qs
        .iter()
        .map(|&q| quantile(age, q))
        .collect::<Result<_, _>>()?;
    let age_statistics = AgeStatistics {
        n_with_age: has_age.len(),
        n_missing_age: n - has_age.len(),
        mean: mean(age)?,
        median: median(age)?,
        variance_population: variance(age, 0)?,
        variance_sample: variance(age, 1)?,
        std_sample: std_dev(age, 1)?,
        quantiles: qs
            .iter()
            .zip(&quantiles)
            .map(|(&q, &value)| Quantile { q, value })
            .collect(),
        covariance_age_sibsp: covariance(age, sibsp, 1)?,
        correlation_age_sibsp: correlation(age, sibsp)?,
        correlation_age_parch: correlation(age, parch)?,
    };
    ms.statistics = elapsed_ms(t);

    // 2. The central limit theorem.
    let mut rng = SplitMix64::new(args.seed);
    let sizes = [1usize, 5, 30];
    let clt: Vec<(usize, Vec<f64>)> = sizes
        .iter()
        .map(|&s| (s, sample_means(&mut rng, s, 4000)))
        .collect();
    let clt_rows: Vec<CltRow> = clt
        .iter()
        .map(|(s, m)| {
            let a = Array1::from(m.clone());
            Ok(CltRow {
                n: *s,
                mean_of_means: mean(a.view())?,
                std_of_means: std_dev(a.view(), 1)?,
                theory: 1.0 / (*s as f64).sqrt(),
            })
        })
        .collect::<Result<_, week03_preprocessing::MlError>>()?;

    // 3. Splits: plain and stratified by survival.
    let (train_r, test_r) = train_test_split(n, args.test_fraction, args.seed)?;
    let labels: Vec<u8> = y.iter().map(|&v| v as u8).collect();
    let (train, test) = stratified_split(&labels, args.test_fraction, args.seed)?;

    // 4. Preprocessing, fitted on the training rows only.
    let t = Instant::now();
    let (tr, te) = (data.select(&train), data.select(&test));
    let mut prep = TitanicPreprocessor::default();
    prep.fit(tr.numeric.view(), tr.categorical.view())?;
    let x_train = prep.transform(tr.numeric.view(), tr.categorical.view())?;
    let x_test = prep.transform(te.numeric.view(), te.categorical.view())?;
    let names = prep.feature_names()?;
    ms.preprocessing = elapsed_ms(t);

    // 5. The model against the baseline.
    let t = Instant::now();
    let (model, losses) = fit_logistic(
        x_train.view(),
        tr.survived.view(),
        args.learning_rate,
        args.iterations,
    )?;
    ms.fit = elapsed_ms(t);
    let pred = model.predict(x_test.view())?;
    let metrics: BinaryMetrics = binary_metrics(te.survived.view(), pred.view())?;
    let majority = majority_class(tr.survived.view())?;
    let baseline = binary_metrics(
        te.survived.view(),
        Array1::from_elem(te.len(), majority).view(),
    )?;
    let test_loss = log_loss(
        te.survived.view(),
        model.predict_proba(x_test.view())?.view(),
    )?;

    // 6. Error analysis: where are the mistakes?
    let mut groups: Vec<(String, usize, usize, usize)> = Vec::new(); // (group, rows, errors, survivors)
    for i in 0..te.len() {
        let g = format!("{} {}", te.categorical[[i, 0]], te.categorical[[i, 1]]);
        let wrong = usize::from(pred[i] != te.survived[i]);
        let alive = te.survived[i] as usize;
        match groups.iter_mut().find(|(name, ..)| *name == g) {
            Some(e) => {
                e.1 += 1;
                e.2 += wrong;
                e.3 += alive;
            }
            None => groups.push((g, 1, wrong, alive)),
        }
    }
    groups.sort();

    // 7. Plots.
    let t = Instant::now();
    let ages = |alive: f64| -> Vec<f64> {
        let rows = has_age.iter().filter(|&&i| y[i] == alive);
        rows.map(|&i| data.numeric[[i, 0]]).collect()
    };
    let by_outcome = [("died", ages(0.0)), ("survived", ages(1.0))];
    plots::save(lab, &clt, &by_outcome, &losses, args.learning_rate)?;
    lab.record_ms("plots", elapsed_ms(t));
    lab.record_ms("statistics", ms.statistics);
    lab.record_ms("preprocessing", ms.preprocessing);
    lab.record_ms("fit", ms.fit);
    let split_row = |train: &[usize], test: &[usize]| SplitRow {
        train: train.len(),
        test: test.len(),
        survival_train: rate(y, train),
        survival_test: rate(y, test),
    };
    Ok(Report {
        seed: args.seed,
        test_fraction: args.test_fraction,
        n,
        survivors: y.sum() as usize,
        age_statistics,
        central_limit_theorem: clt_rows,
        split: Splits {
            random: split_row(&train_r, &test_r),
            stratified: split_row(&train, &test),
        },
        features: names,
        model: Model {
            learning_rate: args.learning_rate,
            iterations: args.iterations,
            weights: model.weights.to_vec(),
            intercept: model.intercept,
            first_train_log_loss: losses.first().copied().unwrap_or(f64::NAN),
            train_log_loss: losses.last().copied().unwrap_or(f64::NAN),
            test_log_loss: test_loss,
            test: (&metrics).into(),
        },
        baseline: Baseline {
            predicts: majority,
            test: (&baseline).into(),
        },
        accuracy_gain_over_baseline: metrics.accuracy - baseline.accuracy,
        errors_by_group: groups
            .into_iter()
            .map(|(group, rows, errors, survivors)| GroupErrors {
                group,
                rows,
                errors,
                survivors,
            })
            .collect(),
        ms,
    })
}
