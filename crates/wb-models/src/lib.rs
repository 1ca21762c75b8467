//! Complete models that several labs reuse (never an exercise's answer):
//!
//! - [`text`]: a character vocabulary with checked encoding, and the Moby-Dick corpus;
//! - [`sampling`]: drawing the next token from logits at a temperature;
//! - [`char_task`]: a character corpus split 90/10 and next-character prediction as a
//!   `wb_train::Task` (the training windows and validation loss of weeks 12 and 13);
//! - [`char_lstm`]: a character-level LSTM language model built on candle-nn's `LSTM`
//!   (week 12 trains it; week 13 races it against a transformer);
//! - [`digit_cnn`]: the week 11 CNN for MNIST as a deployable model, saved and loaded with its
//!   metadata and the SHA-256 of its weights (week 16 serves it);
//! - [`gpt`]: a small decoder-only transformer over characters, saved and loaded as
//!   safetensors with its config (week 13 trains it; later weeks reuse it).

pub mod char_lstm;
pub mod char_task;
pub mod digit_cnn;
pub mod error;
pub mod gpt;
pub mod sampling;
pub mod text;

pub use char_lstm::{CharLstm, CharLstmConfig};
pub use char_task::{CharCorpus, CharModel, CharTask, char_fit_config};
pub use digit_cnn::{CnnMeta, DigitCnn};
pub use error::{ModelError, ModelResult};
pub use gpt::{Gpt, GptConfig};
pub use sampling::sample;
pub use text::{CharVocab, moby_dick, windows};
