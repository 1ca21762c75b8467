//! The lab's plots, drawn from its report and the data it was computed on.

use crate::report::Report;
use anyhow::Result;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use wb_lab::Lab;
use wb_plot::{DecisionRegions, LinePlot, Series};
use week05_trees::regularized::{Penalty, coordinate_descent};
use week05_trees::tree::{Criterion, DecisionTree, Targets, TreeParams};

/// Overfitting against depth, a depth-3 tree's regions on two iris features, boosting's loss,
/// and the lasso path on the standardised diabetes features `dz` (target `dy`).
pub fn save(
    lab: &mut Lab,
    report: &Report,
    criterion: Criterion,
    dz: ArrayView2<f64>,
    dy: ArrayView1<f64>,
) -> Result<()> {
    let alphas: Vec<f64> = (0..40)
        .map(|k| 10f64.powf(-2.0 + 4.5 * k as f64 / 39.0))
        .collect();
    let path_fits = alphas
        .iter()
        .map(|&a| coordinate_descent(dz, dy, Penalty::Lasso, a, 10_000, 1e-9))
        .collect::<Result<Vec<_>, _>>()?;

    lab.saved(
        LinePlot::new(
            "Accuracy against tree depth: overfitting",
            "maximum depth",
            "accuracy",
        )
        .series(Series::new(
            "training rows",
            report
                .depth_sweep
                .iter()
                .map(|s| (s.depth as f64, s.train_accuracy))
                .collect(),
        ))
        .series(Series::new(
            "test rows",
            report
                .depth_sweep
                .iter()
                .map(|s| (s.depth as f64, s.test_accuracy))
                .collect(),
        ))
        .save(lab.plots_dir(), "depth_sweep")?,
    );
    let (iris, species) =
        wb_data::read_labelled_csv(&wb_data::dataset("tabular/iris.csv")?, "species")?;
    let mut names = species.clone();
    names.sort();
    names.dedup();
    let iy: Vec<usize> = species
        .iter()
        .map(|s| names.iter().position(|n| n == s).unwrap_or(0))
        .collect();
    let petals = iris.data.select(Axis(1), &[2, 3]);
    let iris_tree = DecisionTree::fit(
        petals.view(),
        &Targets::Classes {
            y: &iy,
            n_classes: 3,
        },
        &TreeParams {
            max_depth: Some(3),
            criterion,
            ..TreeParams::default()
        },
    )?;
    let (xr, yr, cells) = ((0.8, 7.2), (0.0, 2.6), (120, 80));
    let centres = DecisionRegions::cell_centres(xr, yr, cells);
    let grid = Array2::from_shape_fn((centres.len(), 2), |(k, j)| {
        if j == 0 { centres[k].0 } else { centres[k].1 }
    });
    let regions = iris_tree.predict_class(grid.view())?;
    let mut boundary = DecisionRegions::new(
        "Decision regions of a depth-3 tree on two iris features",
        "petal length (cm)",
        "petal width (cm)",
        xr,
        yr,
        cells,
        regions,
    )
    .classes(names.clone());
    for i in 0..petals.nrows() {
        boundary = boundary.point(petals[[i, 0]], petals[[i, 1]], iy[i]);
    }
    lab.saved(boundary.save(lab.plots_dir(), "decision_regions")?);
    lab.saved(
        LinePlot::new(
            "Gradient boosting: training loss per round",
            "boosting round",
            "training MSE",
        )
        .series(Series::new(
            "depth-3 trees, learning rate 0.05",
            report
                .boosting
                .train_mse
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as f64, v))
                .collect(),
        ))
        .save(lab.plots_dir(), "boosting_loss")?,
    );
    let mut path_plot = LinePlot::new(
        "Lasso path on diabetes (standardised features)",
        "log10(α)",
        "coefficient",
    );
    for (j, n) in report.diabetes_features.iter().enumerate() {
        path_plot = path_plot.series(Series::new(
            n.clone(),
            alphas
                .iter()
                .zip(&path_fits)
                .map(|(a, f)| (a.log10(), f.weights[j]))
                .collect(),
        ));
    }
    lab.saved(path_plot.save(lab.plots_dir(), "lasso_path")?);

    Ok(())
}
