//! Training the character GPT (and, for the race, the week 12 LSTM) with `wb_train::fit`.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use wb_data::SplitMix64;
use wb_models::{CharLstm, CharLstmConfig, CharVocab, Gpt, GptConfig, windows};
use wb_train::{FitConfig, LrSchedule, NamedVars, Task};

use crate::{Result, boxed};

/// Moby-Dick as ids: the first 90 % trains, the last 10 % validates.
pub struct Corpus {
    pub vocab: CharVocab,
    pub train: Vec<u32>,
    pub valid: Vec<u32>,
}

impl Corpus {
    pub fn load() -> Result<Self> {
        let text = wb_models::moby_dick().map_err(boxed)?;
        let vocab = CharVocab::from_text(&text)?;
        let ids = vocab.encode(&text)?;
        let cut = ids.len() * 9 / 10;
        Ok(Self {
            vocab,
            valid: ids[cut..].to_vec(),
            train: ids[..cut].to_vec(),
        })
    }

    /// 64 fixed validation windows of `len` characters.
    pub fn valid_windows(&self, len: usize) -> Result<(Tensor, Tensor)> {
        let starts: Vec<usize> = (0..64).map(|k| k * (self.valid.len() / 65)).collect();
        Ok(windows(&self.valid, &starts, len)?)
    }
}

/// Which model a training run trains.
pub enum Model<'a> {
    Gpt(&'a Gpt),
    Lstm(&'a CharLstm),
}

impl Model<'_> {
    fn loss(&self, x: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Model::Gpt(m) => m
                .loss(x, y)
                .map_err(|e| candle_core::Error::Msg(e.to_string())),
            Model::Lstm(m) => m.loss(x, y),
        }
    }
}

struct CharTask<'a> {
    model: Model<'a>,
    corpus: &'a Corpus,
    len: usize,
    valid: (Tensor, Tensor),
}

impl Task for CharTask<'_> {
    fn train_loss(
        &mut self,
        batch: &[usize],
        _rng: &mut SplitMix64,
    ) -> candle_core::Result<Tensor> {
        let per = self.corpus.train.len() / (self.len + 1);
        let starts: Vec<usize> = batch.iter().map(|&r| (r % per) * (self.len + 1)).collect();
        let (x, y) = windows(&self.corpus.train, &starts, self.len)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        self.model.loss(&x, &y)
    }

    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>> {
        let l = self
            .model
            .loss(&self.valid.0, &self.valid.1)?
            .to_scalar::<f32>()?;
        Ok(vec![("valid_loss".to_string(), f64::from(l))])
    }
}

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

fn fit_model(
    model: Model,
    vars: &NamedVars,
    corpus: &Corpus,
    cfg: &RunConfig,
    progress: bool,
) -> Result<Measured> {
    let mut opt = wb_train::adamw(vars, cfg.lr)?;
    let mut task = CharTask {
        model,
        corpus,
        len: cfg.seq_len,
        valid: corpus.valid_windows(cfg.seq_len)?,
    };
    let mut fit = FitConfig::new(
        1,
        cfg.batch,
        LrSchedule::warmup_cosine(cfg.lr, cfg.steps / 20, cfg.steps)?,
    );
    fit.seed = cfg.seed;
    fit.clip_norm = Some(1.0);
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
    let model = Gpt::new(gpt_config(corpus.vocab.len(), cfg.seq_len), vb).map_err(boxed)?;
    let vars = wb_train::named_vars(&varmap);
    let m = fit_model(Model::Gpt(&model), &vars, corpus, cfg, progress)?;
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
    let m = fit_model(Model::Lstm(&model), &vars, corpus, cfg, progress)?;
    Ok((model, m))
}
