//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub masks: Masks,
    pub gpt: GptRun,
    pub race: Race,
    pub copy_task: Vec<CopyRun>,
}

#[derive(Serialize)]
pub struct Masks {
    pub largest_weight_on_a_future_key: f32,
    pub lengths: [usize; 2],
    pub largest_weight_on_padding: f32,
    pub wrong_shape_error: String,
    /// The first four dimensions of position 1 of the sinusoidal table.
    pub sinusoidal_position_1: Vec<f32>,
}

#[derive(Serialize)]
pub struct GptRun {
    pub parameters: usize,
    pub steps: usize,
    pub valid_loss: f64,
    pub tokens_per_second: f64,
    pub train_seconds: f64,
    pub model_dir: String,
    pub reload_max_abs_logit_diff: f32,
    pub block_vs_library_max_abs_diff: f32,
    pub probe: String,
    pub next_character: String,
    pub samples: Vec<Sample>,
    pub too_long_error: String,
    pub unknown_character_error: String,
}

#[derive(Serialize)]
pub struct Sample {
    pub temperature: f64,
    pub text: String,
}

#[derive(Serialize)]
pub struct Race {
    pub steps: usize,
    pub gpt: RaceRun,
    pub lstm: RaceRun,
}

#[derive(Serialize)]
pub struct RaceRun {
    pub parameters: usize,
    pub tokens_per_second: f64,
    pub valid_loss: f64,
    pub seconds: f64,
}

#[derive(Serialize)]
pub struct CopyRun {
    pub delay: usize,
    pub accuracy: f64,
    pub seconds: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.masks;
        writeln!(
            f,
            "1. Attention with masks (batch 2, 2 heads, 6 positions, head size 4)"
        )?;
        writeln!(
            f,
            "   causal mask: the largest weight on a future key is {} (every row sums to 1 over the past)",
            m.largest_weight_on_a_future_key
        )?;
        writeln!(
            f,
            "   padding mask, lengths {:?}: the largest weight on sequence 2's padding is {}",
            m.lengths, m.largest_weight_on_padding
        )?;
        writeln!(f, "   a mask of the wrong shape: {}", m.wrong_shape_error)?;
        let pe = &m.sinusoidal_position_1;
        writeln!(
            f,
            "   sinusoidal positions [8, 16]: position 1 starts {:.4}, {:.4}, {:.4}, {:.4}\n",
            pe[0], pe[1], pe[2], pe[3]
        )?;
        let g = &self.gpt;
        writeln!(
            f,
            "2. A character GPT: 2 pre-LN blocks, width 64, 4 heads, context 64, {} parameters; {} steps ({:.0} ms)",
            g.parameters,
            g.steps,
            1000.0 * g.train_seconds
        )?;
        writeln!(
            f,
            "   validation loss {:.3} nats/char (week 12's LSTM reached 2.175 in 300 steps)",
            g.valid_loss
        )?;
        writeln!(
            f,
            "   your block on the GPT's first block's weights vs the library's block: largest difference {:.1e}",
            g.block_vs_library_max_abs_diff
        )?;
        writeln!(
            f,
            "   saved to {} (model.safetensors, config.json) and reloaded: largest logit difference {}",
            g.model_dir, g.reload_max_abs_logit_diff
        )?;
        writeln!(
            f,
            "   after \"{}\" it predicts {:?}",
            g.probe, g.next_character
        )?;
        for s in &g.samples {
            let text = s.text.replace('\n', " ");
            writeln!(f, "   temperature {}: \"Call me {text}\"", s.temperature)?;
        }
        writeln!(f, "   a sequence of 65 tokens: {}", g.too_long_error)?;
        writeln!(
            f,
            "   a prompt with an emoji: {}\n",
            g.unknown_character_error
        )?;
        let r = &self.race;
        writeln!(
            f,
            "3. Why transformers won: the same {} training steps for each (32 × 64 characters)",
            r.steps
        )?;
        writeln!(
            f,
            "   {:<28} {:>10} {:>16}",
            "model", "parameters", "validation loss"
        )?;
        for (name, run) in [
            ("GPT, 2 blocks of 64", &r.gpt),
            ("LSTM, 128 units (week 12)", &r.lstm),
        ] {
            let (p, l) = (run.parameters, run.valid_loss);
            writeln!(f, "   {name:<28} {p:>10} {l:>16.3}")?;
        }
        writeln!(
            f,
            "   training time for the same characters: GPT {:.0} ms, LSTM {:.0} ms (characters per second in --json)",
            1000.0 * r.gpt.seconds,
            1000.0 * r.lstm.seconds
        )?;
        writeln!(f, "   copy task (150 steps, 1 block of width 32):")?;
        for c in &self.copy_task {
            let (d, a) = (c.delay, 100.0 * c.accuracy);
            writeln!(f, "     delay {d:>3}: {a:.1}% (chance 25 %)")?;
        }
        Ok(())
    }
}
