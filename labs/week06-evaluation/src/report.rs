//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub binary: Binary,
    pub multiclass: Multiclass,
    pub regression: Regression,
    pub folds: usize,
    pub cross_validation: Vec<CvScheme>,
}

#[derive(Serialize)]
pub struct Binary {
    pub n_test: usize,
    pub confusion_matrix: Vec<Vec<usize>>,
    pub precision_malignant: f64,
    pub recall_malignant: f64,
    pub f1_malignant: f64,
    pub auc_trapezoid: f64,
    pub auc_rank: f64,
    pub average_precision: f64,
    pub log_loss: f64,
    pub roc_thresholds: usize,
    #[serde(skip)]
    pub metrics_ms: f64,
}

#[derive(Serialize)]
pub struct Multiclass {
    pub n_test: usize,
    pub classes: Vec<String>,
    pub confusion_matrix: Vec<Vec<usize>>,
    pub averages: Vec<Averaged>,
}

#[derive(Serialize)]
pub struct Averaged {
    pub average: &'static str,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

#[derive(Serialize)]
pub struct Regression {
    pub mae: f64,
    pub rmse: f64,
    pub r2: f64,
}

#[derive(Serialize)]
pub struct CvScheme {
    pub scheme: &'static str,
    pub auc: Vec<f64>,
    pub positive_share: Vec<f64>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.binary;
        writeln!(
            f,
            "1. Breast cancer, logistic regression, {} test rows (positive = malignant)",
            b.n_test
        )?;
        let cm = &b.confusion_matrix;
        writeln!(f, "   confusion matrix (rows: truth, columns: prediction)")?;
        writeln!(f, "   {:>16} {:>9} {:>10}", "", "benign", "malignant")?;
        writeln!(f, "   {:>16} {:>9} {:>10}", "benign", cm[0][0], cm[0][1])?;
        writeln!(f, "   {:>16} {:>9} {:>10}", "malignant", cm[1][0], cm[1][1])?;
        writeln!(
            f,
            "   malignant: precision {:.3}, recall {:.3}, F1 {:.3}",
            b.precision_malignant, b.recall_malignant, b.f1_malignant
        )?;
        writeln!(
            f,
            "   ROC AUC {:.4} by trapezoids = {:.4} by ranks; average precision {:.4}; log loss {:.4}",
            b.auc_trapezoid, b.auc_rank, b.average_precision, b.log_loss
        )?;
        writeln!(
            f,
            "   ({} thresholds on the ROC curve; the metrics took {:.2} ms)\n",
            b.roc_thresholds, b.metrics_ms
        )?;
        let m = &self.multiclass;
        writeln!(
            f,
            "2. Wine, three classes, multinomial logistic regression, {} test rows",
            m.n_test
        )?;
        for (n, row) in m.classes.iter().zip(&m.confusion_matrix) {
            writeln!(f, "   class {n}: {row:?}")?;
        }
        for a in &m.averages {
            let (n, p, r, f1) = (a.average, a.precision, a.recall, a.f1);
            writeln!(f, "   {n:<9} precision {p:.3}  recall {r:.3}  F1 {f1:.3}")?;
        }
        writeln!(
            f,
            "   (micro averages pool all decisions: for single-label data they all equal the accuracy)\n"
        )?;
        let r = &self.regression;
        writeln!(
            f,
            "3. Regression, diabetes, least squares: MAE {:.2}, RMSE {:.2}, R² {:.3}\n",
            r.mae, r.rmse, r.r2
        )?;
        writeln!(
            f,
            "4. {}-fold cross-validation of the breast-cancer model (ROC AUC per fold)",
            self.folds
        )?;
        for cv in &self.cross_validation {
            let n = cv.auc.len() as f64;
            let mean = cv.auc.iter().sum::<f64>() / n;
            let sd = (cv.auc.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let aucs: Vec<String> = cv.auc.iter().map(|v| format!("{v:.3}")).collect();
            let shares: Vec<String> = cv
                .positive_share
                .iter()
                .map(|v| format!("{:.0}%", 100.0 * v))
                .collect();
            writeln!(
                f,
                "   {:<18} AUC {}  mean {mean:.4} ± {sd:.4}",
                cv.scheme,
                aucs.join(" ")
            )?;
            writeln!(
                f,
                "   {:<18} malignant share per test fold: {}",
                "",
                shares.join(" ")
            )?;
        }
        writeln!(
            f,
            "   Stratification keeps each fold's share of malignant tumours at the data set's 37%."
        )
    }
}
