//! Runs the week 3 lab end to end: `cargo run -p week03-preprocessing -- --help`.

use anyhow::Result;
use clap::Parser;
use ndarray::{Array1, ArrayView1, Axis};
use serde::Serialize;
use std::fmt;
use std::process::ExitCode;
use std::time::Instant;
use wb_core::lab::{check_open_fraction, elapsed_ms};
use wb_data::SplitMix64;
use wb_lab::{Lab, LabArgs};
use wb_plot::{Histogram, LinePlot, Series};
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

#[derive(Serialize)]
struct Report {
    seed: u64,
    test_fraction: f64,
    n: usize,
    survivors: usize,
    age_statistics: AgeStatistics,
    central_limit_theorem: Vec<CltRow>,
    split: Splits,
    features: Vec<String>,
    model: Model,
    baseline: Baseline,
    accuracy_gain_over_baseline: f64,
    errors_by_group: Vec<GroupErrors>,
    #[serde(skip)]
    ms: Timings,
}

#[derive(Default)]
struct Timings {
    statistics: f64,
    preprocessing: f64,
    fit: f64,
}

#[derive(Serialize)]
struct AgeStatistics {
    n_with_age: usize,
    n_missing_age: usize,
    mean: f64,
    median: f64,
    variance_population: f64,
    variance_sample: f64,
    std_sample: f64,
    quantiles: Vec<Quantile>,
    covariance_age_sibsp: f64,
    correlation_age_sibsp: f64,
    correlation_age_parch: f64,
}

#[derive(Serialize)]
struct Quantile {
    q: f64,
    value: f64,
}

#[derive(Serialize)]
struct CltRow {
    n: usize,
    mean_of_means: f64,
    std_of_means: f64,
    theory: f64,
}

#[derive(Serialize)]
struct Splits {
    random: SplitRow,
    stratified: SplitRow,
}

#[derive(Serialize)]
struct SplitRow {
    train: usize,
    test: usize,
    survival_train: f64,
    survival_test: f64,
}

#[derive(Serialize)]
struct Model {
    learning_rate: f64,
    iterations: usize,
    weights: Vec<f64>,
    intercept: f64,
    first_train_log_loss: f64,
    train_log_loss: f64,
    test_log_loss: f64,
    test: Metrics,
}

#[derive(Serialize)]
struct Baseline {
    predicts: f64,
    test: Metrics,
}

