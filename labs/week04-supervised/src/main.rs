//! Runs the week 4 lab end to end: `cargo run -p week04-supervised -- --help`.

use anyhow::{Result, bail};
use clap::Parser;
use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::{Array1, Axis};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use wb_core::lab::{check_open_fraction, elapsed_ms, standardise_with_train};
use wb_plot::{LinePlot, ScatterPlot, Series};
use week04_supervised::bias_variance::{PolyModel, bias_variance, mse, noisy_sine, truth};
use week04_supervised::kmeans::kmeans;
use week04_supervised::supervised::{accuracy, linfa_linear, linfa_logistic};

/// Week 4: supervised vs unsupervised learning (k-means from scratch vs linfa-clustering on iris;
/// linfa-linear on diabetes and linfa-logistic on breast cancer) and the bias–variance trade-off.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Seed of the k-means starts, the splits and the synthetic data
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of clusters for iris
    #[arg(long, default_value_t = 3)]
    k: usize,
    /// Share of the breast-cancer rows held out for testing, strictly between 0 and 1
    #[arg(long, value_name = "F", default_value_t = 0.25)]
    test_fraction: f64,
    /// Highest polynomial degree of the bias–variance sweep
    #[arg(long, default_value_t = 12)]
    max_degree: usize,
    /// Folder for the plots (PNG and SVG)
    #[arg(long, value_name = "DIR", default_value = "output/week04-supervised")]
    plots: PathBuf,
    /// Print the key results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
    /// Also write the JSON results to FILE, and print the report as usual
    #[arg(long, value_name = "FILE", value_parser = wb_core::lab::writable_file)]
    json_out: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    check_open_fraction("--test-fraction", args.test_fraction)?;
    if !(1..=20).contains(&args.max_degree) {
        bail!(
            "--max-degree must be between 1 and 20, got {}",
            args.max_degree
        );
    }
    let t0 = Instant::now();

    // 1. Unsupervised: k-means on iris, without the species. -----------------------------------
    let (iris, species) =
        wb_data::read_labelled_csv(&wb_data::dataset("tabular/iris.csv")?, "species")?;
    let x = iris.data;
    let t = Instant::now();
    let ours = kmeans(x.view(), args.k, 10, 300, 1e-4, args.seed)?;
    let ours_ms = elapsed_ms(t);
    let t = Instant::now();
    let linfa_model = KMeans::params_with_rng(args.k, SmallRng::seed_from_u64(args.seed))
        .n_runs(10)
        .max_n_iterations(300)
        .tolerance(1e-4)
        .fit(&DatasetBase::from(x.clone()))?;
    let linfa_ms = elapsed_ms(t);
    // linfa reports the mean squared distance; scikit-learn and this lab the sum.
    let linfa_inertia = linfa_model.inertia() * x.nrows() as f64;
    let mut names = species.clone();
    names.sort();
    names.dedup();
    // Contingency table: rows = clusters, columns = species.
    let mut table = vec![vec![0usize; names.len()]; args.k];
    for (l, s) in ours.labels.iter().zip(&species) {
        table[*l][names.iter().position(|n| n == s).unwrap_or(0)] += 1;
    }
    let purity = table
        .iter()
        .map(|r| r.iter().max().copied().unwrap_or(0))
        .sum::<usize>() as f64
        / x.nrows() as f64;

    // 2. Supervised: linear regression (diabetes) and logistic regression (breast cancer). -----
    let diabetes = wb_data::read_numeric_csv(&wb_data::dataset("tabular/diabetes.csv")?)?;
    let (dx, dy, dnames) = diabetes.split_target("target")?;
    let t = Instant::now();
    let (coef, intercept) = linfa_linear(dx.view(), dy.view())?;
    let linear_ms = elapsed_ms(t);
    let (bc, diagnosis) =
        wb_data::read_labelled_csv(&wb_data::dataset("tabular/breast_cancer.csv")?, "diagnosis")?;
    let malignant: Vec<bool> = diagnosis.iter().map(|d| d == "malignant").collect();
    let (train, test) = wb_data::train_test_indices(bc.data.nrows(), args.test_fraction, args.seed);
    let (xtr, xte) = standardise_with_train(
        &bc.data.select(Axis(0), &train),
        &bc.data.select(Axis(0), &test),
    )?;
    let ytr: Vec<bool> = train.iter().map(|&i| malignant[i]).collect();
    let yte: Vec<bool> = test.iter().map(|&i| malignant[i]).collect();
    let t = Instant::now();
    let pred = linfa_logistic(xtr.view(), &ytr, xte.view(), 1.0)?;
    let logistic_ms = elapsed_ms(t);
    let acc = accuracy(&yte, &pred)?;
    let majority = ytr.iter().filter(|&&m| m).count() * 2 >= ytr.len();
    let base = accuracy(&yte, &vec![majority; yte.len()])?;

    // 3. Bias and variance: polynomials of growing degree on noisy samples of sin(2πx). -------
    let (noise, n_train) = (0.3, 40);
    let (xs, ys) = noisy_sine(n_train, noise, args.seed);
    let (xt, yt) = noisy_sine(1000, noise, args.seed.wrapping_add(1_000_000));
    let mut sweep = Vec::new();
    for d in 1..=args.max_degree {
        let m = PolyModel::fit(xs.view(), ys.view(), d)?;
        sweep.push((
            d,
            mse(ys.view(), m.predict(xs.view())?.view())?,
            mse(yt.view(), m.predict(xt.view())?.view())?,
        ));
    }
    let best = sweep
        .iter()
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .map(|s| s.0)
        .unwrap_or(1);
    let grid = Array1::linspace(0.05, 0.95, 91);
    let bv_degrees: Vec<usize> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        .into_iter()
        .filter(|&d| d <= args.max_degree)
        .collect();
    let bv = bv_degrees
        .iter()
        .map(|&d| bias_variance(xs.view(), ys.view(), d, grid.view(), 200, args.seed))
        .collect::<Result<Vec<_>, _>>()?;

    // 4. Plots ---------------------------------------------------------------------------------
    let mut plots = Vec::new();
    let (pl, pw) = (2, 3); // petal length and width
    let mut scatter = ScatterPlot::new(
        "k-means on iris, without the labels (petal measurements)",
        "petal length (cm)",
        "petal width (cm)",
    );
    for c in 0..args.k {
        let pts = (0..x.nrows())
            .filter(|&i| ours.labels[i] == c)
            .map(|i| (x[[i, pl]], x[[i, pw]]))
            .collect();
        scatter = scatter.series(Series::new(format!("cluster {c}"), pts));
    }
    let cents = (0..args.k)
        .map(|c| (ours.centroids[[c, pl]], ours.centroids[[c, pw]]))
        .collect();
    plots.extend(
        scatter
            .series(Series::new("centroids", cents))
            .save(&args.plots, "kmeans_iris")?,
    );
    let curve = |f: &dyn Fn(&(usize, f64, f64)) -> f64| {
        sweep.iter().map(|s| (s.0 as f64, f(s))).collect::<Vec<_>>()
    };
    plots.extend(
        LinePlot::new(
            "Training and test error against polynomial degree",
            "polynomial degree",
            "mean squared error (log scale)",
        )
        .series(Series::new("training error", curve(&|s| s.1)))
        .series(Series::new("test error", curve(&|s| s.2)))
        .series(Series::new(
            format!("noise variance ({noise}²)"),
            vec![
                (1.0, noise * noise),
                (args.max_degree as f64, noise * noise),
            ],
        ))
        .log_y(true)
        .save(&args.plots, "degree_sweep")?,
    );
    plots.extend(
        LinePlot::new(
            "Bootstrap estimates of bias² and variance",
            "polynomial degree",
            "squared error (log scale)",
        )
        .series(Series::new(
            "bias²",
            bv.iter().map(|b| (b.degree as f64, b.bias2)).collect(),
        ))
        .series(Series::new(
            "variance",
            bv.iter().map(|b| (b.degree as f64, b.variance)).collect(),
        ))
        .series(Series::new(
            "bias² + variance",
            bv.iter()
                .map(|b| (b.degree as f64, b.bias2 + b.variance))
                .collect(),
        ))
        .log_y(true)
        .save(&args.plots, "bias_variance")?,
    );
    let fine = Array1::linspace(0.0, 1.0, 200);
    let mut fits = LinePlot::new(
        &format!("Polynomials fitted to {n_train} noisy points of sin(2πx)"),
        "x",
        "y",
    )
    .points(Series::new(
        "training points",
        xs.iter().copied().zip(ys.iter().copied()).collect(),
    ));
    for d in [1, best, args.max_degree] {
        let m = PolyModel::fit(xs.view(), ys.view(), d)?;
        let p = m.predict(fine.view())?;
        fits = fits.series(Series::new(
            format!("degree {d}"),
            fine.iter()
                .copied()
                .zip(p.iter().map(|v| v.clamp(-2.5, 2.5)))
                .collect(),
        ));
    }
    plots.extend(
        fits.series(Series::new(
            "truth sin(2πx)",
            fine.iter().map(|&v| (v, truth(v))).collect(),
        ))
        .save(&args.plots, "polynomial_fits")?,
    );

    if args.json || args.json_out.is_some() {
        let out = json!({
            "lab": "week04-supervised",
            "seed": args.seed,
            "kmeans": {
                "k": args.k, "inertia": ours.inertia, "iterations": ours.iterations,
                "linfa_inertia_sum": linfa_inertia, "purity": purity, "contingency": table, "species": names,
                "centroids": ours.centroids.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
            },
            "linear_regression": {"features": dnames, "coefficients": coef.to_vec(), "intercept": intercept},
            "logistic_regression": {"n_train": train.len(), "n_test": test.len(), "test_accuracy": acc, "baseline_accuracy": base},
            "degree_sweep": sweep.iter().map(|(d, a, b)| json!({"degree": d, "train_mse": a, "test_mse": b})).collect::<Vec<_>>(),
            "best_degree": best,
            "bias_variance": bv.iter().map(|b| json!({"degree": b.degree, "bias2": b.bias2, "variance": b.variance})).collect::<Vec<_>>(),
            "timings_ms": {"total": elapsed_ms(t0), "kmeans_ours": ours_ms, "kmeans_linfa": linfa_ms, "linear": linear_ms, "logistic": logistic_ms},
            "plots": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&out)?;
        if wb_core::lab::emit_json(&text, args.json, args.json_out.as_deref())? {
            return Ok(());
        }
    }

    println!("Week 4 — supervised vs unsupervised learning, bias vs variance");
    println!("==============================================================\n");
    println!(
        "1. Unsupervised: k-means on the 150 iris flowers, species hidden (k = {}, 10 starts)",
        args.k
    );
    println!(
        "   from scratch (k-means++): inertia {:.4} after {} iterations ({ours_ms:.1} ms)",
        ours.inertia, ours.iterations
    );
    println!(
        "   linfa-clustering:         inertia {linfa_inertia:.4} ({linfa_ms:.1} ms; linfa reports the mean, ×150 here)"
    );
    println!("   Clusters against the species it never saw:");
    println!(
        "   {:>10} {}",
        "",
        names.iter().map(|n| format!("{n:>11}")).collect::<String>()
    );
    for (c, row) in table.iter().enumerate() {
        println!(
            "   {:>10} {}",
            format!("cluster {c}"),
            row.iter().map(|v| format!("{v:>11}")).collect::<String>()
        );
    }
    println!(
        "   purity {:.1}%: setosa stands apart; versicolor and virginica overlap, so some flowers",
        100.0 * purity
    );
    println!(
        "   land in the other's cluster. Clustering finds structure; it cannot know which structure you meant.\n"
    );

    println!("2. Supervised: the answers are in the data");
    println!(
        "   linfa-linear on diabetes ({} rows): ({linear_ms:.2} ms)",
        dx.nrows()
    );
    for (n, c) in dnames.iter().zip(coef.iter()) {
        print!("   {n}={c:.3}");
    }
    println!(
        "\n   intercept {intercept:.3} (the same least-squares fit as week 2's normal equations)"
    );
    println!(
        "   linfa-logistic on breast cancer ({} training, {} test rows, standardised): test accuracy {:.1}% ({logistic_ms:.1} ms)",
        train.len(),
        test.len(),
        100.0 * acc
    );
    println!(
        "   against {:.1}% for always answering \"{}\"\n",
        100.0 * base,
        if majority { "malignant" } else { "benign" }
    );

    println!(
        "3. Bias vs variance: polynomials fitted to {n_train} noisy points of sin(2πx) (noise sd {noise})"
    );
    println!("   {:>6} {:>12} {:>12}", "degree", "train MSE", "test MSE");
    for (d, a, b) in &sweep {
        println!(
            "   {d:>6} {a:>12.4} {b:>12.4}{}",
            if *d == best {
                "   ← lowest test error"
            } else {
                ""
            }
        );
    }
    println!(
        "   Training error only falls as the degree grows; test error falls, then rises: overfitting."
    );
    println!("   Bootstrap (200 resamples of the training set), on 91 points of [0.05, 0.95]:");
    println!(
        "   {:>6} {:>10} {:>10} {:>16}",
        "degree", "bias²", "variance", "bias² + variance"
    );
    for b in &bv {
        println!(
            "   {:>6} {:>10.4} {:>10.4} {:>16.4}",
            b.degree,
            b.bias2,
            b.variance,
            b.bias2 + b.variance
        );
    }
    println!(
        "   Low degrees are wrong the same way every time (bias); high degrees are wrong differently"
    );
    println!(
        "   every time (variance) — past degree 8 so wildly that even their average drifts off."
    );
    println!(
        "   The noise ({:.2}) is the floor no model goes below.\n",
        noise * noise
    );
    println!("Plots:");
    for p in &plots {
        println!("   {}", p.display());
    }
    Ok(())
}
