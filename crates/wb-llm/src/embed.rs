//! Sentence embeddings with all-MiniLM-L6-v2: BERT (6 layers, 384 wide) on candle, mean pooling
//! over the real tokens (the padding masked out), then L2 normalisation, so that the dot product
//! of two embeddings is their cosine similarity.

use crate::{LlmError, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::{Path, PathBuf};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The embedding width of all-MiniLM-L6-v2.
pub const DIM: usize = 384;
/// The longest input in tokens; longer texts are truncated (sentence-transformers' setting).
pub const MAX_TOKENS: usize = 256;

/// all-MiniLM-L6-v2, ready to embed.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    pub dir: PathBuf,
    device: Device,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("dir", &self.dir).finish()
    }
}

fn load_err(path: &Path, detail: impl std::fmt::Display) -> LlmError {
    LlmError::Load {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

impl Embedder {
    /// MiniLM from the model cache, fetched first if needed.
    pub fn minilm(say: &mut dyn FnMut(&str)) -> Result<Self> {
        let dir = wb_data::models::ensure_model(&wb_data::models::MINILM, say)?;
        Self::load(&dir)
    }

    /// A BERT folder with `model.safetensors`, `config.json` and `tokenizer.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let device = Device::Cpu;
        let config_path = dir.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|e| load_err(&config_path, e))?;
        let config: Config = serde_json::from_str(&text).map_err(|e| load_err(&config_path, e))?;
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| load_err(&tok_path, e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| load_err(&tok_path, e))?;
        let weights = dir.join("model.safetensors");
        // Reads the file into memory (no memory map: the workbook denies unsafe code).
        let bytes = std::fs::read(&weights).map_err(|e| load_err(&weights, e))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| load_err(&weights, e))?;
        let model = BertModel::load(vb, &config).map_err(|e| load_err(&weights, e))?;
        Ok(Self {
            model,
            tokenizer,
            dir: dir.to_path_buf(),
            device,
        })
    }

    /// The token ids of `text` as the model reads it ([CLS] … [SEP], lower-cased WordPiece).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| LlmError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// One unit-length embedding of 384 numbers per text, computed in one batch (the shorter
    /// texts padded, the padding masked out of attention and of the mean).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(i) = texts.iter().position(|t| t.trim().is_empty()) {
            return Err(LlmError::InvalidArgument {
                arg: format!("texts[{i}]"),
                detail: "empty".into(),
            });
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| LlmError::Tokenizer(e.to_string()))?;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> Vec<u32>| -> Result<Tensor> {
            let data: Vec<Vec<u32>> = encodings.iter().map(f).collect();
            Ok(Tensor::new(data, &self.device)?)
        };
        let ids = rows(&|e| e.get_ids().to_vec())?;
        let types = rows(&|e| e.get_type_ids().to_vec())?;
        let mask = rows(&|e| e.get_attention_mask().to_vec())?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // [n, t, 384]
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // [n, t, 1]
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // [n, 384]
        let counts = mask.sum(1)?; // [n, 1]
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-12)?;
        Ok(mean.broadcast_div(&norms)?.to_vec2::<f32>()?)
    }
}

/// The dot product of two embeddings: their cosine similarity when both have unit length.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
