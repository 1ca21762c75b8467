//! The lab's plots, drawn from its report.

use crate::report::Report;
use anyhow::Result;
use wb_lab::Lab;
use wb_plot::{LegendPosition, LinePlot, Series};
use week25_lifecycle::stats;

/// Peeking (false positives against looks), the power curve of the planned test, and the
/// sensitivity of interleaving against A/B.
pub fn save(lab: &mut Lab, report: &Report) -> Result<()> {
    let sim: Vec<(f64, f64)> = report
        .peeking
        .iter()
        .map(|r| (r.looks as f64, 100.0 * r.simulated))
        .collect();
    let theory: Vec<(f64, f64)> = report
        .peeking
        .iter()
        .map(|r| (r.looks as f64, 100.0 * r.theory))
        .collect();
    let looks = report.peeking.len() as f64;
    lab.saved(
        LinePlot::new(
            "Peeking at an A/A test: stop at the first p < 0.05",
            "looks at the data (one every 500 users per arm)",
            "false-positive rate (%)",
        )
        .series(Series::new("theory (Brownian motion, integrated)", theory))
        .points(Series::new(
            format!("simulated ({} A/A tests)", report.experiments),
            sim,
        ))
        .series(Series::new("α = 5 % (one look)", vec![(1.0, 5.0), (looks, 5.0)]).dashed())
        .y_range(0.0, 30.0)
        .legend(LegendPosition::LowerRight)
        .save(lab.plots_dir(), "peeking")?,
    );

    let on = &report.online;
    let n_max = (3 * on.needed_for_true.max(on.planned_per_arm)) as f64;
    let curve = |p: [f64; 2]| -> Result<Vec<(f64, f64)>> {
        (1..=120)
            .map(|i| {
                let n = (n_max * i as f64 / 120.0).ceil().max(1.0);
                Ok((n, stats::power(p[0], p[1], n as u64, 0.05)?))
            })
            .collect()
    };
    let planned = on.planned_per_arm as f64;
    lab.saved(
        LinePlot::new(
            "Power of the A/B test: v2 against v1 on churn",
            "users per arm",
            "chance to detect the difference at α = 0.05",
        )
        .series(Series::new(
            format!(
                "offline projection ({:+.2} points)",
                100.0 * (on.projected_churn[1] - on.projected_churn[0])
            ),
            curve(on.projected_churn)?,
        ))
        .series(Series::new(
            format!(
                "true effect in the simulated world ({:+.2} points)",
                100.0 * (on.expected_churn[1] - on.expected_churn[0])
            ),
            curve(on.expected_churn)?,
        ))
        .series(Series::new("planned sample size", vec![(planned, 0.0), (planned, 1.0)]).dashed())
        .series(Series::new("power 0.8", vec![(0.0, 0.8), (n_max, 0.8)]).dashed())
        .y_range(0.0, 1.0)
        .legend(LegendPosition::LowerRight)
        .save(lab.plots_dir(), "power")?,
    );

    let pts = |f: fn(&week25_lifecycle::online::Sensitivity) -> f64| {
        report
            .sensitivity
            .iter()
            .map(|s| (s.sessions as f64, f(s)))
            .collect::<Vec<_>>()
    };
    lab.saved(
        LinePlot::new(
            "Finding the better call-list ranking: interleaving vs A/B",
            "call sessions (log scale)",
            "share of experiments that find v2 better (p < 0.05)",
        )
        .series(Series::new(
            "interleaving (team draft)",
            pts(|s| s.interleaving_power),
        ))
        .series(Series::new(
            "A/B test (half the sessions each)",
            pts(|s| s.ab_power),
        ))
        .markers(true)
        .log_x(true)
        .y_range(0.0, 1.0)
        .legend(LegendPosition::LowerRight)
        .save(lab.plots_dir(), "interleaving")?,
    );
    Ok(())
}
