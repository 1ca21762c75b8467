//! The lab's plots, drawn from its report and the data it was computed on.

use crate::report::{DegreeRow, Report};
use anyhow::Result;
use ndarray::{Array1, ArrayView1, ArrayView2};
use wb_lab::Lab;
use wb_plot::{LinePlot, ScatterPlot, Series};
use week04_supervised::bias_variance::{PolyModel, truth};

/// k-means' clusters (`labels` of the rows of `iris`), the degree sweep and the bias–variance
/// estimates, and polynomials fitted to the noisy sine points (`xs`, `ys`).
pub fn save(
    lab: &mut Lab,
    report: &Report,
    iris: ArrayView2<f64>,
    labels: &[usize],
    xs: ArrayView1<f64>,
    ys: ArrayView1<f64>,
) -> Result<()> {
    let x = iris;
    let noise = report.noise_sd;
    let max_degree = report.degree_sweep.last().map_or(1, |r| r.degree);
    let (pl, pw) = (2, 3); // petal length and width
    let mut scatter = ScatterPlot::new(
        "k-means on iris, without the labels (petal measurements)",
        "petal length (cm)",
        "petal width (cm)",
    );
    for c in 0..report.kmeans.k {
        let pts = (0..x.nrows())
            .filter(|&i| labels[i] == c)
            .map(|i| (x[[i, pl]], x[[i, pw]]))
            .collect();
        scatter = scatter.series(Series::new(format!("cluster {c}"), pts));
    }
    let cents = report
        .kmeans
        .centroids
        .iter()
        .map(|c| (c[pl], c[pw]))
        .collect();
    lab.saved(
        scatter
            .series(Series::new("centroids", cents))
            .save(lab.plots_dir(), "kmeans_iris")?,
    );
    let curve = |f: &dyn Fn(&DegreeRow) -> f64| {
        report
            .degree_sweep
            .iter()
            .map(|s| (s.degree as f64, f(s)))
            .collect::<Vec<_>>()
    };
    lab.saved(
        LinePlot::new(
            "Training and test error against polynomial degree",
            "polynomial degree",
            "mean squared error (log scale)",
        )
        .series(Series::new("training error", curve(&|s| s.train_mse)))
        .series(Series::new("test error", curve(&|s| s.test_mse)))
        .series(Series::new(
            format!("noise variance ({noise}²)"),
            vec![(1.0, noise * noise), (max_degree as f64, noise * noise)],
        ))
        .log_y(true)
        .save(lab.plots_dir(), "degree_sweep")?,
    );
    lab.saved(
        LinePlot::new(
            "Bootstrap estimates of bias² and variance",
            "polynomial degree",
            "squared error (log scale)",
        )
        .series(Series::new(
            "bias²",
            report
                .bias_variance
                .iter()
                .map(|b| (b.degree as f64, b.bias2))
                .collect(),
        ))
        .series(Series::new(
            "variance",
            report
                .bias_variance
                .iter()
                .map(|b| (b.degree as f64, b.variance))
                .collect(),
        ))
        .series(Series::new(
            "bias² + variance",
            report
                .bias_variance
                .iter()
                .map(|b| (b.degree as f64, b.bias2 + b.variance))
                .collect(),
        ))
        .log_y(true)
        .save(lab.plots_dir(), "bias_variance")?,
    );
    let fine = Array1::linspace(0.0, 1.0, 200);
    let mut fits = LinePlot::new(
        &format!(
            "Polynomials fitted to {} noisy points of sin(2πx)",
            report.n_train_points
        ),
        "x",
        "y",
    )
    .points(Series::new(
        "training points",
        xs.iter().copied().zip(ys.iter().copied()).collect(),
    ));
    for d in [1, report.best_degree, max_degree] {
        let m = PolyModel::fit(xs, ys, d)?;
        let p = m.predict(fine.view())?;
        fits = fits.series(Series::new(
            format!("degree {d}"),
            fine.iter()
                .copied()
                .zip(p.iter().map(|v| v.clamp(-2.5, 2.5)))
                .collect(),
        ));
    }
    lab.saved(
        fits.series(Series::new(
            "truth sin(2πx)",
            fine.iter().map(|&v| (v, truth(v))).collect(),
        ))
        .save(lab.plots_dir(), "polynomial_fits")?,
    );

    Ok(())
}
