//! The lab's plot, drawn from its report: what the kubelet's probes see as the scorer loads its
//! model, serves, and drains after SIGTERM.

use crate::report::Report;
use anyhow::Result;
use wb_lab::Lab;
use wb_plot::{LegendPosition, LinePlot, Panels, Series};

pub fn save(lab: &mut Lab, report: &Report) -> Result<()> {
    let event =
        |name: &str, ms: f64| Series::new(name, vec![(ms / 1e3, 0.0), (ms / 1e3, 1.0)]).dashed();
    let panel = |title: &str, pick: fn(&(f64, bool, bool)) -> bool, legend: LegendPosition| {
        // Drawn as steps: an answer holds until the next poll, which sees the change.
        let mut points: Vec<(f64, f64)> = Vec::new();
        for p in &report.timeline {
            let v = f64::from(u8::from(pick(p)));
            if let Some(&(_, before)) = points.last()
                && before != v
            {
                points.push((p.0 / 1e3, before));
            }
            points.push((p.0 / 1e3, v));
        }
        LinePlot::new(
            title,
            "seconds since the process started",
            "answers 200 (1) or not (0)",
        )
        .series(Series::new(
            "the probe's answer, polled every 20 ms",
            points,
        ))
        .series(event(
            "first 200 from /readyz: the model is loaded",
            report.ready_after_ms,
        ))
        .series(event("SIGTERM: draining", report.drained_at_ms))
        .y_range(-0.1, 1.25)
        .legend(legend)
    };
    lab.saved(
        Panels::new(
            "The scorer's probes as it starts, loads its model and drains",
            1,
        )
        .panel_size(900, 260)
        .line(panel(
            "Liveness and startup (GET /healthz): the container is restarted when it fails",
            |p| p.1,
            LegendPosition::LowerLeft,
        ))
        .line(panel(
            "Readiness (GET /readyz): in the Service's endpoints only while it answers 200",
            |p| p.2,
            LegendPosition::UpperLeft,
        ))
        .save(lab.plots_dir(), "probes")?,
    );
    Ok(())
}
