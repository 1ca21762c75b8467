//! A small GPT (decoder-only transformer) over characters: token and learned position
//! embeddings, pre-LN blocks (causal multi-head attention, an MLP with GELU, residuals), a final
//! layer norm and a linear head. Week 13 trains one; later weeks reuse it.
//!
//! Shapes: tokens `[batch, seq]` (u32), activations `[batch, seq, d_model]`, attention
//! `[batch, heads, seq, seq]`, logits `[batch, seq, vocab]`.

use std::path::Path;

use candle_core::{D, DType, Device, IndexOp, Module, Tensor};
use candle_nn::{Embedding, Linear, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};
use wb_data::SplitMix64;

use crate::sampling::sample;
use crate::text::CharVocab;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Sizes of the model; saved beside its weights as `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GptConfig {
    pub vocab: usize,
    /// The context: the longest sequence the model reads (its position table's length).
    pub ctx: usize,
    pub d_model: usize,
    pub n_heads: usize,
    pub n_layers: usize,
    pub d_ff: usize,
}

impl GptConfig {
    pub fn check(&self) -> Result<(), BoxError> {
        if self.vocab == 0
            || self.ctx == 0
            || self.d_model == 0
            || self.n_layers == 0
            || self.d_ff == 0
        {
            return Err(format!("every size must be at least 1: {self:?}").into());
        }
        if self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) {
            return Err(format!(
                "d_model ({}) must be a multiple of n_heads ({})",
                self.d_model, self.n_heads
            )
            .into());
        }
        Ok(())
    }

    /// The number of parameters.
    pub fn parameters(&self) -> usize {
        let (v, c, d, f) = (self.vocab, self.ctx, self.d_model, self.d_ff);
        let block = 2 * 2 * d + 4 * (d * d + d) + (d * f + f) + (f * d + d);
        v * d + c * d + self.n_layers * block + 2 * d + d * v + v
    }
}

/// Layer normalisation with a learned scale and shift, under candle-nn's names (`weight`,
/// `bias`), computed from differentiable tensor operations. candle-nn 0.11's `LayerNorm`
/// runs a fused kernel on contiguous inputs that has no backward pass: a model built on it
/// trains nothing below its first layer norm (measured: no gradient reached any block).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub eps: f64,
}

impl LayerNorm {
    pub fn new(d: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            weight: vb.get_with_hints(d, "weight", candle_nn::Init::Const(1.0))?,
            bias: vb.get_with_hints(d, "bias", candle_nn::Init::Const(0.0))?,
            eps,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        centred
            .broadcast_div(&(var + self.eps)?.sqrt()?)?
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

/// One pre-LN transformer block.
#[derive(Debug, Clone)]
pub struct Block {
    pub ln1: LayerNorm,
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    pub ln2: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
    n_heads: usize,
}

/// `[t, t]` with 1 where query i may attend to key j (j ≤ i), 0 above the diagonal.
pub fn causal_mask(t: usize, device: &Device) -> candle_core::Result<Tensor> {
    let m: Vec<u8> = (0..t * t).map(|k| u8::from(k % t <= k / t)).collect();
    Tensor::from_vec(m, (t, t), device)
}

impl Block {
    fn new(d: usize, f: usize, n_heads: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            ln1: LayerNorm::new(d, 1e-5, vb.pp("ln1"))?,
            q: candle_nn::linear(d, d, vb.pp("attn.q"))?,
            k: candle_nn::linear(d, d, vb.pp("attn.k"))?,
            v: candle_nn::linear(d, d, vb.pp("attn.v"))?,
            o: candle_nn::linear(d, d, vb.pp("attn.o"))?,
            ln2: LayerNorm::new(d, 1e-5, vb.pp("ln2"))?,
            fc1: candle_nn::linear(d, f, vb.pp("mlp.fc1"))?,
            fc2: candle_nn::linear(f, d, vb.pp("mlp.fc2"))?,
            n_heads,
        })
    }

    /// Causal self-attention of `x` `[b, t, d]`: the output `[b, t, d]` and the attention
    /// weights `[b, heads, t, t]`.
    pub fn attention(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let (b, t, d) = x.dims3()?;
        let hd = d / self.n_heads;
        let split = |y: Tensor| -> candle_core::Result<Tensor> {
            y.reshape((b, t, self.n_heads, hd))?
                .transpose(1, 2)?
                .contiguous() // [b, h, t, hd]
        };
        let q = split(self.q.forward(x)?)?;
        let k = split(self.k.forward(x)?)?;
        let v = split(self.v.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?; // [b, h, t, t]
        let mask = causal_mask(t, x.device())?.broadcast_as(scores.shape())?;
        let neg = Tensor::new(f32::NEG_INFINITY, x.device())?.broadcast_as(scores.shape())?;
        // `softmax`, not the fused `softmax_last_dim`: candle-nn 0.11's fused kernel has no
        // backward pass, so queries and keys would never learn (the attention stays uniform).
        let w = candle_nn::ops::softmax(&mask.where_cond(&scores, &neg)?, D::Minus1)?;
        let y = w.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?; // [b, t, d]
        Ok((self.o.forward(&y)?, w))
    }

    /// `x + attention(ln1(x))`, then `+ fc2(gelu(fc1(ln2(·))))`; also the attention weights.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let (a, w) = self.attention(&self.ln1.forward(x)?)?;
        let x = (x + a)?;
        let m = self
            .fc2
            .forward(&self.fc1.forward(&self.ln2.forward(&x)?)?.gelu()?)?;
        Ok(((x + m)?, w))
    }
}

/// The model.
#[derive(Debug, Clone)]
pub struct Gpt {
    pub config: GptConfig,
    pub tok: Embedding,
    pub pos: Embedding,
    pub blocks: Vec<Block>,
    pub ln_f: LayerNorm,
    pub head: Linear,
}

impl Gpt {
    /// Creates the layers (names `tok`, `pos`, `blocks.N.…`, `ln_f`, `head`) through `vb`.
    pub fn new(config: GptConfig, vb: VarBuilder) -> Result<Self, BoxError> {
        config.check()?;
        let (d, f) = (config.d_model, config.d_ff);
        let blocks = (0..config.n_layers)
            .map(|i| Block::new(d, f, config.n_heads, vb.pp(format!("blocks.{i}"))))
            .collect::<candle_core::Result<Vec<_>>>()?;
        // GPT-2's initialisation of both tables, N(0, 0.02²): candle-nn's `embedding` draws from
        // N(0, 1), which drowns the token in position noise after the first layer norm (the copy
        // task of week 13 learned several times slower with it).
        let small = candle_nn::Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        };
        let table = |rows: usize, name: &str| -> candle_core::Result<Embedding> {
            Ok(Embedding::new(
                vb.get_with_hints((rows, d), &format!("{name}.weight"), small)?,
                d,
            ))
        };
        Ok(Self {
            tok: table(config.vocab, "tok")?,
            pos: table(config.ctx, "pos")?,
            ln_f: LayerNorm::new(d, 1e-5, vb.pp("ln_f"))?,
            head: candle_nn::linear(d, config.vocab, vb.pp("head"))?,
            blocks,
            config,
        })
    }

    /// Refuses a sequence longer than the context, or empty.
    pub fn check_tokens(&self, tokens: &Tensor) -> Result<(usize, usize), BoxError> {
        let (b, t) = tokens
            .dims2()
            .map_err(|_| format!("tokens: expected [batch, seq], got {:?}", tokens.dims()))?;
        if t == 0 || t > self.config.ctx {
            return Err(format!(
                "tokens: a sequence of {t} tokens, but the model's context is 1 to {} tokens",
                self.config.ctx
            )
            .into());
        }
        Ok((b, t))
    }

    /// Logits `[batch, seq, vocab]` and every block's attention weights `[batch, heads, seq, seq]`.
    pub fn forward_with_attention(
        &self,
        tokens: &Tensor,
    ) -> Result<(Tensor, Vec<Tensor>), BoxError> {
        let (_, t) = self.check_tokens(tokens)?;
        let positions = Tensor::arange(0u32, t as u32, tokens.device())?;
        let mut x = self
            .tok
            .forward(tokens)?
            .broadcast_add(&self.pos.forward(&positions)?)?;
        let mut weights = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let (y, w) = block.forward(&x)?;
            x = y;
            weights.push(w);
        }
        Ok((self.head.forward(&self.ln_f.forward(&x)?)?, weights))
    }

    /// Logits `[batch, seq, vocab]`.
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor, BoxError> {
        Ok(self.forward_with_attention(tokens)?.0)
    }

    /// Mean cross-entropy of predicting `targets` from `tokens`, both `[batch, seq]`.
    pub fn loss(&self, tokens: &Tensor, targets: &Tensor) -> Result<Tensor, BoxError> {
        let logits = self.forward(tokens)?;
        let (b, t, v) = logits.dims3()?;
        Ok(candle_nn::loss::cross_entropy(
            &logits.reshape((b * t, v))?,
            &targets.reshape(b * t)?,
        )?)
    }

    /// Feeds `prompt`, then samples `n` characters at `temperature`, reading at most the last
    /// `ctx` characters each time. A prompt character outside the vocabulary is an error.
    pub fn generate(
        &self,
        vocab: &CharVocab,
        prompt: &str,
        n: usize,
        temperature: f64,
        rng: &mut SplitMix64,
    ) -> Result<String, BoxError> {
        let mut ids = vocab.encode_prompt(prompt)?;
        let start = ids.len();
        for _ in 0..n {
            let from = ids.len().saturating_sub(self.config.ctx);
            let window = Tensor::new(&ids[from..], &Device::Cpu)?.unsqueeze(0)?;
            let logits = self.forward(&window)?; // [1, t, vocab]
            let last = logits
                .i((0, logits.dim(1)? - 1))?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?;
            ids.push(sample(&last, temperature, rng)? as u32);
        }
        Ok(vocab.decode(&ids[start..])?)
    }

    /// Saves the weights (`model.safetensors`) and the config (`config.json`) into `dir`.
    pub fn save(&self, varmap: &VarMap, dir: &Path) -> Result<(), BoxError> {
        std::fs::create_dir_all(dir)?;
        varmap.save(dir.join("model.safetensors"))?;
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_string_pretty(&self.config)?,
        )?;
        Ok(())
    }

    /// Rebuilds a model from `dir` (as [`Gpt::save`] wrote it). Every tensor must be present
    /// with its shape; on any error no model is returned (never half a model).
    pub fn load(dir: &Path) -> Result<(Gpt, VarMap), BoxError> {
        let cfg_path = dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path)
            .map_err(|e| format!("cannot read {}: {e}", cfg_path.display()))?;
        let config: GptConfig = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a GPT config: {e}", cfg_path.display()))?;
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let model = Gpt::new(config, vb)?;
        let weights = dir.join("model.safetensors");
        varmap
            .load(&weights)
            .map_err(|e| format!("cannot load {}: {e}", weights.display()))?;
        Ok((model, varmap))
    }
}
