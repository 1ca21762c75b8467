//! The rollback under load, drawn: every request's latency against the moment it was sent,
//! coloured by the version that answered it, with the instants the rollback was asked for and
//! acknowledged.

use anyhow::Result;
use std::path::{Path, PathBuf};
use wb_plot::{LinePlot, Series};
use week32_production_system::load::LoadReport;

/// Writes `rollback.png` and `rollback.svg` into `dir`.
pub fn rollback(dir: &Path, r: &LoadReport) -> Result<Vec<PathBuf>> {
    let mut versions: Vec<i64> = r.by_version.keys().copied().collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    let top = r.max_ms.max(1.0) * 1.05;
    let mut plot = LinePlot::new(
        "Rollback under load: each request's latency, by the version that answered",
        "time the request was sent (s)",
        "latency (ms)",
    )
    .y_range(0.0, top);
    if let Some(rb) = &r.rollback {
        let ask = rb.asked_ms / 1e3;
        let ack = rb.acked_ms / 1e3;
        plot = plot
            .series(Series::new("rollback asked", vec![(ask, 0.0), (ask, top)]).dashed())
            .series(Series::new(
                "rollback acknowledged",
                vec![(ack, 0.0), (ack, top)],
            ));
    }
    for v in versions {
        let points: Vec<(f64, f64)> = r
            .samples
            .iter()
            .filter(|s| s.version == Some(v))
            .map(|s| (s.sent_ms / 1e3, s.latency_ms))
            .collect();
        plot = plot.points(Series::new(format!("answered by version {v}"), points));
    }
    Ok(plot.save(dir, "rollback")?)
}
