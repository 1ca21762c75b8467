//! SmolLM2's tokenizer, built from the vocabulary and merges inside its GGUF file.
//!
//! The model was trained with a byte-level BPE (GPT-2's scheme): the text is split by a
//! pre-tokeniser into digits (one per piece) and GPT-2's word pieces, each piece's UTF-8 bytes are
//! mapped to printable characters, and the merges join them into tokens. No space is added in
//! front of the text. The 17 control tokens (`<|im_start|>`, `<|im_end|>`, `<|endoftext|>`, …)
//! are single ids that the text of a message can never produce by accident: they are matched
//! before the BPE runs.
//!
//! candle's own `Tokenizer::from_gguf` configures GPT-2's pre-tokeniser, which adds a space
//! before words that follow a special token and splits numbers differently; this module builds
//! the tokenizer the way the model's `tokenizer.json` does, with the `tokenizers` crate.

use crate::{LlmError, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

/// GGUF's token type of a control token (`tokenizer.ggml.token_type`).
const CONTROL: i32 = 3;

/// A tokenizer with the ids of the tokens generation needs.
#[derive(Clone)]
pub struct ChatTokenizer {
    inner: Tokenizer,
    /// The end-of-sequence id (`<|im_end|>` ends an assistant turn in the chat template; the
    /// GGUF's EOS, `<|endoftext|>`, ends a document).
    pub eos: Vec<u32>,
    /// The control tokens, by id.
    pub specials: Vec<(u32, String)>,
    /// The bytes that have no token of their own. SmolLM2's vocabulary lacks 21 of the 256
    /// (six rare control characters, and lead bytes of code points U+40000–U+BFFFF or of no
    /// valid UTF-8 at all): a byte-level BPE would silently drop them, so [`Self::encode`]
    /// refuses text containing them instead.
    pub missing_bytes: Vec<u8>,
}

impl std::fmt::Debug for ChatTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTokenizer")
            .field("vocab", &self.vocab_size())
            .field("eos", &self.eos)
            .finish()
    }
}

fn strings(ct: &Content, key: &str) -> Result<Vec<String>> {
    match ct.metadata.get(key) {
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(LlmError::Format(format!(
                    "{key}: expected strings, found {other:?}"
                ))),
            })
            .collect(),
        _ => Err(LlmError::Format(format!(
            "the GGUF has no string array `{key}`"
        ))),
    }
}

// ANCHOR: byte_char
/// The character GPT-2's byte-level BPE writes for byte `b`: printable bytes stand for
/// themselves, the others are shifted past U+0100 in order.
fn byte_char(b: u8) -> char {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    if printable(b) {
        char::from(b)
    } else {
        let shift = (0..b).filter(|&x| !printable(x)).count() as u32;
        char::from_u32(256 + shift).unwrap_or('?')
    }
}
// ANCHOR_END: byte_char

fn u32_of(ct: &Content, key: &str) -> Result<u32> {
    ct.metadata
        .get(key)
        .and_then(|v| v.to_u32().ok())
        .ok_or_else(|| LlmError::Format(format!("the GGUF has no integer `{key}`")))
}

impl ChatTokenizer {
    /// The tokenizer described by a GGUF's `tokenizer.ggml.*` metadata (a `gpt2` BPE).
    pub fn from_gguf(ct: &Content) -> Result<Self> {
        match ct.metadata.get("tokenizer.ggml.model") {
            Some(Value::String(m)) if m == "gpt2" => {}
            other => {
                return Err(LlmError::Format(format!(
                    "tokenizer.ggml.model: expected `gpt2` (byte-level BPE), found {other:?}"
                )));
            }
        }
        let tokens = strings(ct, "tokenizer.ggml.tokens")?;
        let merges = strings(ct, "tokenizer.ggml.merges")?;
        let types: Vec<i32> = match ct.metadata.get("tokenizer.ggml.token_type") {
            Some(Value::Array(v)) => v.iter().map(|t| t.to_i32().unwrap_or(1)).collect(),
            _ => vec![1; tokens.len()],
        };
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        if vocab.len() != tokens.len() {
            return Err(LlmError::Format(
                "tokenizer.ggml.tokens holds duplicates".into(),
            ));
        }
        let merges = merges
            .iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| LlmError::Format(format!("merge `{m}` is not two tokens")))
            })
            .collect::<Result<Vec<_>>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| LlmError::Format(format!("BPE: {e}")))?;
        let mut inner = Tokenizer::new(bpe);
        let digits: PreTokenizerWrapper = Digits::new(true).into();
        let bytes: PreTokenizerWrapper = ByteLevel::new(false, true, true).into();
        inner.with_pre_tokenizer(Some(Sequence::new(vec![digits, bytes])));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        let specials: Vec<(u32, String)> = tokens
            .iter()
            .zip(&types)
            .enumerate()
            .filter(|(_, (_, t))| **t == CONTROL)
            .map(|(i, (s, _))| (i as u32, s.clone()))
            .collect();
        inner
            .add_special_tokens(
                specials
                    .iter()
                    .map(|(_, s)| AddedToken::from(s.clone(), true)),
            )
            .map_err(|e| LlmError::Format(format!("special tokens: {e}")))?;
        let single: std::collections::HashSet<char> = tokens
            .iter()
            .filter_map(|t| {
                let mut chars = t.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some(c),
                    _ => None,
                }
            })
            .collect();
        let missing_bytes = (0..=255u8)
            .filter(|&b| !single.contains(&byte_char(b)))
            .collect();
        let mut eos = vec![u32_of(ct, "tokenizer.ggml.eos_token_id")?];
        if let Some((id, _)) = specials.iter().find(|(_, s)| s == "<|im_end|>") {
            eos.push(*id);
        }
        Ok(Self {
            inner,
            eos,
            specials,
            missing_bytes,
        })
    }

    /// The ids of `text`; control tokens written in the text are single ids. Refuses a text
    /// with a character the vocabulary cannot represent (see `missing_bytes`), naming it.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        if let Some((at, c)) = text.char_indices().find(|(_, c)| {
            c.to_string()
                .bytes()
                .any(|b| self.missing_bytes.contains(&b))
        }) {
            return Err(LlmError::InvalidArgument {
                arg: "text".into(),
                detail: format!(
                    "character U+{:04X} at byte {at} has no tokens in the model's vocabulary (one of its UTF-8 bytes never occurred in training): remove or replace it",
                    c as u32
                ),
            });
        }
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| LlmError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// The text of `ids`, control tokens included (a byte sequence that is not complete UTF-8
    /// yet decodes to U+FFFD).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| LlmError::Tokenizer(e.to_string()))
    }

    /// The number of tokens, control tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token written as it is in the vocabulary (`<|im_end|>`).
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The token of an id, as the vocabulary writes it (byte-level characters: `Ġ` is a space).
    pub fn id_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }
}
