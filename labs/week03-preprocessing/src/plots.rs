//! The lab's plots.

use anyhow::Result;
use wb_lab::Lab;
use wb_plot::{Histogram, LinePlot, Series};

/// The sample means of the central-limit experiment (`(n, means)` for each sample size), the
/// ages of two groups of passengers, and the training log-loss of logistic regression.
pub fn save(
    lab: &mut Lab,
    clt: &[(usize, Vec<f64>)],
    by_outcome: &[(&str, Vec<f64>); 2],
    losses: &[f64],
    learning_rate: f64,
) -> Result<()> {
    let sd30 = 1.0 / (30f64).sqrt();
    let normal: Vec<(f64, f64)> = (0..=120)
        .map(|k| {
            let x = k as f64 * 3.0 / 120.0;
            (
                x,
                (-(x - 1.0).powi(2) / (2.0 * sd30 * sd30)).exp()
                    / (sd30 * (2.0 * std::f64::consts::PI).sqrt()),
            )
        })
        .collect();
    let mut hist = Histogram::new(
        "Central limit theorem: means of n draws from a skewed distribution",
        "sample mean of n draws from Exponential(1)",
        "density",
    )
    .bins(60)
    .range(0.0, 3.0)
    .density(true);
    for (s, m) in clt {
        hist = hist.sample(format!("n = {s}"), m.clone());
    }
    lab.saved(
        hist.curve(Series::new("normal density, mean 1, sd 1/√30", normal))
            .save(lab.plots_dir(), "clt")?,
    );
    lab.saved(
        Histogram::new(
            "Age of the passengers, by outcome",
            "age (years)",
            "passengers",
        )
        .bins(40)
        .sample(by_outcome[0].0, by_outcome[0].1.clone())
        .sample(by_outcome[1].0, by_outcome[1].1.clone())
        .save(lab.plots_dir(), "age_by_outcome")?,
    );
    let curve: Vec<(f64, f64)> = losses
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as f64, l))
        .collect();
    lab.saved(
        LinePlot::new(
            "Logistic regression: training log-loss",
            "gradient-descent iteration",
            "log-loss",
        )
        .series(Series::new(
            format!("learning rate {}", learning_rate),
            curve,
        ))
        .save(lab.plots_dir(), "training_loss")?,
    );
    Ok(())
}
