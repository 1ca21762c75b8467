//! Next-character prediction as a [`wb_train::Task`]: the corpus split, the training windows and
//! the validation loss that every character-model lab trains with (week 12's LSTM, week 13's
//! GPT and the race between them).

use candle_core::Tensor;
use wb_core::Result;
use wb_data::SplitMix64;
use wb_train::{FitConfig, LrSchedule, Task};

use crate::text::{CharVocab, windows};
use crate::{CharLstm, Gpt};

/// A text as character ids, split: the first 90 % trains, the last 10 % validates.
#[derive(Debug, Clone)]
pub struct CharCorpus {
    pub vocab: CharVocab,
    pub train: Vec<u32>,
    pub valid: Vec<u32>,
}

impl CharCorpus {
    /// The vocabulary of `text` and its ids, split 90/10.
    pub fn new(text: &str) -> Result<Self> {
        let vocab = CharVocab::from_text(text)?;
        let ids = vocab.encode(text)?;
        let cut = ids.len() * 9 / 10;
        Ok(Self {
            vocab,
            valid: ids[cut..].to_vec(),
            train: ids[..cut].to_vec(),
        })
    }

    /// Moby-Dick (the workbook's copy), split 90/10.
    pub fn moby_dick() -> crate::ModelResult<Self> {
        Ok(Self::new(&crate::text::moby_dick()?)?)
    }

    /// 64 fixed validation windows of `len` characters, spread evenly over the validation text:
    /// inputs and next-character targets, `[64, len]` each.
    pub fn valid_windows(&self, len: usize) -> Result<(Tensor, Tensor)> {
        let starts: Vec<usize> = (0..64).map(|k| k * (self.valid.len() / 65)).collect();
        windows(&self.valid, &starts, len)
    }
}

/// A model that predicts every next character of a sequence.
pub trait CharModel {
    /// Mean cross-entropy of predicting `targets` `[batch, seq]` from `tokens` `[batch, seq]`.
    fn char_loss(&self, tokens: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor>;
}

impl CharModel for CharLstm {
    fn char_loss(&self, tokens: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
        self.loss(tokens, targets)
    }
}

impl CharModel for Gpt {
    fn char_loss(&self, tokens: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
        self.loss(tokens, targets)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))
    }
}

/// How the character labs train: one epoch of `steps · batch` rows (random windows, drawn from
/// `seed`), the learning rate warmed up over the first 5 % of the steps to `lr` and then decayed
/// by a cosine, gradients clipped at global norm 1.
pub fn char_fit_config(batch: usize, steps: usize, lr: f64, seed: u64) -> Result<FitConfig> {
    let mut fit = FitConfig::new(1, batch, LrSchedule::warmup_cosine(lr, steps / 20, steps)?);
    fit.seed = seed;
    fit.clip_norm = Some(1.0);
    Ok(fit)
}

/// Next-character prediction on a corpus, for [`wb_train::fit`]. Training row `r` is the
/// `r`-th non-overlapping window of `len + 1` training characters (wrapping around), so a
/// seeded loader's shuffled rows are random windows; the evaluation after each epoch is the loss
/// on [`CharCorpus::valid_windows`], reported as `valid_loss`.
pub struct CharTask<'a, M: CharModel + ?Sized> {
    model: &'a M,
    corpus: &'a CharCorpus,
    len: usize,
    valid: (Tensor, Tensor),
}

impl<'a, M: CharModel + ?Sized> CharTask<'a, M> {
    /// Fails when the corpus is too short for windows of `len` characters.
    pub fn new(model: &'a M, corpus: &'a CharCorpus, len: usize) -> Result<Self> {
        Ok(Self {
            model,
            corpus,
            len,
            valid: corpus.valid_windows(len)?,
        })
    }
}

impl<M: CharModel + ?Sized> Task for CharTask<'_, M> {
    fn train_loss(
        &mut self,
        batch: &[usize],
        _rng: &mut SplitMix64,
    ) -> candle_core::Result<Tensor> {
        let per = self.corpus.train.len() / (self.len + 1);
        let starts: Vec<usize> = batch.iter().map(|&r| (r % per) * (self.len + 1)).collect();
        let (x, y) = windows(&self.corpus.train, &starts, self.len)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        self.model.char_loss(&x, &y)
    }

    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>> {
        let loss = self
            .model
            .char_loss(&self.valid.0, &self.valid.1)?
            .to_scalar::<f32>()?;
        Ok(vec![("valid_loss".to_string(), f64::from(loss))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CharLstmConfig;
    use candle_core::{DType, Device};
    use candle_nn::{VarBuilder, VarMap};

    #[test]
    fn windows_follow_the_rows_and_the_split_is_90_10() {
        let text: String = (0..200).map(|i| (b'a' + (i % 7) as u8) as char).collect();
        let corpus = CharCorpus::new(&text).unwrap();
        assert_eq!((corpus.train.len(), corpus.valid.len()), (180, 20));
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let cfg = CharLstmConfig {
            vocab: corpus.vocab.len(),
            embed: 3,
            hidden: 4,
        };
        let model = CharLstm::new(cfg, vb).unwrap();
        // Validation windows of 8: 64 starts k · (20 / 65) = 0, all fit.
        let mut task = CharTask::new(&model, &corpus, 8).unwrap();
        // 180 / 9 = 20 windows; row 21 wraps to window 1, which starts at character 9.
        let mut rng = SplitMix64::new(1);
        let a = task.train_loss(&[1], &mut rng).unwrap();
        let b = task.train_loss(&[21], &mut rng).unwrap();
        let (x, y) = windows(&corpus.train, &[9], 8).unwrap();
        let direct = model.loss(&x, &y).unwrap();
        for t in [&a, &b] {
            assert_eq!(
                t.to_scalar::<f32>().unwrap(),
                direct.to_scalar::<f32>().unwrap()
            );
        }
        let eval = task.evaluate().unwrap();
        assert_eq!(eval[0].0, "valid_loss");
        assert!(eval[0].1.is_finite());
        // Windows longer than the validation text are refused with the length named.
        let e = CharTask::new(&model, &corpus, 30)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("window of 31"), "{e}");
    }

    #[test]
    fn the_fit_config_warms_up_over_5_percent_then_decays() {
        let fit = char_fit_config(32, 400, 3e-3, 13).unwrap();
        assert_eq!((fit.epochs, fit.batch_size, fit.seed), (1, 32, 13));
        assert_eq!(fit.clip_norm, Some(1.0));
        // Hugging Face's linear warm-up: lr · step / 20 for the first 20 of 400 steps.
        assert_eq!(fit.schedule.lr_at(10), 3e-3 * 10.0 / 20.0);
        assert_eq!(fit.schedule.lr_at(20), 3e-3);
        assert!(fit.schedule.lr_at(399) < 1e-5);
    }
}
