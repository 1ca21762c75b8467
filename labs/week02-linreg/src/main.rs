//! Runs the week 2 lab end to end: `cargo run -p week02-linreg -- --help`.

use anyhow::{Context, Result, bail};
use clap::Parser;
use ndarray::{Array1, Array2, ArrayView1, Axis, concatenate};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use wb_core::lab::{display_path, elapsed_ms};
use wb_plot::{LinePlot, ScatterPlot, Series};
use week02_linreg::gradients::{numerical_gradient, relative_error};
use week02_linreg::linreg::{
    Fit, GdConfig, LinearModel, SgdConfig, fit_gradient_descent, fit_minibatch_sgd,
    fit_normal_equations, mse_gradient, r2_score,
};
use week02_linreg::losses::{huber, mae, mse};
use week02_linreg::scaling::Standardizer;
use week02_linreg::vectors::cosine_similarity;

/// Week 2: linear regression from scratch — normal equations, gradient descent and mini-batch
/// SGD on the diabetes data (or any numeric CSV), with a gradient check and the effect of
/// feature scaling.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// A CSV file with a header row and only numeric cells [default: the shipped diabetes data]
    #[arg(long, value_name = "FILE.csv")]
    data: Option<PathBuf>,
    /// The column to predict
    #[arg(long, value_name = "COL", default_value = "target")]
    target: String,
    /// Share of the rows held out as a test set, in [0, 1); 0 fits on every row
    #[arg(long, value_name = "F", default_value_t = 0.2)]
    test_fraction: f64,
    /// Seed of the train/test shuffle and of SGD's batches
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Learning rate of gradient descent and SGD on standardised features
    #[arg(long, default_value_t = 0.1)]
    learning_rate: f64,
    /// Iterations of batch gradient descent (each is one pass over the training rows)
    #[arg(long, default_value_t = 1000)]
    iterations: usize,
    /// Epochs of mini-batch SGD
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Rows per SGD batch
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// δ of the Huber loss, in the target's units
    #[arg(long, default_value_t = 10.0)]
    huber_delta: f64,
    /// Folder for the plots (PNG and SVG)
    #[arg(long, value_name = "DIR", default_value = "output/week02-linreg")]
    plots: PathBuf,
    /// Print the key results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
    /// Also write the JSON results to FILE, and print the report as usual
    #[arg(long, value_name = "FILE", value_parser = wb_core::lab::writable_file)]
    json_out: Option<PathBuf>,
}

/// Relative distance of a loss above the optimum.
fn gap(loss: f64, optimum: f64) -> f64 {
    (loss - optimum) / optimum.abs().max(f64::MIN_POSITIVE)
}

/// The first index at which `losses` comes within `tol` (relative) of `optimum`.
fn steps_to_reach(losses: &[f64], optimum: f64, tol: f64) -> Option<usize> {
    losses.iter().position(|&l| gap(l, optimum) <= tol)
}

