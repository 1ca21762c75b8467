//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub seed: u64,
    pub kmeans: Clustering,
    pub linear_regression: Linear,
    pub logistic_regression: Logistic,
    pub noise_sd: f64,
    pub n_train_points: usize,
    pub degree_sweep: Vec<DegreeRow>,
    pub best_degree: usize,
    pub bias_variance: Vec<BiasVariance>,
    #[serde(skip)]
    pub ms: Timings,
}

#[derive(Serialize)]
pub struct Clustering {
    pub k: usize,
    pub inertia: f64,
    pub iterations: usize,
    pub linfa_inertia_sum: f64,
    pub purity: f64,
    pub contingency: Vec<Vec<usize>>,
    pub species: Vec<String>,
    pub centroids: Vec<Vec<f64>>,
}

#[derive(Serialize)]
pub struct Linear {
    pub rows: usize,
    pub features: Vec<String>,
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

#[derive(Serialize)]
pub struct Logistic {
    pub n_train: usize,
    pub n_test: usize,
    pub test_accuracy: f64,
    pub baseline_accuracy: f64,
    pub baseline_says_malignant: bool,
}

#[derive(Serialize)]
pub struct DegreeRow {
    pub degree: usize,
    pub train_mse: f64,
    pub test_mse: f64,
}

#[derive(Serialize)]
pub struct BiasVariance {
    pub degree: usize,
    pub bias2: f64,
    pub variance: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let km = &self.kmeans;
        writeln!(
            f,
            "1. Unsupervised: k-means on the 150 iris flowers, species hidden (k = {}, 10 starts)",
            km.k
        )?;
        writeln!(
            f,
            "   from scratch (k-means++): inertia {:.4} after {} iterations ({:.1} ms)",
            km.inertia, km.iterations, self.ms.kmeans_ours
        )?;
        writeln!(
            f,
            "   linfa-clustering:         inertia {:.4} ({:.1} ms; linfa reports the mean, ×150 here)",
            km.linfa_inertia_sum, self.ms.kmeans_linfa
        )?;
        writeln!(f, "   Clusters against the species it never saw:")?;
        let header: String = km.species.iter().map(|n| format!("{n:>11}")).collect();
        writeln!(f, "   {:>10} {header}", "")?;
        for (c, row) in km.contingency.iter().enumerate() {
            let cells: String = row.iter().map(|v| format!("{v:>11}")).collect();
            writeln!(f, "   {:>10} {cells}", format!("cluster {c}"))?;
        }
        writeln!(
            f,
            "   purity {:.1}%: setosa stands apart; versicolor and virginica overlap, so some flowers",
            100.0 * km.purity
        )?;
        writeln!(
            f,
            "   land in the other's cluster. Clustering finds structure; it cannot know which structure you meant.\n"
        )?;

        let lin = &self.linear_regression;
        writeln!(f, "2. Supervised: the answers are in the data")?;
        writeln!(
            f,
            "   linfa-linear on diabetes ({} rows): ({:.2} ms)",
            lin.rows, self.ms.linear
        )?;
        for (n, c) in lin.features.iter().zip(&lin.coefficients) {
            write!(f, "   {n}={c:.3}")?;
        }
        writeln!(
            f,
            "\n   intercept {:.3} (the same least-squares fit as week 2's normal equations)",
            lin.intercept
        )?;
        let log = &self.logistic_regression;
        writeln!(
            f,
            "   linfa-logistic on breast cancer ({} training, {} test rows, standardised): test accuracy {:.1}% ({:.1} ms)",
            log.n_train,
            log.n_test,
            100.0 * log.test_accuracy,
            self.ms.logistic
        )?;
        writeln!(
            f,
            "   against {:.1}% for always answering \"{}\"\n",
            100.0 * log.baseline_accuracy,
            if log.baseline_says_malignant {
                "malignant"
            } else {
                "benign"
            }
        )?;

        let noise = self.noise_sd;
        writeln!(
            f,
            "3. Bias vs variance: polynomials fitted to {} noisy points of sin(2πx) (noise sd {noise})",
            self.n_train_points
        )?;
        writeln!(
            f,
            "   {:>6} {:>12} {:>12}",
            "degree", "train MSE", "test MSE"
        )?;
        for r in &self.degree_sweep {
            let mark = if r.degree == self.best_degree {
                "   ← lowest test error"
            } else {
                ""
            };
            let (d, a, b) = (r.degree, r.train_mse, r.test_mse);
            writeln!(f, "   {d:>6} {a:>12.4} {b:>12.4}{mark}")?;
        }
        writeln!(
            f,
            "   Training error only falls as the degree grows; test error falls, then rises: overfitting."
        )?;
        writeln!(
            f,
            "   Bootstrap (200 resamples of the training set), on 91 points of [0.05, 0.95]:"
        )?;
        writeln!(
            f,
            "   {:>6} {:>10} {:>10} {:>16}",
            "degree", "bias²", "variance", "bias² + variance"
        )?;
        for b in &self.bias_variance {
            writeln!(
                f,
                "   {:>6} {:>10.4} {:>10.4} {:>16.4}",
                b.degree,
                b.bias2,
                b.variance,
                b.bias2 + b.variance
            )?;
        }
        writeln!(
            f,
            "   Low degrees are wrong the same way every time (bias); high degrees are wrong differently"
        )?;
        writeln!(
            f,
            "   every time (variance) — past degree 8 so wildly that even their average drifts off."
        )?;
        writeln!(
            f,
            "   The noise ({:.2}) is the floor no model goes below.",
            noise * noise
        )
    }
}

#[derive(Default)]
pub struct Timings {
    pub kmeans_ours: f64,
    pub kmeans_linfa: f64,
    pub linear: f64,
    pub logistic: f64,
}
