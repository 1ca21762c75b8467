//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use super::DELAYS;
use serde::Serialize;
use std::fmt;
use week12_rnn::cells::Cell;

#[derive(Serialize)]
pub struct Report {
    pub lstm_vs_candle_max_abs_diff: f32,
    pub rnn_vs_formula_max_abs_diff: f64,
    pub gradient_norms: GradientNorms,
    pub copy_steps: usize,
    pub copy_forget_bias: f32,
    pub copy_task: Vec<CopyRun>,
    pub char_lstm: CharLstm,
}

/// ‖∂L/∂x_t‖ at each distance from the loss.
#[derive(Serialize)]
pub struct GradientNorms {
    pub rnn: Vec<f64>,
    pub lstm: Vec<f64>,
    pub lstm_forget_bias_1: Vec<f64>,
    pub lstm_forget_bias_3: Vec<f64>,
}

#[derive(Serialize)]
pub struct CopyRun {
    pub cell: &'static str,
    pub delay: usize,
    pub accuracy: f64,
    pub seconds: f64,
}

#[derive(Serialize)]
pub struct CharLstm {
    pub vocabulary: usize,
    pub parameters: usize,
    pub steps: usize,
    pub valid_loss: f64,
    pub unigram_loss: f64,
    pub chars_per_second: f64,
    pub train_seconds: f64,
    pub samples: Vec<Sample>,
}

#[derive(Serialize)]
pub struct Sample {
    pub temperature: f64,
    pub text: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "1. The cells from tensor operations")?;
        writeln!(
            f,
            "   LSTM over 7 steps (batch 3, 5 inputs, 6 units) vs candle-nn's LSTM, same weights: largest difference {:.1e}",
            self.lstm_vs_candle_max_abs_diff
        )?;
        writeln!(
            f,
            "   RNN step vs tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh) in f64: largest difference {:.1e}\n",
            self.rnn_vs_formula_max_abs_diff
        )?;
        writeln!(
            f,
            "2. Why RNNs struggle: ‖∂L/∂x_t‖ at a distance of d steps from the loss (untrained, 32 units)"
        )?;
        let distances = [0, 5, 10, 20, 40, 63];
        let header: String = distances.iter().map(|d| format!("{d:>10}")).collect();
        writeln!(f, "   {:<20} {header}", "d")?;
        let g = &self.gradient_norms;
        for (name, norms) in [
            ("RNN", &g.rnn),
            ("LSTM", &g.lstm),
            ("LSTM, forget bias 1", &g.lstm_forget_bias_1),
            ("LSTM, forget bias 3", &g.lstm_forget_bias_3),
        ] {
            let cells: String = distances
                .iter()
                .map(|&d| format!("{:>10.2e}", norms[d]))
                .collect();
            writeln!(f, "   {name:<20} {cells}")?;
        }
        let shrink = |v: &[f64]| v[0] / v[40];
        writeln!(
            f,
            "   from d = 0 to d = 40 the gradient shrinks {:.0e}× (RNN), {:.0e}× (LSTM), {:.0e}× and {:.0e}× (forget bias 1 and 3)\n",
            shrink(&g.rnn),
            shrink(&g.lstm),
            shrink(&g.lstm_forget_bias_1),
            shrink(&g.lstm_forget_bias_3)
        )?;
        writeln!(
            f,
            "3. Copy task: recall one of 4 symbols after a delay (32 units, {} steps of 64 sequences; LSTM forget bias {})",
            self.copy_steps, self.copy_forget_bias
        )?;
        let header: String = DELAYS.iter().map(|d| format!("{d:>9}")).collect();
        writeln!(f, "   {:<6} {header}", "delay")?;
        for cell in [Cell::Rnn, Cell::Lstm] {
            let cells: String = self
                .copy_task
                .iter()
                .filter(|c| c.cell == cell.name())
                .map(|c| format!("{:>8.1}%", 100.0 * c.accuracy))
                .collect();
            writeln!(f, "   {:<6} {cells}", cell.name())?;
        }
        writeln!(f, "   (chance is 25 %)\n")?;
        let c = &self.char_lstm;
        writeln!(
            f,
            "4. Character LSTM on Moby-Dick: {} characters in the vocabulary, {} parameters, {} steps ({:.0} ms)",
            c.vocabulary,
            c.parameters,
            c.steps,
            1000.0 * c.train_seconds
        )?;
        writeln!(
            f,
            "   validation loss {:.3} nats/char (uniform guess {:.3}, character frequencies {:.3})",
            c.valid_loss,
            (c.vocabulary as f64).ln(),
            c.unigram_loss
        )?;
        for s in &c.samples {
            let text = s.text.replace('\n', " ");
            writeln!(f, "   temperature {}: \"Call me {text}\"", s.temperature)?;
        }
        Ok(())
    }
}
