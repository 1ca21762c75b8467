//! The lab's plots, drawn from its report and the curves it computed.

use crate::report::Report;
use anyhow::Result;
use wb_lab::Lab;
use wb_plot::{Heatmap, LinePlot, Series};
use week06_evaluation::curves::Curve;

/// The ROC and precision–recall curves of the binary scorer (`positives`: the share of
/// positive test rows, the precision of chance) and the wine confusion matrix.
pub fn save(lab: &mut Lab, report: &Report, roc: &Curve, pr: &Curve, positives: f64) -> Result<()> {
    lab.saved(
        LinePlot::new(
            "ROC curve: breast-cancer test rows",
            "false positive rate",
            "true positive rate (recall)",
        )
        .series(Series::new(
            format!(
                "logistic regression, AUC {:.3}",
                report.binary.auc_trapezoid
            ),
            roc.x.iter().copied().zip(roc.y.iter().copied()).collect(),
        ))
        .series(Series::new(
            "chance (AUC 0.5)",
            vec![(0.0, 0.0), (1.0, 1.0)],
        ))
        .legend(wb_plot::LegendPosition::LowerRight)
        .save(lab.plots_dir(), "roc_curve")?,
    );
    let base = positives;
    lab.saved(
        LinePlot::new(
            "Precision–recall curve: breast-cancer test rows",
            "recall",
            "precision",
        )
        .series(Series::new(
            format!(
                "logistic regression, AP {:.3}",
                report.binary.average_precision
            ),
            pr.x.iter().copied().zip(pr.y.iter().copied()).collect(),
        ))
        .series(Series::new(
            format!("chance (precision {base:.2})"),
            vec![(0.0, base), (1.0, base)],
        ))
        .legend(wb_plot::LegendPosition::LowerLeft)
        .save(lab.plots_dir(), "pr_curve")?,
    );
    let multi = &report.multiclass;
    let names: Vec<String> = multi.classes.iter().map(|n| format!("class {n}")).collect();
    lab.saved(
        Heatmap::new(
            "Confusion matrix: wine test rows",
            "predicted class",
            "true class",
            names.clone(),
            names,
            multi
                .confusion_matrix
                .iter()
                .map(|r| r.iter().map(|&v| v as f64).collect())
                .collect(),
        )
        .save(lab.plots_dir(), "confusion_matrix")?,
    );

    Ok(())
}
