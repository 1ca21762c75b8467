//! The lab's plots, drawn from its report: the caches against their threshold, the cascade's
//! cost against its accuracy, and the fallback chain through an outage.

use crate::report::Report;
use anyhow::Result;
use wb_lab::Lab;
use wb_plot::{LegendPosition, LinePlot, Series};

pub fn save(lab: &mut Lab, report: &Report) -> Result<()> {
    // 1. The caches.
    let c = &report.caches;
    let at = |pick: fn(&week31_cost_routing::trace::Replay) -> f64| {
        c.semantic
            .iter()
            .map(|(t, r)| (*t, 100.0 * pick(r)))
            .collect::<Vec<_>>()
    };
    let (lo, hi) = (
        c.semantic.first().map_or(0.0, |s| s.0),
        c.semantic.last().map_or(1.0, |s| s.0),
    );
    lab.saved(
        LinePlot::new(
            &format!("Exact + semantic cache on {} replayed requests", c.trace),
            "semantic threshold (least MiniLM cosine similarity counted as the same question)",
            "%",
        )
        .markers(true)
        .y_range(0.0, 100.0)
        .x_range(lo - 0.02, hi + 0.01)
        .legend(LegendPosition::UpperRight)
        .series(Series::new(
            "requests answered from the cache (% of requests)",
            at(|r| r.hit_rate()),
        ))
        .series(Series::new(
            "another question's answer (% of cache answers)",
            at(|r| r.false_hit_rate()),
        ))
        .series(
            Series::new(
                "exact cache alone: answered",
                vec![
                    (lo, 100.0 * c.exact.hit_rate()),
                    (hi, 100.0 * c.exact.hit_rate()),
                ],
            )
            .dashed(),
        )
        .save(lab.plots_dir(), "caches")?,
    );

    // 2. The cascade.
    let points: Vec<(f64, f64)> = report
        .cascade
        .iter()
        .filter(|r| !r.fraction.is_nan())
        .map(|r| (r.cost_per_1000 / 1e9, 100.0 * r.accuracy))
        .collect();
    let alone: Vec<(f64, f64)> = report
        .cascade
        .iter()
        .filter(|r| r.fraction.is_nan())
        .map(|r| (r.cost_per_1000 / 1e9, 100.0 * r.accuracy))
        .collect();
    lab.saved(
        LinePlot::new(
            "The cascade: naive Bayes, then SmolLM2 for the least confident",
            "dollars per 1,000 e-mails (SmolLM2 at week 24's list price)",
            "accuracy (%)",
        )
        .markers(true)
        .x_range(
            -0.001,
            report
                .cascade
                .iter()
                .map(|r| r.cost_per_1000 / 1e9)
                .fold(0.0, f64::max)
                * 1.05,
        )
        .legend(LegendPosition::LowerLeft)
        .series(Series::new(
            "cascade: 0 %, 5 %, … 100 % of e-mails escalated (left to right)",
            points,
        ))
        .points(Series::new("SmolLM2 alone", alone))
        .save(lab.plots_dir(), "cascade")?,
    );

    // 3. The fallback chain.
    let f = &report.fallback;
    let mut chain = LinePlot::new(
        &format!(
            "Fallbacks: SmolLM2 down for requests {}–{}, naive Bayes for {}–{}",
            f.down_from,
            f.down_to - 1,
            f.nb_down_from,
            f.nb_down_to - 1
        ),
        "request (one a second)",
        "backend: 0 SmolLM2, 1 naive Bayes, 2 static answer",
    )
    .x_range(-1.0, f.requests as f64)
    // Room above the rows for the legend.
    .y_range(-0.5, 3.6)
    .legend(LegendPosition::UpperRight);
    for (b, (name, _)) in f.by_backend.iter().enumerate() {
        chain = chain.points(Series::new(
            format!("answered by {name}"),
            f.timeline
                .iter()
                .filter(|(_, k)| *k == b)
                .map(|&(i, k)| (i as f64, k as f64))
                .collect(),
        ));
    }
    // The failed calls, half a step below their backend's row.
    chain = chain.points(Series::new(
        "a call that failed (below its backend's row); a breaker skips the rest",
        f.failed
            .iter()
            .map(|&(i, k)| (i as f64, k as f64 - 0.25))
            .collect(),
    ));
    lab.saved(chain.save(lab.plots_dir(), "fallback")?);
    Ok(())
}