#[derive(Serialize)]
struct Metrics {
    accuracy: f64,
    precision: f64,
    recall: f64,
    tp: usize,
    fp: usize,
    tn: usize,
    #[serde(rename = "fn")]
    fn_: usize,
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

#[derive(Serialize)]
struct GroupErrors {
    group: String,
    rows: usize,
    errors: usize,
    survivors: usize,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
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

fn main() -> ExitCode {
    let args = Args::parse();
    wb_lab::run(
        "week03-preprocessing",
        "Week 3 — statistics, splits, preprocessing and a first model",
        &args.lab,
        |lab| run(&args, lab),
    )
}

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
    let sd30 = 1.0 / (30f64).sqrt();
    let normal: Vec<(f64, f64)> = (0..=120)
        .map(|k| {
            let x = k as f64 * 3.0 / 120.0;
            (
                x,
                (-(x - 1.0).powi(2) / (2.0 * sd30 * sd30)).exp()
                    / (sd30 * (2.0 * std::f64::consts::PI).sqrt()),
            )
        })
        .collect();
    let mut hist = Histogram::new(
        "Central limit theorem: means of n draws from a skewed distribution",
        "sample mean of n draws from Exponential(1)",
        "density",
    )
    .bins(60)
    .range(0.0, 3.0)
    .density(true);
    for (s, m) in &clt {
        hist = hist.sample(format!("n = {s}"), m.clone());
    }
    lab.saved(
        hist.curve(Series::new("normal density, mean 1, sd 1/√30", normal))
            .save(lab.plots_dir(), "clt")?,
    );
    let ages = |alive: f64| -> Vec<f64> {
        has_age
            .iter()
            .filter(|&&i| y[i] == alive)
            .map(|&i| data.numeric[[i, 0]])
            .collect()
    };
    lab.saved(
        Histogram::new(
            "Age of the passengers, by outcome",
            "age (years)",
            "passengers",
        )
        .bins(40)
        .sample("died", ages(0.0))
        .sample("survived", ages(1.0))
        .save(lab.plots_dir(), "age_by_outcome")?,
    );
    let curve: Vec<(f64, f64)> = losses
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as f64, l))
        .collect();
    lab.saved(
        LinePlot::new(
            "Logistic regression: training log-loss",
            "gradient-descent iteration",
            "log-loss",
        )
        .series(Series::new(
            format!("learning rate {}", args.learning_rate),
            curve,
        ))
        .save(lab.plots_dir(), "training_loss")?,
    );
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

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.n;
        writeln!(
            f,
            "Data: datasets/tabular/titanic.csv — {n} passengers, {} survived ({})",
            self.survivors,
            pct(self.survivors as f64 / n.max(1) as f64)
        )?;
        let stats = &self.age_statistics;
        writeln!(
            f,
            "      {} ages missing; columns: pclass, sex (categories), age, sibsp, parch (numbers)\n",
            stats.n_missing_age
        )?;
        writeln!(
            f,
            "1. Statistics of the {} known ages ({:.2} ms)",
            stats.n_with_age, self.ms.statistics
        )?;
        writeln!(
            f,
            "   mean {:.2}, median {:.2} years",
            stats.mean, stats.median
        )?;
        writeln!(
            f,
            "   variance: population {:.2}, sample {:.2} (divides by n − 1; the gap shrinks as n grows)",
            stats.variance_population, stats.variance_sample
        )?;
        writeln!(
            f,
            "   standard deviation (sample) {:.2} years",
            stats.std_sample
        )?;
        let qline: Vec<String> = stats
            .quantiles
            .iter()
            .map(|q| format!("{}%: {:.1}", q.q * 100.0, q.value))
            .collect();
        writeln!(
            f,
            "   quantiles (numpy's linear rule): {}",
            qline.join(", ")
        )?;
        writeln!(
            f,
            "   correlation of age with siblings/spouses aboard {:+.3}, with parents/children {:+.3}\n",
            stats.correlation_age_sibsp, stats.correlation_age_parch
        )?;

        writeln!(
            f,
            "2. Central limit theorem: means of n draws from Exponential(1), 4000 times each"
        )?;
        writeln!(
            f,
            "   {:>4}  {:>13}  {:>12}  {:>12}",
            "n", "mean of means", "sd of means", "theory 1/√n"
        )?;
        for r in &self.central_limit_theorem {
            let (s, m, sd, th) = (r.n, r.mean_of_means, r.std_of_means, r.theory);
            writeln!(f, "   {s:>4}  {m:>13.3}  {sd:>12.3}  {th:>12.3}")?;
        }
        writeln!(
            f,
            "   The draws are skewed, yet their means pile up in a bell around 1 that narrows like 1/√n.\n"
        )?;

        writeln!(
            f,
            "3. Train/test split, test fraction {} (seed {})",
            self.test_fraction, self.seed
        )?;
        writeln!(
            f,
            "   {:<11} {:>6} {:>6}  {:>14}  {:>13}",
            "", "train", "test", "survival train", "survival test"
        )?;
        for (name, r) in [
            ("random", &self.split.random),
            ("stratified", &self.split.stratified),
        ] {
            writeln!(
                f,
                "   {:<11} {:>6} {:>6}  {:>14}  {:>13}",
                name,
                r.train,
                r.test,
                pct(r.survival_train),
                pct(r.survival_test)
            )?;
        }
        writeln!(
            f,
            "   Stratifying keeps the survival rate equal in both parts. The model below uses the stratified"
        )?;
        writeln!(
            f,
            "   split, fits everything on the training rows, and looks at the test rows once, at the end.\n"
        )?;

        writeln!(
            f,
            "4. Preprocessing, fitted on the {} training rows ({:.2} ms)",
            self.split.stratified.train, self.ms.preprocessing
        )?;
        writeln!(
            f,
            "   age: missing values → the training median; age, sibsp, parch → standardised"
        )?;
        writeln!(
            f,
            "   pclass, sex → one-hot; {} features: {}\n",
            self.features.len(),
            self.features.join(", ")
        )?;

        let m = &self.model;
        writeln!(
            f,
            "5. Logistic regression from scratch, lr {}, {} iterations ({:.1} ms)",
            m.learning_rate, m.iterations, self.ms.fit
        )?;
        writeln!(
            f,
            "   training log-loss {:.4} → {:.4}; test log-loss {:.4}",
            m.first_train_log_loss, m.train_log_loss, m.test_log_loss
        )?;
        writeln!(
            f,
            "   {:<26} {:>9} {:>10} {:>7}",
            "on the test set", "accuracy", "precision", "recall"
        )?;
        let base = &self.baseline;
        let always = if base.predicts == 1.0 {
            "survived"
        } else {
            "died"
        };
        for (name, r) in [
            (format!("baseline (always \"{always}\")"), &base.test),
            ("logistic regression".to_string(), &m.test),
        ] {
            writeln!(
                f,
                "   {:<26} {:>9} {:>10} {:>7}",
                name,
                pct(r.accuracy),
                pct(r.precision),
                pct(r.recall)
            )?;
        }
        writeln!(
            f,
            "   The model beats the baseline by {:.1} accuracy points.",
            100.0 * self.accuracy_gain_over_baseline
        )?;
        writeln!(
            f,
            "   Confusion: {} survivors found, {} missed; {} deaths right, {} predicted to survive.\n",
            m.test.tp, m.test.fn_, m.test.tn, m.test.fp
        )?;

        writeln!(f, "6. Where are the errors? Test rows by class and sex")?;
        writeln!(
            f,
            "   {:<12} {:>5} {:>9} {:>7}",
            "group", "rows", "survived", "errors"
        )?;
        for g in &self.errors_by_group {
            let survived = pct(g.survivors as f64 / g.rows as f64);
            writeln!(
                f,
                "   {:<12} {:>5} {survived:>9} {:>7}",
                g.group, g.rows, g.errors
            )?;
        }
        writeln!(
            f,
            "   The model learned \"women and the first class survive\": its errors are the groups where that"
        )?;
        writeln!(
            f,
            "   rule is closest to a coin toss (women in third class) and the men who survived against it."
        )
    }
}
