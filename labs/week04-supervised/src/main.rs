//! Runs the week 4 lab end to end: `cargo run -p week04-supervised -- --help`.

mod plots;
mod report;

use anyhow::{Result, bail};
use clap::Parser;
use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::{Array1, Axis};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use report::*;
use std::time::Instant;
use wb_core::lab::{check_open_fraction, elapsed_ms, standardise_with_train};
use wb_lab::{Lab, LabArgs};
use week04_supervised::bias_variance::{PolyModel, bias_variance, mse, noisy_sine};
use week04_supervised::kmeans::kmeans;
use week04_supervised::supervised::{accuracy, linfa_linear, linfa_logistic};

/// Week 4: supervised vs unsupervised learning (k-means from scratch vs linfa-clustering on iris;
/// linfa-linear on diabetes and linfa-logistic on breast cancer) and the bias–variance trade-off.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
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
    #[command(flatten)]
    lab: LabArgs,
}

wb_lab::main!(
    "Week 4 — supervised vs unsupervised learning, bias vs variance",
    run
);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    let mut ms = Timings::default();
    check_open_fraction("--test-fraction", args.test_fraction)?;
    if !(1..=20).contains(&args.max_degree) {
        bail!(
            "--max-degree must be between 1 and 20, got {}",
            args.max_degree
        );
    }

    // 1. Unsupervised: k-means on iris, without the species. -----------------------------------
    let (iris, species) =
        wb_data::read_labelled_csv(&wb_data::dataset("tabular/iris.csv")?, "species")?;
    let x = iris.data;
    let t = Instant::now();
    let ours = kmeans(x.view(), args.k, 10, 300, 1e-4, args.seed)?;
    ms.kmeans_ours = elapsed_ms(t);
    let t = Instant::now();
    let linfa_model = KMeans::params_with_rng(args.k, SmallRng::seed_from_u64(args.seed))
        .n_runs(10)
        .max_n_iterations(300)
        .tolerance(1e-4)
        .fit(&DatasetBase::from(x.clone()))?;
    ms.kmeans_linfa = elapsed_ms(t);
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
    ms.linear = elapsed_ms(t);
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
    ms.logistic = elapsed_ms(t);
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
        sweep.push(DegreeRow {
            degree: d,
            train_mse: mse(ys.view(), m.predict(xs.view())?.view())?,
            test_mse: mse(yt.view(), m.predict(xt.view())?.view())?,
        });
    }
    let best = sweep
        .iter()
        .min_by(|a, b| a.test_mse.total_cmp(&b.test_mse))
        .map(|s| s.degree)
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

    lab.record_ms("kmeans_ours", ms.kmeans_ours);
    lab.record_ms("kmeans_linfa", ms.kmeans_linfa);
    lab.record_ms("linear", ms.linear);
    lab.record_ms("logistic", ms.logistic);
    let report = Report {
        seed: args.seed,
        kmeans: Clustering {
            k: args.k,
            inertia: ours.inertia,
            iterations: ours.iterations,
            linfa_inertia_sum: linfa_inertia,
            purity,
            contingency: table,
            species: names,
            centroids: ours
                .centroids
                .rows()
                .into_iter()
                .map(|r| r.to_vec())
                .collect(),
        },
        linear_regression: Linear {
            rows: dx.nrows(),
            features: dnames,
            coefficients: coef.to_vec(),
            intercept,
        },
        logistic_regression: Logistic {
            n_train: train.len(),
            n_test: test.len(),
            test_accuracy: acc,
            baseline_accuracy: base,
            baseline_says_malignant: majority,
        },
        noise_sd: noise,
        n_train_points: n_train,
        degree_sweep: sweep,
        best_degree: best,
        bias_variance: bv
            .iter()
            .map(|b| BiasVariance {
                degree: b.degree,
                bias2: b.bias2,
                variance: b.variance,
            })
            .collect(),
        ms,
    };
    // 4. Plots, from the report and the data it was computed on.
    plots::save(lab, &report, x.view(), &ours.labels, xs.view(), ys.view())?;
    Ok(report)
}
