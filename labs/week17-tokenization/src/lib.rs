//! # Week 17 — Tokens, context windows, cost and latency
//!
//! - [`bpe`]: byte-level BPE from scratch (GPT-2's pre-tokenisation, training, encoding by
//!   ranks, decoding, special tokens), which given GPT-2's ranks is GPT-2's tokenizer;
//! - [`context`]: truncation (head, tail, middle) and sliding windows with overlap;
//! - [`cost`]: a pricing table and the cost of a request;
//! - [`latency`]: prefill and decode time of the local model, with and without its KV cache.

pub mod bpe;
pub mod context;
pub mod cost;
pub mod latency;

pub use bpe::{Bpe, PreTokenizer, Specials, train};
pub use context::{Keep, sliding_windows, truncate};
pub use cost::{Price, PriceTable, request_cost};
pub use wb_llm;

use std::io::Read;
use thiserror::Error;

/// What can go wrong; every variant says which argument and what was wrong with it.
#[derive(Debug, Error)]
pub enum TokenError {
    #[error("invalid `{arg}`: {detail}")]
    InvalidArgument { arg: String, detail: String },
    #[error("id {id} at position {position} is not a token (the vocabulary has {vocab})")]
    UnknownId {
        id: u32,
        position: usize,
        vocab: usize,
    },
    #[error(
        "the ids decode to bytes that are not UTF-8 after byte {valid_up_to}: they end inside a character (use decode_bytes)"
    )]
    NotUtf8 { valid_up_to: usize },
    #[error(
        "the text holds the special token {token} at byte {offset}: allow it (Specials::Allow) only for text you wrote, or encode it as text (Specials::AsText)"
    )]
    DisallowedSpecial { token: String, offset: usize },
    #[error("the pre-tokenisation regex failed: {0}")]
    Regex(String),
    #[error("ranks file, line {line}: {detail}")]
    File { line: usize, detail: String },
    #[error("unexpected tokenizer data: {0}")]
    Format(String),
    #[error(
        "{model}: {input} input + {output} output tokens exceed its context of {context}: truncate the prompt or split it into windows"
    )]
    ContextFull {
        model: String,
        input: usize,
        output: usize,
        context: usize,
    },
    #[error(transparent)]
    Llm(#[from] wb_llm::LlmError),
    #[error(transparent)]
    Data(#[from] wb_data::DataError),
}

/// Moby-Dick (1.2 MB, the training text of the week), checked against datasets/SHA256SUMS.
pub fn moby_dick() -> Result<String, TokenError> {
    read_text("text/moby_dick.txt.gz")
}

/// One State of the Union address (the shipped corpus holds 79, 1945–2021): the first of `year`.
pub fn sotu(year: u32) -> Result<String, TokenError> {
    let path = wb_data::dataset("text/sotu.jsonl.gz")?;
    #[derive(serde::Deserialize)]
    struct Speech {
        year: u32,
        text: String,
    }
    let speeches: Vec<Speech> = wb_data::read_jsonl(&path)?;
    let years = (
        speeches.iter().map(|s| s.year).min().unwrap_or(0),
        speeches.iter().map(|s| s.year).max().unwrap_or(0),
    );
    speeches
        .into_iter()
        .find(|s| s.year == year)
        .map(|s| s.text)
        .ok_or_else(|| TokenError::InvalidArgument {
            arg: "year".into(),
            detail: format!(
                "{year}: the corpus has addresses from {} to {}",
                years.0, years.1
            ),
        })
}

fn read_text(name: &str) -> Result<String, TokenError> {
    let path = wb_data::dataset(name)?;
    let mut text = String::new();
    wb_data::open(&path)?
        .read_to_string(&mut text)
        .map_err(|e| TokenError::Format(format!("{}: {e}", path.display())))?;
    Ok(text)
}

/// The same short message in six languages (written for this lab): tokenizers trained mostly on
/// English spend more tokens on the others, and a per-token price makes that a cost.
pub const MULTILINGUAL: &[(&str, &str)] = &[
    (
        "English",
        "The whale surfaced at dawn, and the crew rowed out to meet it before the storm.",
    ),
    (
        "French",
        "La baleine a fait surface à l'aube, et l'équipage a ramé à sa rencontre avant la tempête.",
    ),
    (
        "German",
        "Der Wal tauchte im Morgengrauen auf, und die Mannschaft ruderte ihm vor dem Sturm entgegen.",
    ),
    (
        "Russian",
        "Кит всплыл на рассвете, и команда вышла на вёслах ему навстречу до начала шторма.",
    ),
    (
        "Chinese",
        "鲸鱼在黎明时浮出水面，船员们在暴风雨来临前划船迎了上去。",
    ),
    (
        "Japanese",
        "クジラは夜明けに浮上し、乗組員たちは嵐の前に漕ぎ出して迎えに行った。",
    ),
];
