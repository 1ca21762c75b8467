//! A character-level language model on Moby-Dick: `wb_models::CharLstm` (candle-nn's LSTM)
//! trained with the workbook's loop, sampled with this lab's temperature.

use candle_core::{DType, Device};
use candle_nn::VarMap;
use candle_nn::rnn::RNN;
use wb_data::SplitMix64;
use wb_models::{CharLstm, CharLstmConfig, CharTask, CharVocab};
use wb_train::FitReport;

use crate::Result;
use crate::sampling::{draw, tempered_softmax};

/// How to train.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CharConfig {
    pub embed: usize,
    pub hidden: usize,
    /// Characters per training sequence.
    pub seq_len: usize,
    pub batch: usize,
    pub steps: usize,
    pub lr: f64,
    pub seed: u64,
}

impl Default for CharConfig {
    fn default() -> Self {
        Self {
            embed: 32,
            hidden: 128,
            seq_len: 64,
            batch: 32,
            steps: 300,
            lr: 3e-3,
            seed: 7,
        }
    }
}

/// The corpus as ids, split: the first 90 % trains, the last 10 % validates.
pub use wb_models::CharCorpus as Corpus;
pub use wb_models::windows;

/// A trained model and its training record.
pub struct TrainedChar {
    pub model: CharLstm,
    pub varmap: VarMap,
    pub report: FitReport,
    pub valid_loss: f64,
    /// Training characters per second (forward + backward + update).
    pub chars_per_second: f64,
}

/// Trains a character LSTM for `cfg.steps` steps on random windows of the training text and
/// measures the loss on 64 windows of validation text.
/// `metrics`, when given, receives the training loss every 5 steps as JSON lines.
pub fn train_char_lstm(
    corpus: &Corpus,
    cfg: &CharConfig,
    progress: bool,
    metrics: Option<&std::path::Path>,
) -> Result<TrainedChar> {
    let varmap = VarMap::new();
    let vb = wb_train::init::seeded(&varmap, cfg.seed, DType::F32, &Device::Cpu);
    let model = CharLstm::new(
        CharLstmConfig {
            vocab: corpus.vocab.len(),
            embed: cfg.embed,
            hidden: cfg.hidden,
        },
        vb,
    )?;
    let vars = wb_train::named_vars(&varmap);
    let mut opt = wb_train::adamw(&vars, cfg.lr)?;
    let mut task = CharTask::new(&model, corpus, cfg.seq_len)?;
    let mut fit = wb_models::char_fit_config(cfg.batch, cfg.steps, cfg.lr, cfg.seed)?;
    fit.progress = progress;
    fit.metrics_path = metrics.map(|p| p.to_path_buf());
    fit.log_every = 5;
    let report = wb_train::fit(&mut task, &vars, &mut opt, cfg.steps * cfg.batch, &fit)?;
    let valid_loss = report.history.last().copied().unwrap_or(f64::NAN);
    let chars = (cfg.steps * cfg.batch * cfg.seq_len) as f64;
    let chars_per_second = chars / report.seconds.max(1e-9);
    Ok(TrainedChar {
        model,
        varmap,
        report,
        valid_loss,
        chars_per_second,
    })
}

/// Feeds `prompt` to the model, then samples `n` characters at `temperature` with this lab's
/// [`tempered_softmax`]. A prompt character outside the vocabulary is an error naming it.
pub fn generate(
    model: &CharLstm,
    vocab: &CharVocab,
    prompt: &str,
    n: usize,
    temperature: f64,
    seed: u64,
) -> Result<String> {
    let ids = vocab.encode_prompt(prompt)?;
    let mut rng = SplitMix64::new(seed);
    let mut state = model.lstm.zero_state(1)?;
    let mut logits = Vec::new();
    for &id in &ids {
        logits = model.step(id, &mut state)?;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let id = draw(&tempered_softmax(&logits, temperature)?, &mut rng) as u32;
        out.push(id);
        logits = model.step(id, &mut state)?;
    }
    Ok(vocab.decode(&out)?)
}
