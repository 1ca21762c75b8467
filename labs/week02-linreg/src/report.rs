//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub data: String,
    pub target: String,
    pub seed: u64,
    pub test_fraction: f64,
    pub n_rows: usize,
    pub n_train: usize,
    pub n_test: usize,
    pub features: Vec<String>,
    pub correlation_with_target: Vec<Option<f64>>,
    pub normal_equations: NormalEquations,
    pub gradient_check: GradientCheck,
    pub gradient_descent: Descent,
    pub minibatch_sgd: Descent,
    pub raw_features_gradient_descent: Descent,
}

#[derive(Serialize)]
pub struct NormalEquations {
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    pub train_mse: f64,
    pub train_r2: f64,
    pub eval_set: &'static str,
    pub eval: Eval,
    #[serde(skip)]
    pub ms: f64,
}

#[derive(Serialize)]
pub struct Eval {
    pub mse: f64,
    pub mae: f64,
    pub huber: f64,
    pub huber_delta: f64,
    pub r2: f64,
}

#[derive(Serialize)]
pub struct GradientCheck {
    pub relative_error: f64,
    pub h: f64,
}

/// One gradient-descent run: batch GD, mini-batch SGD or GD on raw features.
#[derive(Serialize)]
pub struct Descent {
    pub learning_rate: f64,
    /// Iterations (batch GD) or epochs (SGD).
    pub passes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// In raw units.
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    pub final_train_mse: f64,
    pub relative_gap_to_optimum: f64,
    #[serde(rename = "passes_to_within_1e-3")]
    pub passes_to_within_1e_3: Option<usize>,
    pub losses: Vec<f64>,
    #[serde(skip)]
    pub ms: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = &self.features;
        let width = names.iter().map(|n| n.len()).max().unwrap_or(4).max(9);
        writeln!(
            f,
            "Data: {} ({} rows, {} features, predicting `{}`)",
            self.data,
            self.n_rows,
            names.len(),
            self.target
        )?;
        writeln!(
            f,
            "Split (seed {}): {} training rows, {} test rows{}\n",
            self.seed,
            self.n_train,
            self.n_test,
            if self.n_test == 0 {
                " (test fraction 0: everything below is on the training rows)"
            } else {
                ""
            }
        )?;

        let exact = &self.normal_equations;
        writeln!(
            f,
            "1. Normal equations: solve (XᵀX) w = Xᵀy once, no iterations ({:.2} ms)",
            exact.ms
        )?;
        writeln!(
            f,
            "   {:<width$}  {:>12}  {:>12}",
            "feature", "coefficient", "corr. with y"
        )?;
        let rows = names.iter().zip(&exact.coefficients);
        for ((name, w), c) in rows.zip(&self.correlation_with_target) {
            let c = c.map_or("—".to_string(), |c| format!("{c:+.3}"));
            writeln!(f, "   {name:<width$}  {w:>12.4}  {c:>12}")?;
        }
        writeln!(f, "   {:<width$}  {:>12.4}", "intercept", exact.intercept)?;
        writeln!(
            f,
            "   Training MSE {:.2} (the lowest any linear model can reach), R² {:.3}",
            exact.train_mse, exact.train_r2
        )?;
        let e = &exact.eval;
        writeln!(
            f,
            "   On the {} set: MSE {:.2}, MAE {:.2}, Huber(δ={}) {:.2}, R² {:.3}",
            exact.eval_set, e.mse, e.mae, e.huber_delta, e.huber, e.r2
        )?;
        writeln!(
            f,
            "   (MSE punishes big misses most; MAE is in the target's own units; Huber is in between.)\n"
        )?;

        let rel = self.gradient_check.relative_error;
        writeln!(
            f,
            "2. Gradient check: analytic ∂MSE/∂(w, b) against central differences"
        )?;
        writeln!(
            f,
            "   relative error {rel:.1e} — {}\n",
            if rel < 1e-6 {
                "the analytic gradient is right"
            } else {
                "SUSPICIOUS: above 1e-6"
            }
        )?;

        let reach = |d: &Descent, unit: &str| {
            d.passes_to_within_1e_3
                .map_or(format!("not reached in {} {unit}", d.passes), |k| {
                    format!("reached after {k} {unit}")
                })
        };
        let gd = &self.gradient_descent;
        writeln!(
            f,
            "3. Batch gradient descent, standardised features, lr {}, {} iterations ({:.1} ms)",
            gd.learning_rate, gd.passes, gd.ms
        )?;
        writeln!(
            f,
            "   final training MSE {:.2}, {:.3}% above the optimum; within 0.1%: {}",
            gd.final_train_mse,
            100.0 * gd.relative_gap_to_optimum,
            reach(gd, "iterations")
        )?;
        // Where the valley is flattest, the loss hardly changes while the coefficients still move.
        let (worst, _) = gd
            .coefficients
            .iter()
            .zip(&exact.coefficients)
            .map(|(a, b)| (a - b).abs())
            .enumerate()
            .fold(
                (0, 0.0_f64),
                |best, cur| if cur.1 > best.1 { cur } else { best },
            );
        writeln!(
            f,
            "   coefficients (back in raw units): furthest from the normal equations is `{}`, {:.3} instead of {:.3}",
            names[worst], gd.coefficients[worst], exact.coefficients[worst]
        )?;
        writeln!(
            f,
            "   (correlated features make a flat valley floor: the loss is nearly optimal while"
        )?;
        writeln!(f, "   some coefficients are still drifting along it)\n")?;

        let sgd = &self.minibatch_sgd;
        let batch = sgd.batch_size.unwrap_or(0);
        writeln!(
            f,
            "4. Mini-batch SGD, batch {batch}, lr {}, {} epochs ({:.1} ms)",
            sgd.learning_rate, sgd.passes, sgd.ms
        )?;
        writeln!(
            f,
            "   final training MSE {:.2}, {:.2}% above the optimum; within 0.1%: {}",
            sgd.final_train_mse,
            100.0 * sgd.relative_gap_to_optimum,
            reach(sgd, "epochs")
        )?;
        writeln!(
            f,
            "   (each step sees {batch} rows, so its gradient is noisy: SGD gets near the bottom fast,"
        )?;
        writeln!(
            f,
            "   then hovers there unless the learning rate is lowered)\n"
        )?;

        let raw = &self.raw_features_gradient_descent;
        writeln!(
            f,
            "5. Why scale features? The same gradient descent on raw features"
        )?;
        writeln!(
            f,
            "   largest learning rate (of 1e-1, 1e-2, …) that does not diverge: {:e}",
            raw.learning_rate
        )?;
        writeln!(
            f,
            "   after {} iterations: training MSE {:.1}, {:.1}% above the optimum (standardised: {:.3}%)",
            raw.passes,
            raw.final_train_mse,
            100.0 * raw.relative_gap_to_optimum,
            100.0 * gd.relative_gap_to_optimum
        )?;
        writeln!(
            f,
            "   Raw features on very different scales make a long, narrow valley: a step that is safe"
        )?;
        writeln!(
            f,
            "   for the steepest direction barely moves along the flattest one."
        )
    }
}
