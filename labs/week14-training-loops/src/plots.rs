//! The lab's plots.

use crate::report::Speed;
use anyhow::Result;
use wb_lab::Lab;
use wb_plot::{LegendPosition, LinePlot, Series};
use wb_train::LrSchedule;
use week14_training_loops::tracking::RunSummary;

/// The learning-rate schedules over `total` steps, the tracked runs' validation accuracy, and
/// the matrix-product speed on the CPU (and the GPU, when there is one).
pub fn save(
    lab: &mut Lab,
    sched: &[(&str, LrSchedule)],
    total: usize,
    runs: &[RunSummary],
    cpu: &[Speed],
    gpu: &[Speed],
) -> Result<()> {
    let mut sp = LinePlot::new(
        "Learning-rate schedules over 1,000 steps (wb_train::LrSchedule)",
        "optimiser step",
        "learning rate",
    );
    for (name, s) in sched {
        sp = sp.series(Series::new(
            *name,
            (0..=total)
                .step_by(5)
                .map(|t| (t as f64, s.lr_at(t)))
                .collect(),
        ));
    }
    lab.saved(
        sp.legend(LegendPosition::UpperRight)
            .save(lab.plots_dir(), "schedules")?,
    );
    let mut tp = LinePlot::new(
        "Three runs compared from their metrics logs",
        "epoch",
        "validation accuracy (%)",
    );
    for r in runs {
        tp = tp.series(Series::new(
            format!("{} (best {:.1} %)", r.config.name, 100.0 * r.best),
            r.valid_accuracy
                .iter()
                .enumerate()
                .map(|(i, &a)| ((i + 1) as f64, 100.0 * a))
                .collect(),
        ));
    }
    lab.saved(
        tp.legend(LegendPosition::LowerRight)
            .save(lab.plots_dir(), "runs")?,
    );
    let mut gp = LinePlot::new(
        "f32 matrix product speed on this machine's CPU (candle)",
        "matrix size n (n × n times n × n)",
        "GFLOP/s",
    )
    .series(Series::new(
        "CPU",
        cpu.iter().map(|s| (s.n as f64, s.gflops)).collect(),
    ));
    if !gpu.is_empty() {
        gp = gp.series(Series::new(
            "GPU",
            gpu.iter().map(|s| (s.n as f64, s.gflops)).collect(),
        ));
    }
    lab.saved(
        gp.markers(true)
            .legend(LegendPosition::LowerRight)
            .save(lab.plots_dir(), "gflops")?,
    );

    Ok(())
}
