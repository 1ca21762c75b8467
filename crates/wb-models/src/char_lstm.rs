//! A character-level language model: embedding → LSTM (candle-nn's) → linear head over the
//! vocabulary, predicting each next character.

use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::rnn::{LSTM, LSTMConfig, LSTMState, RNN};
use candle_nn::{Embedding, Linear, VarBuilder};
use serde::{Deserialize, Serialize};
use wb_data::SplitMix64;

use crate::sampling::sample;
use crate::text::CharVocab;

/// Sizes of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharLstmConfig {
    pub vocab: usize,
    pub embed: usize,
    pub hidden: usize,
}

impl CharLstmConfig {
    /// Parameters: embedding, the LSTM's four gates (input and hidden weights, two biases), head.
    pub fn parameters(&self) -> usize {
        let (v, e, h) = (self.vocab, self.embed, self.hidden);
        v * e + 4 * h * (e + h + 2) + h * v + v
    }
}

/// The model. `forward` is for training (whole sequences); `generate` samples one character at a
/// time, carrying the LSTM's state.
#[derive(Debug, Clone)]
pub struct CharLstm {
    pub config: CharLstmConfig,
    pub embed: Embedding,
    pub lstm: LSTM,
    pub head: Linear,
}

impl CharLstm {
    pub fn new(config: CharLstmConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            config,
            embed: candle_nn::embedding(config.vocab, config.embed, vb.pp("embed"))?,
            lstm: candle_nn::lstm(
                config.embed,
                config.hidden,
                LSTMConfig::default(),
                vb.pp("lstm"),
            )?,
            head: candle_nn::linear(config.hidden, config.vocab, vb.pp("head"))?,
        })
    }

    /// Logits `[batch, seq, vocab]` for token ids `[batch, seq]` (u32).
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        let x = self.embed.forward(tokens)?; // [batch, seq, embed]
        let states = self.lstm.seq(&x)?;
        let h = self.lstm.states_to_tensor(&states)?; // [batch, seq, hidden]
        self.head.forward(&h) // [batch, seq, vocab]
    }

    /// Mean cross-entropy of predicting `targets` `[batch, seq]` from `tokens` `[batch, seq]`.
    pub fn loss(&self, tokens: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let logits = self.forward(tokens)?;
        let (b, t, v) = logits.dims3()?;
        candle_nn::loss::cross_entropy(&logits.reshape((b * t, v))?, &targets.reshape(b * t)?)
    }

    /// One character in (`state` starts as `self.lstm.zero_state(1)`): updates `state` and
    /// returns the logits of the next character `[vocab]`.
    pub fn step(&self, id: u32, state: &mut LSTMState) -> Result<Vec<f32>> {
        let x = self.embed.forward(&Tensor::new(&[id], &Device::Cpu)?)?; // [1, embed]
        *state = self.lstm.step(&x, state)?;
        self.head
            .forward(&state.h)? // [1, vocab]
            .i(0)?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()
    }

    /// Feeds `prompt` and then samples `n` characters at `temperature`. Every prompt character
    /// must be in the vocabulary (an error names the first that is not).
    pub fn generate(
        &self,
        vocab: &CharVocab,
        prompt: &str,
        n: usize,
        temperature: f64,
        rng: &mut SplitMix64,
    ) -> crate::ModelResult<String> {
        let ids = vocab.encode_prompt(prompt)?;
        let mut state = self.lstm.zero_state(1)?;
        let mut logits = Vec::new();
        for &id in &ids {
            logits = self.step(id, &mut state)?;
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let id = sample(&logits, temperature, rng)? as u32;
            out.push(id);
            logits = self.step(id, &mut state)?;
        }
        Ok(vocab.decode(&out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::VarMap;

    fn model() -> (CharLstm, CharVocab) {
        let vocab = CharVocab::from_text("abc .").unwrap();
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let config = CharLstmConfig {
            vocab: vocab.len(),
            embed: 4,
            hidden: 6,
        };
        (CharLstm::new(config, vb).unwrap(), vocab)
    }

    #[test]
    fn stepping_one_character_at_a_time_equals_the_whole_sequence() {
        let (m, vocab) = model();
        let ids = vocab.encode("ab c.a").unwrap();
        let whole = m
            .forward(
                &Tensor::new(ids.as_slice(), &Device::Cpu)
                    .unwrap()
                    .unsqueeze(0)
                    .unwrap(),
            )
            .unwrap(); // [1, 6, vocab]
        let mut state = m.lstm.zero_state(1).unwrap();
        for (t, &id) in ids.iter().enumerate() {
            let stepped = m.step(id, &mut state).unwrap();
            let expected: Vec<f32> = whole.i((0, t)).unwrap().to_vec1().unwrap();
            for (a, b) in stepped.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-6, "position {t}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn generate_samples_n_characters_and_names_an_unknown_one() {
        let (m, vocab) = model();
        let mut rng = SplitMix64::new(3);
        let s = m.generate(&vocab, "ab", 12, 1.0, &mut rng).unwrap();
        assert_eq!(s.chars().count(), 12);
        assert!(s.chars().all(|c| "abc .".contains(c)), "{s}");
        let e = m.generate(&vocab, "abz", 3, 1.0, &mut rng).unwrap_err();
        assert!(e.to_string().contains('z'), "{e}");
        assert!(m.generate(&vocab, "", 3, 1.0, &mut rng).is_err());
    }
}
