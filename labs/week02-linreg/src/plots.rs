//! The lab's plots, drawn from its report.

use crate::descent::gap;
use crate::report::Report;
use anyhow::Result;
use ndarray::ArrayView1;
use wb_lab::Lab;
use wb_plot::{LinePlot, ScatterPlot, Series};

/// The three descents' distance to the optimum, and the normal equations' predictions
/// `predicted` against the evaluation set's targets `actual`.
pub fn save(
    lab: &mut Lab,
    report: &Report,
    actual: ArrayView1<f64>,
    predicted: ArrayView1<f64>,
) -> Result<()> {
    let optimum = report.normal_equations.train_mse;
    // The relative gap to the optimum on a log scale: a straight line means linear convergence.
    let curve = |losses: &[f64]| -> Vec<(f64, f64)> {
        let points = losses.iter().enumerate();
        points.map(|(i, &l)| (i as f64, gap(l, optimum))).collect()
    };
    let (gd, sgd, raw) = (
        &report.gradient_descent,
        &report.minibatch_sgd,
        &report.raw_features_gradient_descent,
    );
    let batch = sgd.batch_size.unwrap_or(0);
    let loss_plot = LinePlot::new(
        "Distance to the optimum: scaled vs raw features",
        "passes over the training data (GD iterations, SGD epochs)",
        "(MSE − optimum) / optimum",
    )
    .series(Series::new(
        format!("batch GD, standardised, lr {}", gd.learning_rate),
        curve(&gd.losses),
    ))
    .series(Series::new(
        format!(
            "mini-batch SGD (batch {batch}), standardised, lr {}",
            sgd.learning_rate
        ),
        curve(&sgd.losses),
    ))
    .series(Series::new(
        format!("batch GD, raw features, lr {:e}", raw.learning_rate),
        curve(&raw.losses),
    ))
    .log_y(true);
    lab.saved(loss_plot.save(lab.plots_dir(), "loss_curves")?);
    let set = report.normal_equations.eval_set;
    let pairs = actual
        .iter()
        .copied()
        .zip(predicted.iter().copied())
        .collect();
    lab.saved(
        ScatterPlot::new(
            &format!("Predicted vs actual ({set} set, normal equations)"),
            &format!("actual {}", report.target),
            &format!("predicted {}", report.target),
        )
        .series(Series::new(
            format!(
                "{} {set} rows, R² = {:.3}",
                actual.len(),
                report.normal_equations.eval.r2
            ),
            pairs,
        ))
        .identity_line(true)
        .save(lab.plots_dir(), "predicted_vs_actual")?,
    );
    Ok(())
}
