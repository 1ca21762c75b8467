//! Training the character GPT (and, for the race, the week 12 LSTM) with `wb_train::fit`.

use candle_core::{DType, Device};
use candle_nn::VarMap;
use wb_models::{CharLstm, CharLstmConfig, CharModel, CharTask, Gpt, GptConfig};
use wb_train::NamedVars;

use crate::Result;

/// Moby-Dick as ids (`Corpus::moby_dick()`): the first 90 % trains, the last 10 % validates.
pub use wb_models::CharCorpus as Corpus;

/// How to train a character model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunConfig {
    /// Characters per training sequence (the GPT's context).
    pub seq_len: usize,
    pub batch: usize,
    pub steps: usize,
    pub lr: f64,
    pub seed: u64,
}

impl Default for RunConfig {
    /// The lab's GPT training: 400 steps of 32 sequences of 64 characters, AdamW 3e-3 with
    /// warm-up and cosine, seed 13.
    fn default() -> Self {
        Self {
            seq_len: 64,
            batch: 32,
            steps: 400,
            lr: 3e-3,
            seed: 13,
        }
    }
}

/// The GPT of the lab: 2 blocks of width 64 with 4 heads (114,899 parameters for 83 characters
/// and a context of 64).
pub fn gpt_config(vocab: usize, ctx: usize) -> GptConfig {
    GptConfig {
        vocab,
        ctx,
        d_model: 64,
        n_heads: 4,
        n_layers: 2,
        d_ff: 256,
    }
}

/// The LSTM it races: week 12's, 128 units (96,307 parameters for 83 characters).
pub fn lstm_config(vocab: usize) -> CharLstmConfig {
    CharLstmConfig {
        vocab,
        embed: 32,
        hidden: 128,
    }
}

/// What a training run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub valid_loss: f64,
    pub seconds: f64,
    /// Training tokens (characters) per second: forward, backward and update.
    pub tokens_per_second: f64,
}

fn fit_model<M: CharModel>(
    model: &M,
    vars: &NamedVars,
    corpus: &Corpus,
    cfg: &RunConfig,
    progress: bool,
) -> Result<Measured> {
    let mut opt = wb_train::adamw(vars, cfg.lr)?;
    let mut task = CharTask::new(model, corpus, cfg.seq_len)?;
    let mut fit = wb_models::char_fit_config(cfg.batch, cfg.steps, cfg.lr, cfg.seed)?;
    fit.progress = progress;
    let report = wb_train::fit(&mut task, vars, &mut opt, cfg.steps * cfg.batch, &fit)?;
    Ok(Measured {
        valid_loss: report.history.last().copied().unwrap_or(f64::NAN),
        seconds: report.seconds,
        tokens_per_second: (cfg.steps * cfg.batch * cfg.seq_len) as f64 / report.seconds.max(1e-9),
    })
}

/// Trains a fresh GPT; returns it with its VarMap (to save) and what was measured.
pub fn train_gpt(
    corpus: &Corpus,
    cfg: &RunConfig,
    progress: bool,
) -> Result<(Gpt, VarMap, Measured)> {
    let varmap = VarMap::new();
    let vb = wb_train::init::seeded(&varmap, cfg.seed, DType::F32, &Device::Cpu);
    let model = Gpt::new(gpt_config(corpus.vocab.len(), cfg.seq_len), vb)?;
    let vars = wb_train::named_vars(&varmap);
    let m = fit_model(&model, &vars, corpus, cfg, progress)?;
    Ok((model, varmap, m))
}

/// Trains a fresh week 12 LSTM with the same data, batches and schedule.
pub fn train_lstm(
    corpus: &Corpus,
    cfg: &RunConfig,
    progress: bool,
) -> Result<(CharLstm, Measured)> {
    let varmap = VarMap::new();
    let vb = wb_train::init::seeded(&varmap, cfg.seed, DType::F32, &Device::Cpu);
    let model = CharLstm::new(lstm_config(corpus.vocab.len()), vb)?;
    let vars = wb_train::named_vars(&varmap);
    let m = fit_model(&model, &vars, corpus, cfg, progress)?;
    Ok((model, m))
}
