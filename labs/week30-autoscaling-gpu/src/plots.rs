//! The lab's plots, drawn from its report: the simulator against Erlang C, batching on one
//! replica, a traffic day under the policies, and their cost against their SLO attainment.

use crate::report::Report;
use anyhow::Result;
use wb_lab::Lab;
use wb_plot::{LegendPosition, LinePlot, Panels, Series};

pub fn save(lab: &mut Lab, report: &Report) -> Result<()> {
    // 1. Erlang C: theory as lines, the simulator as dots.
    let mut erlang = LinePlot::new(
        "Mean wait in M/M/c: Erlang C (lines) and the simulator (dots)",
        "utilisation ρ = λ / (cμ)",
        "mean wait in the queue (× mean service time)",
    )
    .log_y(true)
    .paired(true)
    .legend(LegendPosition::LowerRight);
    for c in [1, 4, 16] {
        let rows: Vec<_> = report.erlang.iter().filter(|r| r.replicas == c).collect();
        let theory: Vec<(f64, f64)> = (50..=90)
            .map(|k| {
                let rho = k as f64 / 100.0;
                let p = week30_autoscaling_gpu::erlang::mmc(rho * c as f64, 1.0, c)
                    .map_or(f64::NAN, |p| p.mean_wait);
                (rho, p)
            })
            .collect();
        erlang = erlang
            .series(Series::new(
                format!("{c} replica{}, Erlang C", if c == 1 { "" } else { "s" }),
                theory,
            ))
            .points(Series::new(
                format!("{c} replica{}, simulated", if c == 1 { "" } else { "s" }),
                rows.iter()
                    .map(|r| (r.utilisation, r.mean_wait_sim))
                    .collect(),
            ));
    }
    lab.saved(erlang.save(lab.plots_dir(), "erlang")?);

    // 2. Batching: time per call and requests per second against the batch size.
    let x = |b: usize| b as f64;
    lab.saved(
        Panels::new("Week 15's network behind its batcher, timed per call", 2)
            .panel_size(520, 380)
            .line(
                LinePlot::new("Time per call", "batch size", "milliseconds")
                    .log_x(true)
                    .markers(true)
                    .legend(LegendPosition::UpperLeft)
                    .series(
                        Series::new(
                            "p99",
                            report
                                .batcher
                                .iter()
                                .map(|r| (x(r.batch), r.p99_ms))
                                .collect(),
                        )
                        .dashed(),
                    )
                    .series(Series::new(
                        "p50",
                        report
                            .batcher
                            .iter()
                            .map(|r| (x(r.batch), r.p50_ms))
                            .collect(),
                    )),
            )
            .line(
                LinePlot::new(
                    "What one replica serves",
                    "batch size",
                    "requests per second",
                )
                .log_x(true)
                .markers(true)
                .legend(LegendPosition::UpperLeft)
                .series(Series::new(
                    "batch size / mean time per call",
                    report
                        .batcher
                        .iter()
                        .map(|r| (x(r.batch), r.per_second))
                        .collect(),
                )),
            )
            .save(lab.plots_dir(), "batching")?,
    );

    // 3. The day.
    let shown = [
        "fixed for the peak",
        "schedule (Erlang C, 15 min)",
        "HPA in-flight 0.8",
        "HPA CPU 70 %",
        "HPA in-flight, 180 s cold start",
    ];
    let timelines: Vec<_> = report
        .day
        .timelines
        .iter()
        .filter(|t| shown.contains(&t.policy.as_str()))
        .collect();
    let series = |pick: fn(&(f64, f64, f64, f64, f64)) -> f64| {
        timelines
            .iter()
            .map(|t| {
                let s = Series::new(
                    t.policy.clone(),
                    t.windows.iter().map(|w| (w.0, pick(w))).collect(),
                );
                if t.policy.starts_with("fixed") {
                    s.dashed()
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
    };
    let first = &report.day.timelines[0];
    let mut rate = LinePlot::new(
        "Traffic: arrivals per second (5-minute windows)",
        "hour of the day",
        "requests per second",
    )
    .series(Series::new(
        "arrivals",
        first.windows.iter().map(|w| (w.0, w.1)).collect(),
    ));
    rate = rate.x_ticks(12);
    let mut replicas = LinePlot::new(
        "Replicas paid for (average over each window)",
        "hour of the day",
        "replicas",
    )
    .x_ticks(12)
    .legend(LegendPosition::UpperLeft);
    for s in series(|w| w.2) {
        replicas = replicas.series(s);
    }
    let mut latency = LinePlot::new(
        "95th-percentile latency per window, against the 5 s SLO",
        "hour of the day",
        "seconds",
    )
    .x_ticks(12)
    .y_range(0.0, 25.0)
    .legend(LegendPosition::UpperLeft);
    for s in series(|w| w.3) {
        latency = latency.series(s);
    }
    latency = latency.series(Series::new("SLO (5 s)", vec![(0.0, 5.0), (24.0, 5.0)]).dashed());
    let mut queue = LinePlot::new(
        "Requests queued at each window's end",
        "hour of the day",
        "requests",
    )
    .x_ticks(12)
    .legend(LegendPosition::UpperLeft);
    for s in series(|w| w.4) {
        queue = queue.series(s);
    }
    lab.saved(
        Panels::new(
            "A traffic day of SmolLM2 requests under scaling policies",
            1,
        )
        .panel_size(1000, 300)
        .line(rate)
        .line(replicas)
        .line(latency)
        .line(queue)
        .save(lab.plots_dir(), "day")?,
    );

    // 4. Cost against SLO attainment.
    let below = report
        .day
        .policies
        .iter()
        .filter(|p| p.slo_attainment < 0.97);
    let below: Vec<String> = below
        .map(|p| {
            format!(
                "{}: {:.0} % in {:.0} replica-hours",
                p.policy,
                100.0 * p.slo_attainment,
                p.replica_hours
            )
        })
        .collect();
    let mut tradeoff = LinePlot::new(
        "Each policy's day: cost against SLO attainment",
        &format!(
            "replica-hours over the day (off the chart: {})",
            below.join("; ")
        ),
        "requests answered within 5 s (%)",
    )
    .legend(LegendPosition::LowerRight);
    let shown: Vec<_> = report
        .day
        .policies
        .iter()
        .filter(|p| p.slo_attainment >= 0.97)
        .collect();
    // Room around the dots at the ends, which would sit on the frame.
    let (lo, hi) = shown.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), p| {
        (lo.min(p.replica_hours), hi.max(p.replica_hours))
    });
    let pad = 0.05 * (hi - lo).max(1.0);
    tradeoff = tradeoff.x_range(lo - pad, hi + pad);
    for p in shown {
        tradeoff = tradeoff.points(Series::new(
            p.policy.clone(),
            vec![(p.replica_hours, 100.0 * p.slo_attainment)],
        ));
    }
    lab.saved(tradeoff.save(lab.plots_dir(), "tradeoff")?);
    Ok(())
}
