//! The lab's plots, drawn from its report.

use crate::report::Report;
use anyhow::Result;
use wb_lab::Lab;
use wb_plot::{LegendPosition, LinePlot, Panels, Series};

/// How often a canary is rolled back against the size of its fault (errors, latency), with the
/// false-rollback rate of an identical canary; and the gate's verdicts against the planted bug.
pub fn save(lab: &mut Lab, report: &Report) -> Result<()> {
    let noise = report
        .scenarios
        .iter()
        .find(|s| s.kind == "identical")
        .map_or(0.0, |s| 100.0 * s.rolled_back);
    let curve = |kind: &str| -> Vec<(f64, f64)> {
        std::iter::once((0.0, noise))
            .chain(
                report
                    .scenarios
                    .iter()
                    .filter(|s| s.kind == kind)
                    .map(|s| (s.size, 100.0 * s.rolled_back)),
            )
            .collect()
    };
    let max = |kind: &str| {
        report
            .scenarios
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.size)
            .fold(0.0, f64::max)
    };
    let panel = |title: &str, x: &str, kind: &str, margin: f64| {
        LinePlot::new(title, x, "rollouts rolled back (%)")
            .series(Series::new("simulated rollouts", curve(kind)))
            .series(
                Series::new("the policy's margin", vec![(margin, 0.0), (margin, 100.0)]).dashed(),
            )
            .series(
                Series::new(
                    "union bound on false rollbacks (6 %)",
                    vec![(0.0, 6.0), (max(kind), 6.0)],
                )
                .dashed(),
            )
            .markers(true)
            .y_range(0.0, 100.0)
            .legend(LegendPosition::LowerRight)
    };
    let p = &report.policy;
    lab.saved(
        Panels::new(
            "Canary rollbacks against the size of the fault (0: an identical canary)",
            2,
        )
        .panel_size(520, 400)
        .line(panel(
            "More errors (stable: 1 %)",
            "canary's extra errors (percentage points)",
            "errors",
            100.0 * p.error_margin,
        ))
        .line(panel(
            "Slower answers (stable: 20 ms median)",
            "canary's extra latency (ms)",
            "latency",
            p.latency_margin_ms,
        ))
        .save(lab.plots_dir(), "rollbacks")?,
    );
    let points: Vec<(f64, f64)> = report
        .gates
        .iter()
        .map(|g| (100.0 * g.plant, g.delta))
        .collect();
    let top = report
        .gates
        .iter()
        .map(|g| 100.0 * g.plant)
        .fold(0.0, f64::max);
    lab.saved(
        LinePlot::new(
            "The gate: candidates against production (validation log loss)",
            "training labels flipped in the candidate (%)",
            "candidate's loss − production's",
        )
        .points(Series::new("candidates (0 %: an honest retrain)", points))
        .series(
            Series::new(
                "the gate's threshold (from 8 retrains)",
                vec![(0.0, report.noise.threshold), (top, report.noise.threshold)],
            )
            .dashed(),
        )
        .legend(LegendPosition::UpperLeft)
        .save(lab.plots_dir(), "gate")?,
    );
    Ok(())
}
