//! The lab's plots, drawn from its report.

use crate::report::Report;
use anyhow::Result;
use wb_lab::Lab;
use wb_plot::{Histogram, LegendPosition, LinePlot, Series};

/// How often each drift test fires against the share of new-era traffic; the groundedness scores
/// of the planted answers by kind; the service's latencies.
pub fn save(lab: &mut Lab, report: &Report) -> Result<()> {
    let line = |f: fn(&week27_llm_monitoring::sets::FireRates) -> f64| -> Vec<(f64, f64)> {
        report
            .drift
            .iter()
            .map(|r| (100.0 * r.share, 100.0 * f(r)))
            .collect()
    };
    let alpha = 100.0 * report.study.alpha;
    lab.saved(
        LinePlot::new(
            "Drift tests against the share of 1997–2021 prompts in the window",
            "share of new-era prompts in the current window (%)",
            "windows in which the test fires (%)",
        )
        .series(Series::new(
            "KS on prompt length (p < 0.05)",
            line(|r| r.ks),
        ))
        .series(Series::new("PSI on prompt length (> 0.2)", line(|r| r.psi)))
        .series(Series::new(
            "MMD on MiniLM embeddings (p < 0.05)",
            line(|r| r.mmd),
        ))
        .series(
            Series::new(
                "α = 5 % (the false-alarm rate KS and MMD promise)",
                vec![(0.0, alpha), (100.0, alpha)],
            )
            .dashed(),
        )
        .markers(true)
        .y_range(0.0, 100.0)
        .legend(LegendPosition::UpperLeft)
        .save(lab.plots_dir(), "drift")?,
    );
    let p = &report.planted;
    let by = |scores: &[f64], hallucination: bool| -> Vec<f64> {
        scores
            .iter()
            .zip(&p.kinds)
            .filter(|(_, k)| {
                (k.as_str() != "grounded" && k.as_str() != "neighbour") == hallucination
            })
            .map(|(s, _)| *s)
            .collect()
    };
    lab.saved(
        Histogram::new(
            "Lexical groundedness of planted answers",
            "least supported claim's share of words in the context",
            "answers",
        )
        .sample(
            "grounded (the gold sentence or a neighbouring clause)",
            by(&p.lexical, false),
        )
        .sample("planted hallucinations", by(&p.lexical, true))
        .bins(20)
        .range(0.0, 1.0)
        .save(lab.plots_dir(), "groundedness")?,
    );
    lab.saved(
        Histogram::new(
            "Semantic groundedness of planted answers",
            "least similar claim's best cosine to a context sentence",
            "answers",
        )
        .sample(
            "grounded (the gold sentence or a neighbouring clause)",
            by(&p.semantic, false),
        )
        .sample("planted hallucinations", by(&p.semantic, true))
        .bins(20)
        .range(0.0, 1.0)
        .save(lab.plots_dir(), "semantic")?,
    );
    Ok(())
}
