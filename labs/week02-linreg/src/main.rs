//! Runs the week 2 lab end to end: `cargo run -p week02-linreg -- --help`.

mod data;
mod descent;
mod plots;
mod report;

use anyhow::{Context, Result};
use clap::Parser;
use data::Data;
use descent::{gap, gd_on_raw_features, steps_to_reach};
use ndarray::{Array1, ArrayView1, Axis, concatenate};
use report::*;
use std::path::PathBuf;
use std::time::Instant;
use wb_core::lab::{display_path, elapsed_ms};
use wb_lab::{Lab, LabArgs};
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
#[command(version, allow_negative_numbers = true)]
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
    #[command(flatten)]
    lab: LabArgs,
}

wb_lab::main!("Week 2 — linear regression from scratch", run);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    wb_core::check_positive("--learning-rate", args.learning_rate)?;
    wb_core::check_positive("--huber-delta", args.huber_delta)?;

    // 1. Data ------------------------------------------------------------------------------
    let Data {
        path,
        names,
        n_rows,
        x_train,
        y_train,
        x_test,
        y_test,
    } = lab.timed("load_and_split", || data::load(args))?;

    // 2. Vectors: correlation of each feature with the target is a cosine of centred vectors.
    let centred = |v: ArrayView1<f64>| &v - v.mean().unwrap_or(0.0);
    let yc = centred(y_train.view());
    let correlations: Vec<Option<f64>> = x_train
        .axis_iter(Axis(1))
        .map(|col| cosine_similarity(centred(col).view(), yc.view()).ok())
        .collect();

    // 3. Closed form ------------------------------------------------------------------------
    let exact = lab.timed("normal_equations", || {
        fit_normal_equations(x_train.view(), y_train.view()).context("normal equations")
    })?;
    let optimum = mse(y_train.view(), exact.predict(x_train.view())?.view())?;
    let (eval_x, eval_y, eval_name) = if y_test.is_empty() {
        (&x_train, &y_train, "training")
    } else {
        (&x_test, &y_test, "test")
    };
    let eval_pred = exact.predict(eval_x.view())?;
    let (truth, predicted) = (eval_y.view(), eval_pred.view());
    let eval = Eval {
        mse: mse(truth, predicted)?,
        mae: mae(truth, predicted)?,
        huber: huber(truth, predicted, args.huber_delta)?,
        huber_delta: args.huber_delta,
        r2: r2_score(truth, predicted)?,
    };
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
    let gd = lab.timed("gradient_descent", || {
        fit_gradient_descent(
            xs_train.view(),
            y_train.view(),
            GdConfig {
                learning_rate: args.learning_rate,
                iterations: args.iterations,
            },
        )
        .context("gradient descent on standardised features (try a smaller --learning-rate)")
    })?;
    let gd_model = scaler.unscale_model(&gd.model)?;

    // 6. Mini-batch SGD on standardised features.
    let sgd_lr = args.learning_rate / 10.0;
    let sgd = lab.timed("minibatch_sgd", || {
        fit_minibatch_sgd(
            xs_train.view(),
            y_train.view(),
            SgdConfig {
                learning_rate: sgd_lr,
                epochs: args.epochs,
                batch_size: args.batch_size,
                seed: args.seed,
            },
        )
        .context("mini-batch SGD (try a smaller --learning-rate or a larger --batch-size)")
    })?;

    // 7. The same gradient descent on raw features.
    let (raw_lr, raw) = lab.timed("raw_gradient_descent_search", || {
        gd_on_raw_features(&x_train, &y_train, args.iterations)
    })?;

    // 8. Report ----------------------------------------------------------------------------
    let within = |losses: &[f64]| steps_to_reach(losses, optimum, 1e-3);
    let descent = |model: &LinearModel, fit: &Fit, learning_rate, passes, timing| Descent {
        learning_rate,
        passes,
        batch_size: None,
        coefficients: model.weights.to_vec(),
        intercept: model.intercept,
        final_train_mse: *fit.losses.last().unwrap_or(&f64::NAN),
        relative_gap_to_optimum: gap(*fit.losses.last().unwrap_or(&f64::NAN), optimum),
        passes_to_within_1e_3: within(&fit.losses),
        losses: fit.losses.clone(),
        ms: lab.ms(timing),
    };
    let sgd_model = scaler.unscale_model(&sgd.model)?;
    let iterations = args.iterations;
    let report = Report {
        data: display_path(&path),
        target: args.target.clone(),
        seed: args.seed,
        test_fraction: args.test_fraction,
        n_rows,
        n_train: y_train.len(),
        n_test: y_test.len(),
        features: names,
        correlation_with_target: correlations,
        normal_equations: NormalEquations {
            coefficients: exact.weights.to_vec(),
            intercept: exact.intercept,
            train_mse: optimum,
            train_r2,
            eval_set: eval_name,
            eval,
            ms: lab.ms("normal_equations"),
        },
        gradient_check: GradientCheck {
            relative_error: grad_rel_err,
            h: 1e-5,
        },
        gradient_descent: descent(
            &gd_model,
            &gd,
            args.learning_rate,
            iterations,
            "gradient_descent",
        ),
        minibatch_sgd: Descent {
            batch_size: Some(args.batch_size),
            ..descent(&sgd_model, &sgd, sgd_lr, args.epochs, "minibatch_sgd")
        },
        raw_features_gradient_descent: descent(
            &raw.model,
            &raw,
            raw_lr,
            iterations,
            "raw_gradient_descent_search",
        ),
    };
    // 9. Plots, from the report and the evaluation set's predictions.
    let t = Instant::now();
    plots::save(lab, &report, eval_y.view(), eval_pred.view())?;
    lab.record_ms("plots", elapsed_ms(t));
    Ok(report)
}
