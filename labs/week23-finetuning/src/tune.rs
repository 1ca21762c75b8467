//! Training and measuring: the loss at the answer's position, the verdict between the two
//! answer tokens, and the training task `wb_train::fit` runs.

use crate::data::{Example, Prompter};
use crate::{Result, invalid};
use candle_core::{D, Device, Tensor};
use wb_data::SplitMix64;
use wb_llm::trainable::TrainableLlama;

// ANCHOR: answer_loss
/// The mean cross-entropy of the answers: for each row, `−log p(answer)` of the
/// next token over the whole vocabulary, `logits` being the next-token logits (`n × vocab`)
/// and `answers` the right tokens. A scalar tensor that gradients flow through.
pub fn answer_loss(logits: &Tensor, answers: &[u32]) -> Result<Tensor> {
    let (n, vocab) = logits.dims2()?;
    if let Some(bad) = answers.iter().find(|&&a| a as usize >= vocab) {
        return Err(invalid(
            "answers",
            format!("token {bad} is outside the vocabulary of {vocab}"),
        ));
    }
    if n != answers.len() || n == 0 {
        return Err(invalid(
            "answers",
            format!(
                "expected one answer per row of logits ({n}), got {}",
                answers.len()
            ),
        ));
    }
    // BEGIN SOLUTION answer_loss
    let log_p = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let answers = Tensor::new(answers, logits.device())?.unsqueeze(1)?;
    let picked = log_p.gather(&answers, 1)?;
    Ok(picked.mean_all()?.neg()?)
    // END SOLUTION
}
// ANCHOR_END: answer_loss

/// How a model does on a set of examples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Share of examples whose answer token is likelier than the other one.
    pub accuracy: f64,
    /// Mean cross-entropy of the answer token over the whole vocabulary (nats).
    pub loss: f64,
    /// Share of examples judged spam (a model that always says one word scores 50 %).
    pub said_spam: f64,
    /// Mean prompt length, in tokens.
    pub prompt_tokens: f64,
}

/// Scores `model` on `examples`, each prompt preceded by `prefix` (the few-shot examples, or
/// nothing), `batch` prompts at a time.
pub fn score(
    model: &TrainableLlama,
    prompter: &Prompter,
    examples: &[Example],
    prefix: &[u32],
    batch: usize,
) -> Result<Score> {
    if examples.is_empty() || batch == 0 {
        return Err(invalid(
            "examples",
            format!(
                "expected examples and a batch ≥ 1, got {} and {batch}",
                examples.len()
            ),
        ));
    }
    let (mut right, mut spam, mut loss, mut tokens) = (0usize, 0usize, 0.0, 0usize);
    for chunk in examples.chunks(batch) {
        let rows: Vec<Vec<u32>> = chunk
            .iter()
            .map(|x| prefix.iter().chain(&x.tokens).copied().collect())
            .collect();
        tokens += rows.iter().map(Vec::len).sum::<usize>();
        let logits = model.next_logits(&rows)?.detach();
        let answers: Vec<u32> = chunk.iter().map(|x| prompter.answer(x.label)).collect();
        loss += answer_loss(&logits, &answers)?.to_scalar::<f32>()? as f64 * chunk.len() as f64;
        let pick = Tensor::new(&[prompter.spam, prompter.ham], &Device::Cpu)?;
        let two = logits.index_select(&pick, 1)?.to_vec2::<f32>()?;
        for (x, pair) in chunk.iter().zip(two) {
            let says_spam = pair[0] > pair[1];
            spam += usize::from(says_spam);
            right += usize::from(says_spam == (x.label == crate::email::Label::Spam));
        }
    }
    let n = examples.len() as f64;
    Ok(Score {
        accuracy: right as f64 / n,
        loss: loss / n,
        said_spam: spam as f64 / n,
        prompt_tokens: tokens as f64 / n,
    })
}

/// The training task for `wb_train::fit`: the answer loss of a batch of training prompts. It
/// keeps every step's loss for the plot.
pub struct AnswerTask<'a> {
    pub model: &'a TrainableLlama,
    pub prompter: &'a Prompter,
    pub train: &'a [Example],
    pub losses: Vec<f64>,
}

impl wb_train::Task for AnswerTask<'_> {
    fn train_loss(
        &mut self,
        batch: &[usize],
        _rng: &mut SplitMix64,
    ) -> candle_core::Result<Tensor> {
        let rows: Vec<Vec<u32>> = batch
            .iter()
            .map(|&i| self.train[i].tokens.clone())
            .collect();
        let answers: Vec<u32> = batch
            .iter()
            .map(|&i| self.prompter.answer(self.train[i].label))
            .collect();
        let logits = self
            .model
            .next_logits(&rows)
            .map_err(candle_core::Error::wrap)?;
        let loss = answer_loss(&logits, &answers).map_err(candle_core::Error::wrap)?;
        self.losses.push(loss.to_scalar::<f32>()? as f64);
        Ok(loss)
    }

    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>> {
        Ok(Vec::new())
    }
}
