//! The copy task: see a symbol, then `delay` steps of random distractors, then say which symbol
//! it was.
//!
//! Nothing in between helps: the answer must travel `delay` steps through the hidden state while
//! every new input pushes into that state, and the gradient that teaches the network to keep it
//! must travel back as far. An LSTM can close its input gate on the distractors and keep its
//! forget gate open; a plain RNN has no gate, so each step rewrites the whole state.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarMap};
use wb_data::SplitMix64;
use wb_train::{FitConfig, LrSchedule, Task};

use crate::Result;
use crate::cells::{Cell, Weights, unroll};

/// Symbols to remember: one-hot channels 0..SYMBOLS.
pub const SYMBOLS: usize = 4;
/// Distractors: channels SYMBOLS..SYMBOLS + DISTRACTORS, one of them at each step of the delay.
pub const DISTRACTORS: usize = 4;
/// Input width: one channel per symbol and per distractor.
pub const WIDTH: usize = SYMBOLS + DISTRACTORS;

/// `batch` sequences of `delay + 1` one-hot steps `[batch, delay + 1, WIDTH]`: a symbol at
/// step 0, a random distractor at each later step; and the symbols to recall, `[batch]`.
pub fn copy_batch(batch: usize, delay: usize, rng: &mut SplitMix64) -> Result<(Tensor, Tensor)> {
    let time = delay + 1;
    let mut xs = vec![0f32; batch * time * WIDTH];
    let mut ys = Vec::with_capacity(batch);
    for b in 0..batch {
        let s = (rng.next_u64() % SYMBOLS as u64) as usize;
        ys.push(s as u32);
        xs[b * time * WIDTH + s] = 1.0;
        for t in 1..time {
            let d = (rng.next_u64() % DISTRACTORS as u64) as usize;
            xs[(b * time + t) * WIDTH + SYMBOLS + d] = 1.0;
        }
    }
    Ok((
        Tensor::from_vec(xs, (batch, time, WIDTH), &Device::Cpu)?,
        Tensor::from_vec(ys, batch, &Device::Cpu)?,
    ))
}

/// How to train on the copy task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopyConfig {
    pub hidden: usize,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    /// The LSTM's initial forget-gate bias (see `Weights::set_forget_bias`).
    pub forget_bias: f32,
}

impl Default for CopyConfig {
    fn default() -> Self {
        Self {
            hidden: 32,
            steps: 600,
            batch: 64,
            lr: 1e-2,
            seed: 7,
            forget_bias: 3.0,
        }
    }
}

/// What one training measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopyResult {
    pub cell: Cell,
    pub delay: usize,
    /// Share of 1,000 fresh test sequences recalled (chance: 1/4).
    pub accuracy: f64,
    pub seconds: f64,
}

struct Copy<'a> {
    cell: Cell,
    delay: usize,
    w: &'a Weights,
    head: &'a Linear,
    test: (Tensor, Tensor),
}

impl Copy<'_> {
    fn logits(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let hs =
            unroll(self.cell, xs, self.w).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let last = hs
            .last()
            .ok_or_else(|| candle_core::Error::Msg("empty sequence".into()))?;
        self.head.forward(last)
    }
}

impl Task for Copy<'_> {
    fn train_loss(&mut self, batch: &[usize], rng: &mut SplitMix64) -> candle_core::Result<Tensor> {
        let (xs, ys) = copy_batch(batch.len(), self.delay, rng)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        candle_nn::loss::cross_entropy(&self.logits(&xs)?, &ys)
    }

    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>> {
        let acc = wb_train::accuracy(&self.logits(&self.test.0)?, &self.test.1)?;
        Ok(vec![("accuracy".to_string(), acc)])
    }
}

/// Trains `cell` (hidden units, a linear head) on the copy task with `delay` and returns its
/// test accuracy. Fresh random sequences every step, AdamW with a constant learning rate.
pub fn train_copy(cell: Cell, delay: usize, cfg: &CopyConfig) -> Result<CopyResult> {
    let varmap = VarMap::new();
    let vb = wb_train::init::seeded(&varmap, cfg.seed, DType::F32, &Device::Cpu);
    let w = Weights::new(&vb.pp("rnn"), WIDTH, cfg.hidden, cell.gates())?;
    if cell == Cell::Lstm {
        w.set_forget_bias(&varmap, "rnn", cfg.forget_bias)?;
    }
    let head = candle_nn::linear(cfg.hidden, SYMBOLS, vb.pp("head"))?;
    let vars = wb_train::named_vars(&varmap);
    let mut opt = wb_train::adamw(&vars, cfg.lr)?;
    let mut test_rng = SplitMix64::new(cfg.seed ^ 0x7e57);
    let mut task = Copy {
        cell,
        delay,
        w: &w,
        head: &head,
        test: copy_batch(1_000, delay, &mut test_rng)?,
    };
    let mut fit = FitConfig::new(1, cfg.batch, LrSchedule::constant(cfg.lr)?);
    fit.seed = cfg.seed;
    fit.clip_norm = Some(1.0);
    let report = wb_train::fit(&mut task, &vars, &mut opt, cfg.steps * cfg.batch, &fit)?;
    Ok(CopyResult {
        cell,
        delay,
        accuracy: report.history.last().copied().unwrap_or(0.0),
        seconds: report.seconds,
    })
}
