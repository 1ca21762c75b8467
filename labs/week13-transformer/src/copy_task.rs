//! Week 12's copy task for a transformer: a symbol, `delay` distractors, then recall the symbol.
//!
//! Tokens 0..4 are the symbols, 4..8 the distractors. A one-block GPT reads the whole sequence
//! and predicts the symbol at the last position. Attention reaches position 0 in one step,
//! whatever the delay: there is no chain of hidden states for the information (or the gradient)
//! to fade along.

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarMap;
use wb_data::SplitMix64;
use wb_models::{Gpt, GptConfig};
use wb_train::{FitConfig, LrSchedule, Task};

use crate::Result;

pub const SYMBOLS: u32 = 4;
pub const DISTRACTORS: u32 = 4;
/// The cue at the end of every sequence: "now say the symbol".
pub const CUE: u32 = SYMBOLS + DISTRACTORS;

/// `batch` sequences `[batch, delay + 2]` (u32): the symbol, `delay` distractors, the cue; and
/// their symbols `[batch]`.
pub fn copy_batch(batch: usize, delay: usize, rng: &mut SplitMix64) -> Result<(Tensor, Tensor)> {
    let t = delay + 2;
    let mut xs = Vec::with_capacity(batch * t);
    let mut ys = Vec::with_capacity(batch);
    for _ in 0..batch {
        let s = (rng.next_u64() % u64::from(SYMBOLS)) as u32;
        ys.push(s);
        xs.push(s);
        for _ in 0..delay {
            xs.push(SYMBOLS + (rng.next_u64() % u64::from(DISTRACTORS)) as u32);
        }
        xs.push(CUE);
    }
    Ok((
        Tensor::from_vec(xs, (batch, t), &Device::Cpu)?,
        Tensor::from_vec(ys, batch, &Device::Cpu)?,
    ))
}

struct Copy<'a> {
    model: &'a Gpt,
    delay: usize,
    test: (Tensor, Tensor),
}

impl Copy<'_> {
    /// Logits at the last position, `[batch, vocab]`.
    fn last_logits(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let logits = self
            .model
            .forward(xs)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        logits.i((.., self.delay + 1, ..))
    }
}

impl Task for Copy<'_> {
    fn train_loss(&mut self, batch: &[usize], rng: &mut SplitMix64) -> candle_core::Result<Tensor> {
        let (xs, ys) = copy_batch(batch.len(), self.delay, rng)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        candle_nn::loss::cross_entropy(&self.last_logits(&xs)?, &ys)
    }

    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>> {
        let acc = wb_train::accuracy(&self.last_logits(&self.test.0)?, &self.test.1)?;
        Ok(vec![("accuracy".to_string(), acc)])
    }
}

/// Trains a one-block GPT (width 32, 2 heads) for `steps` steps of 32 sequences on the copy task
/// with `delay`, and returns its accuracy on 1,000 fresh sequences and the seconds it took.
pub fn train_copy(delay: usize, steps: usize, seed: u64) -> Result<(f64, f64)> {
    let varmap = VarMap::new();
    let vb = wb_train::init::seeded(&varmap, seed, DType::F32, &Device::Cpu);
    let cfg = GptConfig {
        vocab: (CUE + 1) as usize,
        ctx: delay + 2,
        d_model: 32,
        n_heads: 2,
        n_layers: 1,
        d_ff: 64,
    };
    let model = Gpt::new(cfg, vb)?;
    let vars = wb_train::named_vars(&varmap);
    let mut opt = wb_train::adamw(&vars, 3e-3)?;
    let mut test_rng = SplitMix64::new(seed ^ 0x7e57);
    let mut task = Copy {
        model: &model,
        delay,
        test: copy_batch(1_000, delay, &mut test_rng)?,
    };
    let mut fit = FitConfig::new(1, 32, LrSchedule::constant(3e-3)?);
    fit.seed = seed;
    fit.clip_norm = Some(1.0);
    let report = wb_train::fit(&mut task, &vars, &mut opt, steps * 32, &fit)?;
    Ok((
        report.history.last().copied().unwrap_or(0.0),
        report.seconds,
    ))
}
