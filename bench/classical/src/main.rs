//! Fit-time benchmark of the classical labs against linfa, on the same data in the same run:
//! `cargo run --release -p bench-classical` (then `bash bench/compare_classical.sh` adds
//! scikit-learn). Each fit is repeated and the median wall time is reported; the ratio to linfa is
//! measured in the same process, so machine noise cancels out of it.

use anyhow::Result;
use linfa::prelude::*;
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde_json::json;
use wb_core::lab::median_ms;
use week05_trees::tree::{DecisionTree, Targets, TreeParams};

/// digits: 1,797 images of 8×8 pixels (64 features), 10 classes.
fn digits() -> Result<(Array2<f64>, Vec<usize>)> {
    let t = wb_data::read_numeric_csv(&wb_data::dataset("tabular/digits.csv.gz")?)?;
    let (x, y, _) = t.split_target("label")?;
    Ok((x, y.iter().map(|&v| v as usize).collect()))
}

fn main() -> Result<()> {
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let (x, y) = digits()?;
    let yy = Array1::from(y.clone());
    let dataset = Dataset::new(x.clone(), yy.clone());
    let mut rows = Vec::new();

    // Decision tree, Gini, unbounded depth, on every digit.
    let ours = median_ms(0, reps, || -> Result<()> {
        DecisionTree::fit(
            x.view(),
            &Targets::Classes {
                y: &y,
                n_classes: 10,
            },
            &TreeParams::default(),
        )?;
        Ok(())
    })?;
    let linfa = median_ms(0, reps, || -> Result<()> {
        linfa_trees::DecisionTree::params()
            .max_depth(None)
            .fit(&dataset)?;
        Ok(())
    })?;
    rows.push(("decision tree (digits, Gini, no depth limit)", ours, linfa));

    // k-means, k = 10, one k-means++ start, at most 300 iterations.
    let ours = median_ms(0, reps, || -> Result<()> {
        week04_supervised::kmeans::kmeans(x.view(), 10, 1, 300, 1e-4, 0)?;
        Ok(())
    })?;
    let linfa = median_ms(0, reps, || -> Result<()> {
        linfa_clustering::KMeans::params_with_rng(10, SmallRng::seed_from_u64(0))
            .n_runs(1)
            .max_n_iterations(300)
            .tolerance(1e-4)
            .fit(&DatasetBase::from(x.clone()))?;
        Ok(())
    })?;
    rows.push(("k-means (digits, k = 10, n_init = 1)", ours, linfa));
    // The starts differ (each library draws its own k-means++ centres), and so do the numbers of
    // Lloyd iterations to convergence: per iteration is the like-for-like cost.
    let iterations = week04_supervised::kmeans::kmeans(x.view(), 10, 1, 300, 1e-4, 0)?.iterations;
    rows.push((
        "k-means, one Lloyd iteration (fit time / iterations)",
        ours / iterations as f64,
        f64::NAN,
    ));
    println!("k-means from scratch: {iterations} Lloyd iterations from its k-means++ start");

    // Least squares on diabetes: linfa-linear (the labs use it; the from-scratch one is week 2's).
    let d = wb_data::read_numeric_csv(&wb_data::dataset("tabular/diabetes.csv")?)?;
    let (dx, dy, _) = d.split_target("target")?;
    let ddata = Dataset::new(dx, dy);
    let linfa = median_ms(0, reps, || -> Result<()> {
        linfa_linear::LinearRegression::new().fit(&ddata)?;
        Ok(())
    })?;
    rows.push(("linear regression (diabetes), linfa only", f64::NAN, linfa));

    // Metrics: ROC AUC by the rank formula (O(n log n)) against comparing every pair (O(P·N)),
    // on 20,000 scores of which 8,000 are positive, with ties.
    let mut rng = wb_data::SplitMix64::new(6);
    let labels: Vec<bool> = (0..20_000).map(|_| rng.next_f64() < 0.4).collect();
    let scores: Array1<f64> = labels
        .iter()
        .map(|&l| ((0.3 * f64::from(u8::from(l)) + rng.next_f64()) * 100.0).round() / 100.0)
        .collect();
    let fast = median_ms(0, reps, || -> Result<()> {
        week06_evaluation::curves::auc_rank(&labels, scores.view())?;
        Ok(())
    })?;
    let naive = median_ms(0, reps.min(3), || -> Result<()> {
        week06_evaluation::curves::auc_pairs_naive(&labels, scores.view())?;
        Ok(())
    })?;
    let a = week06_evaluation::curves::auc_rank(&labels, scores.view())?;
    let b = week06_evaluation::curves::auc_pairs_naive(&labels, scores.view())?;
    anyhow::ensure!((a - b).abs() < 1e-9, "the two AUCs differ: {a} vs {b}");
    println!(
        "ROC AUC of 20,000 scores: rank formula {fast:.2} ms, every pair {naive:.1} ms ({:.0}× slower), both {a:.6}\n",
        naive / fast
    );

    // One epoch of week 10's MLP (64-128-64-10, ReLU, He, Adam 1e-3, batch 32) on the digits'
    // training split, from scratch in ndarray; bench/sklearn_classical.py times the same in numpy.
    let (dx10, dy10) = week10_backprop::train::digits().map_err(|e| anyhow::anyhow!("{e}"))?;
    let (tr, _) = wb_data::train_test_indices(dx10.nrows(), 0.25, 42);
    let xtr = dx10.select(ndarray::Axis(0), &tr);
    let ytr: Vec<usize> = tr.iter().map(|&i| dy10[i]).collect();
    // The network is initialised once, outside the timing (both sides): each timed epoch starts
    // from a copy of the same weights.
    let net0 = week10_backprop::net::Net::new(
        &[64, 128, 64, 10],
        week10_backprop::net::Act::Relu,
        week10_backprop::net::Init::He,
        42,
    )?;
    let epoch = median_ms(0, reps, || -> Result<()> {
        let mut net = net0.clone();
        let mut adam = week10_backprop::optim::Adam::new(1e-3);
        week10_backprop::train::train_epochs(
            &mut net,
            &mut adam,
            xtr.view(),
            &ytr,
            1,
            32,
            42,
            false,
        )?;
        Ok(())
    })?;
    rows.push((
        "MLP epoch (digits, 64-128-64-10, batch 32, Adam)",
        epoch,
        f64::NAN,
    ));

    println!("| task | from scratch (ms) | linfa (ms) | from scratch / linfa |");
    println!("|---|---|---|---|");
    for (task, a, b) in &rows {
        let dash = |v: f64| {
            if v.is_nan() {
                "—".to_string()
            } else {
                format!("{v:.2}")
            }
        };
        let ratio = if a.is_nan() || b.is_nan() {
            "—".to_string()
        } else {
            format!("{:.2}×", a / b)
        };
        println!("| {task} | {} | {} | {ratio} |", dash(*a), dash(*b));
    }
    let out = json!({
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "reps": reps,
        "auc_20000": {"rank_ms": fast, "pairs_ms": naive, "auc": a},
        "rows": rows.iter().map(|(t, a, b)| json!({"task": t, "ours_ms": if a.is_nan() { None } else { Some(*a) }, "linfa_ms": if b.is_nan() { None } else { Some(*b) }})).collect::<Vec<_>>(),
    });
    if let Some(path) = std::env::var_os("BENCH_JSON") {
        std::fs::write(path, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}
