//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub perceptron_separable: PerceptronRun,
    pub perceptron_xor: PerceptronRun,
    pub probe: [f64; 7],
    pub activations: Vec<ActivationRow>,
    #[serde(rename = "softmax_1000_999_-1000")]
    pub softmax: Vec<f64>,
    pub init: InitVariances,
    pub epochs: usize,
    pub mlp: Vec<MlpRow>,
    #[serde(skip)]
    pub mlps_ms: f64,
}

/// How a perceptron's training went.
#[derive(Serialize)]
pub struct PerceptronRun {
    pub epochs: usize,
    pub converged: bool,
    pub mistakes: Vec<usize>,
}

#[derive(Serialize)]
pub struct ActivationRow {
    pub name: &'static str,
    pub values: Vec<f64>,
    pub derivatives: Vec<f64>,
}

#[derive(Serialize)]
pub struct InitVariances {
    pub xavier_variance: f64,
    pub xavier_theory: f64,
    pub he_variance: f64,
    pub he_theory: f64,
}

#[derive(Serialize)]
pub struct MlpRow {
    pub data: &'static str,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub final_loss: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sep, stuck) = (&self.perceptron_separable, &self.perceptron_xor);
        writeln!(f, "1. The perceptron learning rule")?;
        writeln!(
            f,
            "   linearly separable points: converged after {} passes (mistakes per pass: {:?})",
            sep.epochs,
            &sep.mistakes[..sep.mistakes.len().min(8)]
        )?;
        writeln!(
            f,
            "   XOR: after {} passes still {} mistakes in the last pass — no line separates XOR, so it never stops",
            stuck.epochs,
            stuck.mistakes.last().copied().unwrap_or(0)
        )?;
        writeln!(f, "\n2. Activations (value / derivative)")?;
        let header: String = self.probe.iter().map(|x| format!("{x:>18}")).collect();
        writeln!(f, "   {:<18}{header}", "x")?;
        for row in &self.activations {
            let cells: String = row
                .values
                .iter()
                .zip(&row.derivatives)
                .map(|(v, d)| format!("{:>16}", format!("{v:.4}/{d:.4}")))
                .collect();
            writeln!(f, "   {:<18}{cells}", row.name)?;
        }
        let s = &self.softmax;
        writeln!(
            f,
            "   softmax([1000, 999, −1000]) = [{:.6}, {:.6}, {:.1e}]: finite, thanks to subtracting the maximum",
            s[0], s[1], s[2]
        )?;
        let init = &self.init;
        writeln!(
            f,
            "\n3. Initialisation of a 256 × 256 layer: variance of the weights"
        )?;
        writeln!(
            f,
            "   Xavier {:.6} (theory 2/(256+256) = {:.6}); He {:.6} (theory 2/256 = {:.6})",
            init.xavier_variance, init.xavier_theory, init.he_variance, init.he_theory
        )?;
        writeln!(
            f,
            "\n4. An MLP 2-64-64-2 with ReLU and He initialisation, Adam, {} epochs ({:.0} ms for all three)",
            self.epochs, self.mlps_ms
        )?;
        writeln!(
            f,
            "   {:<8} {:>15} {:>14} {:>11}",
            "data", "train accuracy", "test accuracy", "final loss"
        )?;
        for r in &self.mlp {
            writeln!(
                f,
                "   {:<8} {:>14.1}% {:>13.1}% {:>11.4}",
                r.data,
                100.0 * r.train_accuracy,
                100.0 * r.test_accuracy,
                r.final_loss
            )?;
        }
        writeln!(
            f,
            "   Where one neuron draws one straight line, two hidden layers bend the boundary around the data."
        )
    }
}
