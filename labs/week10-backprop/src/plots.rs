//! The lab's plots, drawn from its report.

use crate::report::Report;
use anyhow::Result;
use ndarray::array;
use wb_lab::Lab;
use wb_plot::{Field, LegendPosition, LinePlot, Panels, Series};
use week10_backprop::optim::rosenbrock;

/// The optimisers' paths on Rosenbrock, the gradient norms per layer, the digits loss.
pub fn save(lab: &mut Lab, report: &Report) -> Result<()> {
    // One panel per optimiser over log-spaced contour bands of f: on shared axes the six
    // paths hide one another in the valley.
    let levels = (-2..=6).map(|k| 10f64.powf(f64::from(k) / 2.0)).collect();
    let surface = Field::sample((-2.0, 1.6), (-0.6, 3.0), (144, 108), levels, |x, y| {
        rosenbrock(&array![x, y]).0
    });
    let mut rose = Panels::new(
        "Six optimisers on the Rosenbrock function, 5,000 steps from (−1.5, 2)",
        3,
    )
    .panel_size(400, 340);
    for run in &report.rosenbrock {
        rose = rose.line(
            LinePlot::new(&run.optimizer, "x", "y")
                .field(surface.clone())
                .series(Series::new("path", run.path.clone()))
                .points(Series::new("minimum (1, 1)", vec![(1.0, 1.0)]))
                .endpoints(true)
                .legend(LegendPosition::LowerLeft),
        );
    }
    lab.saved(rose.save(lab.plots_dir(), "rosenbrock_paths")?);
    let mut vg = LinePlot::new(
        "Gradient norm per layer at initialisation, 20 layers of 64",
        "layer (1 = first)",
        "‖∂L/∂W‖ (log scale)",
    )
    .log_y(true);
    for g in &report.gradient_norms {
        let points = g.norms.iter().enumerate();
        let points = points.map(|(i, &v)| ((i + 1) as f64, v)).collect();
        vg = vg.series(Series::new(g.config, points));
    }
    lab.saved(vg.save(lab.plots_dir(), "gradient_norms")?);
    let loss_points = report.digits.losses.iter().enumerate();
    let loss_points = loss_points.map(|(i, &l)| ((i + 1) as f64, l)).collect();
    let loss_plot = LinePlot::new(
        "MLP 64-128-64-10 on digits: training loss",
        "epoch",
        "cross-entropy (log scale)",
    )
    .series(Series::new("Adam, lr 0.001, batch 32", loss_points))
    .log_y(true);
    lab.saved(loss_plot.save(lab.plots_dir(), "digits_loss")?);

    Ok(())
}