/// Gradient descent on raw (unscaled) features: the largest learning rate of 10⁻¹, 10⁻², … that
/// does not diverge within the same number of iterations.
fn gd_on_raw_features(x: &Array2<f64>, y: &Array1<f64>, iterations: usize) -> Result<(f64, Fit)> {
    for k in 1..=15 {
        let lr = 10f64.powi(-k);
        match fit_gradient_descent(
            x.view(),
            y.view(),
            GdConfig {
                learning_rate: lr,
                iterations,
            },
        ) {
            Ok(fit)
                if fit.losses.iter().all(|l| l.is_finite())
                    && fit.losses.last() <= fit.losses.first() =>
            {
                return Ok((lr, fit));
            }
            Ok(_) | Err(week02_linreg::MlError::Diverged(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    bail!("gradient descent on raw features diverged for every learning rate down to 1e-15")
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !(0.0..1.0).contains(&args.test_fraction) {
        bail!(
            "--test-fraction must be in [0, 1), got {}",
            args.test_fraction
        );
    }

    // 1. Data ------------------------------------------------------------------------------
    let t_load = Instant::now();
    let path = match &args.data {
        Some(p) => p.clone(),
        None => wb_data::dataset("tabular/diabetes.csv")?,
    };
    let table = wb_data::read_numeric_csv(&path)?;
    let (x, y, names) = table.split_target(&args.target)?;
    let (train_idx, test_idx) =
        wb_data::train_test_indices(x.nrows(), args.test_fraction, args.seed);
    if train_idx.len() <= names.len() {
        bail!(
            "only {} training rows for {} features: a linear model needs more rows than features",
            train_idx.len(),
            names.len()
        );
    }
    if args.test_fraction > 0.0 && test_idx.len() < 2 {
        bail!(
            "--test-fraction {} leaves {} test rows; at least 2 are needed",
            args.test_fraction,
            test_idx.len()
        );
    }
    let (x_train, y_train) = (x.select(Axis(0), &train_idx), y.select(Axis(0), &train_idx));
    let (x_test, y_test) = (x.select(Axis(0), &test_idx), y.select(Axis(0), &test_idx));
    let load_ms = elapsed_ms(t_load);

    // 2. Vectors: correlation of each feature with the target is a cosine of centred vectors.
    let centred = |v: ArrayView1<f64>| &v - v.mean().unwrap_or(0.0);
    let yc = centred(y_train.view());
    let correlations: Vec<Option<f64>> = x_train
        .axis_iter(Axis(1))
        .map(|col| cosine_similarity(centred(col).view(), yc.view()).ok())
        .collect();

    // 3. Closed form ------------------------------------------------------------------------
    let t = Instant::now();
    let exact = fit_normal_equations(x_train.view(), y_train.view()).context("normal equations")?;
    let normal_ms = elapsed_ms(t);
    let optimum = mse(y_train.view(), exact.predict(x_train.view())?.view())?;
    let (eval_x, eval_y, eval_name) = if test_idx.is_empty() {
        (&x_train, &y_train, "training")
    } else {
        (&x_test, &y_test, "test")
    };
    let eval_pred = exact.predict(eval_x.view())?;
    let eval_mse = mse(eval_y.view(), eval_pred.view())?;
    let eval_mae = mae(eval_y.view(), eval_pred.view())?;
    let eval_huber = huber(eval_y.view(), eval_pred.view(), args.huber_delta)?;
    let eval_r2 = r2_score(eval_y.view(), eval_pred.view())?;
    let train_r2 = r2_score(y_train.view(), exact.predict(x_train.view())?.view())?;

    // 4. Gradient check of the analytic MSE gradient at a point away from the optimum.
    let scaler = Standardizer::fit(x_train.view())?;
    let xs_train = scaler.transform(x_train.view())?;
    let d = names.len();
    let theta0: Array1<f64> = (0..=d).map(|i| 0.5 - 0.1 * i as f64).collect();
    let unpack = |theta: ArrayView1<f64>| LinearModel {
        weights: theta.slice(ndarray::s![..d]).to_owned(),
        intercept: theta[d],
    };
    let (_, gw, gb) = mse_gradient(xs_train.view(), y_train.view(), &unpack(theta0.view()))?;
    let analytic = concatenate![Axis(0), gw, Array1::from_elem(1, gb)];
    let loss_of = |theta: ArrayView1<f64>| {
        mse_gradient(xs_train.view(), y_train.view(), &unpack(theta)).map_or(f64::NAN, |r| r.0)
    };
    let numerical = numerical_gradient(loss_of, theta0.view(), 1e-5)?;
    let grad_rel_err = relative_error(analytic.view(), numerical.view())?;

    // 5. Batch gradient descent on standardised features.
    let t = Instant::now();
    let gd = fit_gradient_descent(
        xs_train.view(),
        y_train.view(),
        GdConfig {
            learning_rate: args.learning_rate,
            iterations: args.iterations,
        },
    )
    .context("gradient descent on standardised features (try a smaller --learning-rate)")?;
    let gd_ms = elapsed_ms(t);
    let gd_model = scaler.unscale_model(&gd.model)?;
    let gd_loss = *gd.losses.last().expect("at least one loss");

    // 6. Mini-batch SGD on standardised features.
    let sgd_lr = args.learning_rate / 10.0;
    let t = Instant::now();
    let sgd = fit_minibatch_sgd(
        xs_train.view(),
        y_train.view(),
        SgdConfig {
            learning_rate: sgd_lr,
            epochs: args.epochs,
            batch_size: args.batch_size,
            seed: args.seed,
        },
    )
    .context("mini-batch SGD (try a smaller --learning-rate or a larger --batch-size)")?;
    let sgd_ms = elapsed_ms(t);
    let sgd_loss = *sgd.losses.last().expect("at least one loss");

    // 7. The same gradient descent on raw features.
    let t = Instant::now();
    let (raw_lr, raw) = gd_on_raw_features(&x_train, &y_train, args.iterations)?;
    let raw_ms = elapsed_ms(t);
    let raw_loss = *raw.losses.last().expect("at least one loss");

    // 8. Plots -----------------------------------------------------------------------------
    let t = Instant::now();
    // The relative gap to the optimum on a log scale: a straight line means linear convergence.
    let curve = |losses: &[f64]| -> Vec<(f64, f64)> {
        losses
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as f64, gap(l, optimum)))
            .collect()
    };
    let mut plots = LinePlot::new(
        "Distance to the optimum: scaled vs raw features",
        "passes over the training data (GD iterations, SGD epochs)",
        "(MSE − optimum) / optimum",
    )
    .series(Series::new(
        format!("batch GD, standardised, lr {}", args.learning_rate),
        curve(&gd.losses),
    ))
    .series(Series::new(
        format!(
            "mini-batch SGD (batch {}), standardised, lr {sgd_lr}",
            args.batch_size
        ),
        curve(&sgd.losses),
    ))
    .series(Series::new(
        format!("batch GD, raw features, lr {raw_lr:e}"),
        curve(&raw.losses),
    ))
    .log_y(true)
    .save(&args.plots, "loss_curves")?;
    let pairs: Vec<(f64, f64)> = eval_y
        .iter()
        .copied()
        .zip(eval_pred.iter().copied())
        .collect();
    plots.extend(
        ScatterPlot::new(
            &format!("Predicted vs actual ({eval_name} set, normal equations)"),
            &format!("actual {}", args.target),
            &format!("predicted {}", args.target),
        )
        .series(Series::new(
            format!("{} {eval_name} rows, R² = {eval_r2:.3}", eval_y.len()),
            pairs,
        ))
        .identity_line(true)
        .save(&args.plots, "predicted_vs_actual")?,
    );
    let plot_ms = elapsed_ms(t);

    // 9. Report ----------------------------------------------------------------------------
    let within = |losses: &[f64]| steps_to_reach(losses, optimum, 1e-3);
    if args.json || args.json_out.is_some() {
        let out = json!({
            "lab": "week02-linreg",
            "data": display_path(&path),
            "target": args.target,
            "seed": args.seed,
            "test_fraction": args.test_fraction,
            "n_train": train_idx.len(),
            "n_test": test_idx.len(),
            "features": names,
            "correlation_with_target": correlations,
            "normal_equations": {
                "coefficients": exact.weights.to_vec(),
                "intercept": exact.intercept,
                "train_mse": optimum,
                "train_r2": train_r2,
                "eval_set": eval_name,
                "eval": { "mse": eval_mse, "mae": eval_mae, "huber": eval_huber, "huber_delta": args.huber_delta, "r2": eval_r2 },
            },
            "gradient_check": { "relative_error": grad_rel_err, "h": 1e-5 },
            "gradient_descent": {
                "learning_rate": args.learning_rate,
                "iterations": args.iterations,
                "coefficients": gd_model.weights.to_vec(),
                "intercept": gd_model.intercept,
                "final_train_mse": gd_loss,
                "relative_gap_to_optimum": gap(gd_loss, optimum),
                "iterations_to_within_1e-3": within(&gd.losses),
                "losses": gd.losses,
            },
            "minibatch_sgd": {
                "learning_rate": sgd_lr,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "final_train_mse": sgd_loss,
                "relative_gap_to_optimum": gap(sgd_loss, optimum),
                "losses": sgd.losses,
            },
            "raw_features_gradient_descent": {
                "largest_stable_learning_rate": raw_lr,
                "iterations": args.iterations,
                "final_train_mse": raw_loss,
                "relative_gap_to_optimum": gap(raw_loss, optimum),
                "iterations_to_within_1e-3": within(&raw.losses),
            },
            "timings_ms": {
                "load_and_split": load_ms,
                "normal_equations": normal_ms,
                "gradient_descent": gd_ms,
                "minibatch_sgd": sgd_ms,
                "raw_gradient_descent_search": raw_ms,
                "plots": plot_ms,
            },
            "plots": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&out)?;
        if wb_core::lab::emit_json(&text, args.json, args.json_out.as_deref())? {
            return Ok(());
        }
    }

    let width = names.iter().map(|n| n.len()).max().unwrap_or(4).max(9);
    println!("Week 2 — linear regression from scratch");
    println!("=======================================\n");
    println!(
        "Data: {} ({} rows, {} features, predicting `{}`)",
        display_path(&path),
        x.nrows(),
        d,
        args.target
    );
    println!(
        "Split (seed {}): {} training rows, {} test rows{}\n",
        args.seed,
        train_idx.len(),
        test_idx.len(),
        if test_idx.is_empty() {
            " (test fraction 0: everything below is on the training rows)"
        } else {
            ""
        }
    );

    println!("1. Normal equations: solve (XᵀX) w = Xᵀy once, no iterations ({normal_ms:.2} ms)");
    println!(
        "   {:<width$}  {:>12}  {:>12}",
        "feature", "coefficient", "corr. with y"
    );
    for ((name, w), c) in names.iter().zip(exact.weights.iter()).zip(&correlations) {
        let c = c.map_or("—".to_string(), |c| format!("{c:+.3}"));
        println!("   {name:<width$}  {w:>12.4}  {c:>12}");
    }
    println!("   {:<width$}  {:>12.4}", "intercept", exact.intercept);
    println!(
        "   Training MSE {optimum:.2} (the lowest any linear model can reach), R² {train_r2:.3}"
    );
    println!(
        "   On the {eval_name} set: MSE {eval_mse:.2}, MAE {eval_mae:.2}, Huber(δ={}) {eval_huber:.2}, R² {eval_r2:.3}",
        args.huber_delta
    );
    println!(
        "   (MSE punishes big misses most; MAE is in the target's own units; Huber is in between.)\n"
    );

    println!("2. Gradient check: analytic ∂MSE/∂(w, b) against central differences");
    println!(
        "   relative error {grad_rel_err:.1e} — {}\n",
        if grad_rel_err < 1e-6 {
            "the analytic gradient is right"
        } else {
            "SUSPICIOUS: above 1e-6"
        }
    );

    let reach = |k: Option<usize>, unit: &str, budget: usize| {
        k.map_or(format!("not reached in {budget} {unit}"), |k| {
            format!("reached after {k} {unit}")
        })
    };
    println!(
        "3. Batch gradient descent, standardised features, lr {}, {} iterations ({gd_ms:.1} ms)",
        args.learning_rate, args.iterations
    );
    println!(
        "   final training MSE {gd_loss:.2}, {:.3}% above the optimum; within 0.1%: {}",
        100.0 * gap(gd_loss, optimum),
        reach(within(&gd.losses), "iterations", args.iterations)
    );
    // Where the valley is flattest, the loss hardly changes while the coefficients still move.
    let (worst, _) = (&gd_model.weights - &exact.weights)
        .iter()
        .enumerate()
        .map(|(j, d)| (j, d.abs()))
        .fold(
            (0, 0.0_f64),
            |best, cur| if cur.1 > best.1 { cur } else { best },
        );
    println!(
        "   coefficients (back in raw units): furthest from the normal equations is `{}`, {:.3} instead of {:.3}",
        names[worst], gd_model.weights[worst], exact.weights[worst]
    );
    println!("   (correlated features make a flat valley floor: the loss is nearly optimal while");
    println!("   some coefficients are still drifting along it)\n");

    println!(
        "4. Mini-batch SGD, batch {}, lr {sgd_lr}, {} epochs ({sgd_ms:.1} ms)",
        args.batch_size, args.epochs
    );
    println!(
        "   final training MSE {sgd_loss:.2}, {:.2}% above the optimum; within 0.1%: {}",
        100.0 * gap(sgd_loss, optimum),
        reach(within(&sgd.losses), "epochs", args.epochs)
    );
    println!(
        "   (each step sees {} rows, so its gradient is noisy: SGD gets near the bottom fast,",
        args.batch_size
    );
    println!("   then hovers there unless the learning rate is lowered)\n");

    println!("5. Why scale features? The same gradient descent on raw features");
    println!("   largest learning rate (of 1e-1, 1e-2, …) that does not diverge: {raw_lr:e}");
    println!(
        "   after {} iterations: training MSE {raw_loss:.1}, {:.1}% above the optimum (standardised: {:.3}%)",
        args.iterations,
        100.0 * gap(raw_loss, optimum),
        100.0 * gap(gd_loss, optimum)
    );
    println!(
        "   Raw features on very different scales make a long, narrow valley: a step that is safe"
    );
    println!("   for the steepest direction barely moves along the flattest one.\n");

    println!("Plots:");
    for p in &plots {
        println!("   {}", p.display());
    }
    Ok(())
}
