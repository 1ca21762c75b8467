//! Runs the week 3 lab end to end: `cargo run -p week03-preprocessing -- --help`.

use anyhow::Result;
use clap::Parser;
use ndarray::{Array1, ArrayView1, Axis};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use wb_core::lab::{check_open_fraction, elapsed_ms};
use wb_data::SplitMix64;
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
#[command(version)]
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
    /// Folder for the plots (PNG and SVG)
    #[arg(
        long,
        value_name = "DIR",
        default_value = "output/week03-preprocessing"
    )]
    plots: PathBuf,
    /// Print the key results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
    /// Also write the JSON results to FILE, and print the report as usual
    #[arg(long, value_name = "FILE", value_parser = wb_core::lab::writable_file)]
    json_out: Option<PathBuf>,
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

fn main() -> Result<()> {
    let args = Args::parse();
    check_open_fraction("--test-fraction", args.test_fraction)?;
    let t0 = Instant::now();
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
    let stats = json!({
        "n_with_age": has_age.len(),
        "n_missing_age": n - has_age.len(),
        "mean": mean(age)?,
        "median": median(age)?,
        "variance_population": variance(age, 0)?,
        "variance_sample": variance(age, 1)?,
        "std_sample": std_dev(age, 1)?,
        "quantiles": qs.iter().zip(&quantiles).map(|(q, v)| json!({"q": q, "value": v})).collect::<Vec<_>>(),
        "covariance_age_sibsp": covariance(age, sibsp, 1)?,
        "correlation_age_sibsp": correlation(age, sibsp)?,
        "correlation_age_parch": correlation(age, parch)?,
    });
    let stats_ms = elapsed_ms(t);

    // 2. The central limit theorem.
    let mut rng = SplitMix64::new(args.seed);
    let sizes = [1usize, 5, 30];
    let clt: Vec<(usize, Vec<f64>)> = sizes
        .iter()
        .map(|&s| (s, sample_means(&mut rng, s, 4000)))
        .collect();
    let clt_rows: Vec<(usize, f64, f64)> = clt
        .iter()
        .map(|(s, m)| {
            let a = Array1::from(m.clone());
            Ok((*s, mean(a.view())?, std_dev(a.view(), 1)?))
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
    let prep_ms = elapsed_ms(t);

    // 5. The model against the baseline.
    let t = Instant::now();
    let (model, losses) = fit_logistic(
        x_train.view(),
        tr.survived.view(),
        args.learning_rate,
        args.iterations,
    )?;
    let fit_ms = elapsed_ms(t);
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
    let mut plots = Vec::new();
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
    plots.extend(
        hist.curve(Series::new("normal density, mean 1, sd 1/√30", normal))
            .save(&args.plots, "clt")?,
    );
    let ages = |alive: f64| -> Vec<f64> {
        has_age
            .iter()
            .filter(|&&i| y[i] == alive)
            .map(|&i| data.numeric[[i, 0]])
            .collect()
    };
    plots.extend(
        Histogram::new(
            "Age of the passengers, by outcome",
            "age (years)",
            "passengers",
        )
        .bins(40)
        .sample("died", ages(0.0))
        .sample("survived", ages(1.0))
        .save(&args.plots, "age_by_outcome")?,
    );
    let curve: Vec<(f64, f64)> = losses
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as f64, l))
        .collect();
    plots.extend(
        LinePlot::new(
            "Logistic regression: training log-loss",
            "gradient-descent iteration",
            "log-loss",
        )
        .series(Series::new(
            format!("learning rate {}", args.learning_rate),
            curve,
        ))
        .save(&args.plots, "training_loss")?,
    );
    let plot_ms = elapsed_ms(t);

    let beat = metrics.accuracy - baseline.accuracy;
    if args.json || args.json_out.is_some() {
        let m = |b: &BinaryMetrics| {
            json!({"accuracy": b.accuracy, "precision": b.precision, "recall": b.recall,
                   "tp": b.true_positives, "fp": b.false_positives, "tn": b.true_negatives, "fn": b.false_negatives})
        };
        let out = json!({
            "lab": "week03-preprocessing",
            "seed": args.seed,
            "test_fraction": args.test_fraction,
            "n": n,
            "age_statistics": stats,
            "central_limit_theorem": clt_rows.iter().map(|(s, m, sd)| json!({"n": s, "mean_of_means": m, "std_of_means": sd, "theory": 1.0 / (*s as f64).sqrt()})).collect::<Vec<_>>(),
            "split": {
                "random": {"train": train_r.len(), "test": test_r.len(), "survival_train": rate(y, &train_r), "survival_test": rate(y, &test_r)},
                "stratified": {"train": train.len(), "test": test.len(), "survival_train": rate(y, &train), "survival_test": rate(y, &test)},
            },
            "features": names,
            "model": {
                "weights": model.weights.to_vec(),
                "intercept": model.intercept,
                "train_log_loss": losses.last(),
                "test_log_loss": test_loss,
                "test": m(&metrics),
            },
            "baseline": {"predicts": majority, "test": m(&baseline)},
            "accuracy_gain_over_baseline": beat,
            "errors_by_group": groups.iter().map(|(g, r, e, a)| json!({"group": g, "rows": r, "errors": e, "survivors": a})).collect::<Vec<_>>(),
            "timings_ms": {"total": elapsed_ms(t0), "statistics": stats_ms, "preprocessing": prep_ms, "fit": fit_ms, "plots": plot_ms},
            "plots": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&out)?;
        if wb_core::lab::emit_json(&text, args.json, args.json_out.as_deref())? {
            return Ok(());
        }
    }

    println!("Week 3 — statistics, splits, preprocessing and a first model");
    println!("=============================================================\n");
    println!(
        "Data: datasets/tabular/titanic.csv — {n} passengers, {} survived ({})",
        y.sum(),
        pct(y.mean().unwrap_or(0.0))
    );
    println!(
        "      {} ages missing; columns: pclass, sex (categories), age, sibsp, parch (numbers)\n",
        n - has_age.len()
    );

    println!(
        "1. Statistics of the {} known ages ({stats_ms:.2} ms)",
        has_age.len()
    );
    println!(
        "   mean {:.2}, median {:.2} years",
        stats["mean"].as_f64().unwrap_or(f64::NAN),
        stats["median"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "   variance: population {:.2}, sample {:.2} (divides by n − 1; the gap shrinks as n grows)",
        stats["variance_population"].as_f64().unwrap_or(f64::NAN),
        stats["variance_sample"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "   standard deviation (sample) {:.2} years",
        stats["std_sample"].as_f64().unwrap_or(f64::NAN)
    );
    let qline: Vec<String> = qs
        .iter()
        .zip(&quantiles)
        .map(|(q, v)| format!("{}%: {v:.1}", q * 100.0))
        .collect();
    println!("   quantiles (numpy's linear rule): {}", qline.join(", "));
    println!(
        "   correlation of age with siblings/spouses aboard {:+.3}, with parents/children {:+.3}\n",
        stats["correlation_age_sibsp"].as_f64().unwrap_or(f64::NAN),
        stats["correlation_age_parch"].as_f64().unwrap_or(f64::NAN)
    );

    println!("2. Central limit theorem: means of n draws from Exponential(1), 4000 times each");
    println!(
        "   {:>4}  {:>13}  {:>12}  {:>12}",
        "n", "mean of means", "sd of means", "theory 1/√n"
    );
    for (s, m, sd) in &clt_rows {
        println!(
            "   {s:>4}  {m:>13.3}  {sd:>12.3}  {:>12.3}",
            1.0 / (*s as f64).sqrt()
        );
    }
    println!(
        "   The draws are skewed, yet their means pile up in a bell around 1 that narrows like 1/√n.\n"
    );

    println!(
        "3. Train/test split, test fraction {} (seed {})",
        args.test_fraction, args.seed
    );
    println!(
        "   {:<11} {:>6} {:>6}  {:>14}  {:>13}",
        "", "train", "test", "survival train", "survival test"
    );
    println!(
        "   {:<11} {:>6} {:>6}  {:>14}  {:>13}",
        "random",
        train_r.len(),
        test_r.len(),
        pct(rate(y, &train_r)),
        pct(rate(y, &test_r))
    );
    println!(
        "   {:<11} {:>6} {:>6}  {:>14}  {:>13}",
        "stratified",
        train.len(),
        test.len(),
        pct(rate(y, &train)),
        pct(rate(y, &test))
    );
    println!(
        "   Stratifying keeps the survival rate equal in both parts. The model below uses the stratified"
    );
    println!(
        "   split, fits everything on the training rows, and looks at the test rows once, at the end.\n"
    );

    println!(
        "4. Preprocessing, fitted on the {} training rows ({prep_ms:.2} ms)",
        train.len()
    );
    println!("   age: missing values → the training median; age, sibsp, parch → standardised");
    println!(
        "   pclass, sex → one-hot; {} features: {}\n",
        names.len(),
        names.join(", ")
    );

    println!(
        "5. Logistic regression from scratch, lr {}, {} iterations ({fit_ms:.1} ms)",
        args.learning_rate, args.iterations
    );
    println!(
        "   training log-loss {:.4} → {:.4}; test log-loss {test_loss:.4}",
        losses[0],
        losses.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "   {:<26} {:>9} {:>10} {:>7}",
        "on the test set", "accuracy", "precision", "recall"
    );
    println!(
        "   {:<26} {:>9} {:>10} {:>7}",
        format!(
            "baseline (always \"{}\")",
            if majority == 1.0 { "survived" } else { "died" }
        ),
        pct(baseline.accuracy),
        pct(baseline.precision),
        pct(baseline.recall)
    );
    println!(
        "   {:<26} {:>9} {:>10} {:>7}",
        "logistic regression",
        pct(metrics.accuracy),
        pct(metrics.precision),
        pct(metrics.recall)
    );
    println!(
        "   The model beats the baseline by {:.1} accuracy points.",
        100.0 * beat
    );
    println!(
        "   Confusion: {} survivors found, {} missed; {} deaths right, {} predicted to survive.\n",
        metrics.true_positives,
        metrics.false_negatives,
        metrics.true_negatives,
        metrics.false_positives
    );

    println!("6. Where are the errors? Test rows by class and sex");
    println!(
        "   {:<12} {:>5} {:>9} {:>7}",
        "group", "rows", "survived", "errors"
    );
    for (g, r, e, a) in &groups {
        println!("   {g:<12} {r:>5} {:>9} {e:>7}", pct(*a as f64 / *r as f64));
    }
    println!(
        "   The model learned \"women and the first class survive\": its errors are the groups where that"
    );
    println!(
        "   rule is closest to a coin toss (women in third class) and the men who survived against it.\n"
    );

    println!("Plots:");
    for p in &plots {
        println!("   {}", p.display());
    }
    Ok(())
}
