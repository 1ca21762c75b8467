//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub autograd: Autograd,
    pub gradient_check: GradientCheck,
    pub rosenbrock: Vec<RosenbrockRun>,
    pub digits_5_epochs: Vec<DigitsRace>,
    pub digits: Digits,
    pub gradient_norms: Vec<GradientNorms>,
    pub clipping: Clipping,
}

/// f = tanh(a·b + a) and its gradient.
#[derive(Serialize)]
pub struct Autograd {
    pub value: f64,
    pub grad_a: f64,
    pub grad_b: f64,
}

#[derive(Serialize)]
pub struct GradientCheck {
    pub parameters: usize,
    pub relative_error: f64,
}

#[derive(Serialize)]
pub struct RosenbrockRun {
    pub optimizer: String,
    pub final_f: f64,
    pub distance_to_minimum: f64,
    #[serde(skip)]
    pub path: Vec<(f64, f64)>,
}

#[derive(Serialize)]
pub struct DigitsRace {
    pub optimizer: String,
    pub final_loss: f64,
    pub test_accuracy: f64,
}

#[derive(Serialize)]
pub struct Digits {
    pub epochs: usize,
    pub losses: Vec<f64>,
    pub test_accuracy: f64,
    pub n_test: usize,
    #[serde(skip)]
    pub training_ms: f64,
}

#[derive(Serialize)]
pub struct GradientNorms {
    pub config: &'static str,
    pub norms: Vec<f64>,
}

#[derive(Serialize)]
pub struct Clipping {
    pub norm_before: f64,
    pub norm_after: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ag = &self.autograd;
        writeln!(
            f,
            "1. Autograd: f = tanh(a·b + a) at a = 0.5, b = −1.5 (a is used twice)"
        )?;
        writeln!(
            f,
            "   f = {:.6}; ∂f/∂a = {:.6} (= (1 − f²)(b + 1), both uses summed); ∂f/∂b = {:.6} (= (1 − f²)a)\n",
            ag.value, ag.grad_a, ag.grad_b
        )?;
        writeln!(
            f,
            "2. Backpropagation of a 3-5-4-3 tanh network against central differences"
        )?;
        writeln!(
            f,
            "   {} parameters, relative error {:.1e} (below 1e-6: the analytic gradient is right)\n",
            self.gradient_check.parameters, self.gradient_check.relative_error
        )?;
        writeln!(
            f,
            "3. Optimisers on Rosenbrock, 5000 steps from (−1.5, 2) (minimum 0 at (1, 1))"
        )?;
        writeln!(
            f,
            "   {:<26} {:>12} {:>20}",
            "optimiser", "final f", "distance to (1, 1)"
        )?;
        for r in &self.rosenbrock {
            let (n, v, d) = (&r.optimizer, r.final_f, r.distance_to_minimum);
            writeln!(f, "   {n:<26} {v:>12.3e} {d:>20.4}")?;
        }
        writeln!(
            f,
            "\n4. The same race on digits: a 64-64-10 ReLU net, 5 epochs, batch 32"
        )?;
        writeln!(
            f,
            "   {:<26} {:>12} {:>14}",
            "optimiser", "train loss", "test accuracy"
        )?;
        for r in &self.digits_5_epochs {
            let (n, l, a) = (&r.optimizer, r.final_loss, 100.0 * r.test_accuracy);
            writeln!(f, "   {n:<26} {l:>12.4} {a:>13.1}%")?;
        }
        writeln!(
            f,
            "\n5. Vanishing and exploding gradients: ‖∂L/∂W‖ in layers 1, 5, 10, 15, 20 of a 20-layer net"
        )?;
        for g in &self.gradient_norms {
            let cells: String = [0, 4, 9, 14, 19]
                .iter()
                .map(|&i| format!("{:>10.2e}", g.norms[i]))
                .collect();
            writeln!(f, "   {:<20} {cells}", g.config)?;
        }
        writeln!(
            f,
            "   Sigmoid's derivative is at most 0.25, so the gradient shrinks on its way down; ReLU with He"
        )?;
        writeln!(
            f,
            "   initialisation keeps it steady; too small or too large weights make it vanish or explode."
        )?;
        writeln!(
            f,
            "   Clipping by global norm: an exploding gradient of norm {:.3e} rescaled to {:.3}\n",
            self.clipping.norm_before, self.clipping.norm_after
        )?;
        let d = &self.digits;
        writeln!(
            f,
            "6. MLP 64-128-64-10 (ReLU, He) on digits, Adam, {} epochs, batch 32 ({:.0} ms)",
            d.epochs, d.training_ms
        )?;
        writeln!(
            f,
            "   training loss {:.4} after the first epoch, {:.4} after the last; test accuracy {:.1}% on {} images",
            d.losses.first().copied().unwrap_or(f64::NAN),
            d.losses.last().copied().unwrap_or(f64::NAN),
            100.0 * d.test_accuracy,
            d.n_test
        )
    }
}
