//! A small GPT (decoder-only transformer) over characters: token and learned position
//! embeddings, pre-LN blocks (causal multi-head attention, an MLP with GELU, residuals), a final
//! layer norm and a linear head. Week 13 trains one; later weeks reuse it.
//!
//! Shapes: tokens `[batch, seq]` (u32), activations `[batch, seq, d_model]`, attention
//! `[batch, heads, seq, seq]`, logits `[batch, seq, vocab]`.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{D, DType, Device, IndexOp, Module, Tensor};
use candle_nn::{Embedding, Linear, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};
use wb_data::SplitMix64;

use crate::error::{ModelError, ModelResult};
use crate::sampling::sample;
use crate::text::CharVocab;

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
    pub fn check(&self) -> ModelResult<()> {
        if self.vocab == 0
            || self.ctx == 0
            || self.d_model == 0
            || self.n_layers == 0
            || self.d_ff == 0
        {
            return Err(ModelError::Invalid(format!(
                "every size must be at least 1: {self:?}"
            )));
        }
        if self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) {
            return Err(ModelError::Invalid(format!(
                "d_model ({}) must be a multiple of n_heads ({})",
                self.d_model, self.n_heads
            )));
        }
        Ok(())
    }

    /// The name and shape of every tensor of a model of this config, as [`Gpt::new`] creates
    /// them and [`Gpt::save`] writes them; computed without allocating any.
    pub fn tensor_shapes(&self) -> BTreeMap<String, Vec<usize>> {
        let (v, c, d, f) = (self.vocab, self.ctx, self.d_model, self.d_ff);
        let mut shapes = BTreeMap::new();
        let mut add = |name: String, shape: &[usize]| {
            shapes.insert(name, shape.to_vec());
        };
        add("tok.weight".into(), &[v, d]);
        add("pos.weight".into(), &[c, d]);
        for i in 0..self.n_layers {
            let p = format!("blocks.{i}");
            for ln in ["ln1", "ln2"] {
                add(format!("{p}.{ln}.weight"), &[d]);
                add(format!("{p}.{ln}.bias"), &[d]);
            }
            for m in ["q", "k", "v", "o"] {
                add(format!("{p}.attn.{m}.weight"), &[d, d]);
                add(format!("{p}.attn.{m}.bias"), &[d]);
            }
            add(format!("{p}.mlp.fc1.weight"), &[f, d]);
            add(format!("{p}.mlp.fc1.bias"), &[f]);
            add(format!("{p}.mlp.fc2.weight"), &[d, f]);
            add(format!("{p}.mlp.fc2.bias"), &[d]);
        }
        add("ln_f.weight".into(), &[d]);
        add("ln_f.bias".into(), &[d]);
        add("head.weight".into(), &[v, d]);
        add("head.bias".into(), &[v]);
        shapes
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
    pub fn new(config: GptConfig, vb: VarBuilder) -> ModelResult<Self> {
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
    pub fn check_tokens(&self, tokens: &Tensor) -> ModelResult<(usize, usize)> {
        let (b, t) = tokens
            .dims2()
            .map_err(|_| wb_core::MlError::ShapeMismatch {
                arg: "tokens".into(),
                expected: "[batch, seq]".into(),
                got: wb_core::shape_str(tokens.dims()),
            })?;
        if t == 0 || t > self.config.ctx {
            return Err(wb_core::MlError::InvalidArgument {
                arg: "tokens".into(),
                detail: format!(
                    "a sequence of {t} tokens, but the model's context is 1 to {} tokens",
                    self.config.ctx
                ),
            }
            .into());
        }
        Ok((b, t))
    }

    /// Logits `[batch, seq, vocab]` and every block's attention weights `[batch, heads, seq, seq]`.
    pub fn forward_with_attention(&self, tokens: &Tensor) -> ModelResult<(Tensor, Vec<Tensor>)> {
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
    pub fn forward(&self, tokens: &Tensor) -> ModelResult<Tensor> {
        Ok(self.forward_with_attention(tokens)?.0)
    }

    /// Mean cross-entropy of predicting `targets` from `tokens`, both `[batch, seq]`.
    pub fn loss(&self, tokens: &Tensor, targets: &Tensor) -> ModelResult<Tensor> {
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
    ) -> ModelResult<String> {
        if vocab.len() != self.config.vocab {
            return Err(ModelError::Invalid(format!(
                "the model predicts {} characters but the vocabulary has {}: a model and the vocabulary it was trained with go together",
                self.config.vocab,
                vocab.len()
            )));
        }
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
    pub fn save(&self, varmap: &VarMap, dir: &Path) -> ModelResult<()> {
        let fail = |path: &Path, e: &dyn std::fmt::Display| ModelError::File {
            path: path.to_path_buf(),
            detail: format!("cannot write: {e}"),
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, &e))?;
        let weights = dir.join("model.safetensors");
        varmap.save(&weights).map_err(|e| fail(&weights, &e))?;
        let config = dir.join("config.json");
        let json = serde_json::to_string_pretty(&self.config).map_err(|e| fail(&config, &e))?;
        std::fs::write(&config, json).map_err(|e| fail(&config, &e))?;
        Ok(())
    }

    /// Rebuilds a model from `dir` (as [`Gpt::save`] wrote it). The file's tensors must be
    /// exactly the config's ([`GptConfig::tensor_shapes`]): none missing, none of another shape,
    /// none left over (a config with fewer layers than the weights is refused, not loaded with
    /// weights ignored), and every value finite. All of it is checked against the tensors the file
    /// holds before the model is built, so a config with absurd sizes allocates nothing. On any
    /// error no model is returned (never half a model).
    pub fn load(dir: &Path) -> ModelResult<(Gpt, VarMap)> {
        let file = |path: &Path, detail: String| ModelError::File {
            path: path.to_path_buf(),
            detail,
        };
        let cfg_path = dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path)
            .map_err(|e| file(&cfg_path, format!("cannot read: {e}")))?;
        let config: GptConfig = serde_json::from_str(&text)
            .map_err(|e| file(&cfg_path, format!("not a GPT config: {e}")))?;
        config.check()?;
        let weights = dir.join("model.safetensors");
        let tensors = candle_core::safetensors::load(&weights, &Device::Cpu)
            .map_err(|e| file(&weights, format!("cannot load: {e}")))?;
        let expected = config.tensor_shapes();
        let mut problems = Vec::new();
        for (name, shape) in &expected {
            match tensors.get(name) {
                None => problems.push(format!("`{name}` is missing")),
                Some(t) if t.dims() != shape.as_slice() => problems.push(format!(
                    "`{name}` is {:?}, the config needs {shape:?}",
                    t.dims()
                )),
                Some(_) => {}
            }
        }
        let mut unused: Vec<&String> = tensors
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .collect();
        unused.sort();
        if !unused.is_empty() {
            problems.push(format!(
                "{} tensor(s) that this config does not use, such as `{}` (does config.json have fewer layers or heads than the weights?)",
                unused.len(),
                unused[0]
            ));
        }
        if !problems.is_empty() {
            return Err(file(
                &weights,
                format!(
                    "does not match {}: {}",
                    cfg_path.display(),
                    problems.join("; ")
                ),
            ));
        }
        for (name, t) in &tensors {
            let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(file(
                    &weights,
                    format!("`{name}` holds {} at flat index {i}", values[i]),
                ));
            }
        }
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let model = Gpt::new(config, vb)?;
        for (name, t) in tensors {
            varmap.set_one(name, t.to_dtype(DType::F32)?)?;
        }
        Ok((model, varmap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> GptConfig {
        GptConfig {
            vocab: 5,
            ctx: 4,
            d_model: 8,
            n_heads: 2,
            n_layers: 2,
            d_ff: 16,
        }
    }

    fn saved(config: &GptConfig, dir: &Path) -> (Gpt, VarMap) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let model = Gpt::new(config.clone(), vb).unwrap();
        model.save(&varmap, dir).unwrap();
        (model, varmap)
    }

    fn load_error(dir: &Path) -> String {
        match Gpt::load(dir) {
            Ok(_) => panic!("{} loaded", dir.display()),
            Err(e) => e.to_string(),
        }
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("wb-models-{name}-{}", std::process::id()))
    }

    #[test]
    fn tensor_shapes_are_those_the_model_creates_and_count_its_parameters() {
        let config = tiny();
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        Gpt::new(config.clone(), vb).unwrap();
        let built: BTreeMap<String, Vec<usize>> = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.dims().to_vec()))
            .collect();
        assert_eq!(built, config.tensor_shapes());
        let count: usize = built.values().map(|s| s.iter().product::<usize>()).sum();
        assert_eq!(count, config.parameters());
    }

    #[test]
    fn load_gives_back_the_same_model() {
        let dir = temp_dir("round-trip");
        let (model, _) = saved(&tiny(), &dir);
        let (again, _) = Gpt::load(&dir).unwrap();
        let tokens = Tensor::new(&[[0u32, 3, 1, 4]], &Device::Cpu).unwrap();
        let diff = (model.forward(&tokens).unwrap() - again.forward(&tokens).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(diff, 0.0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_refuses_a_config_that_does_not_match_its_weights() {
        let dir = temp_dir("mismatch");
        saved(&tiny(), &dir);
        let write_config = |c: &GptConfig| {
            std::fs::write(dir.join("config.json"), serde_json::to_string(c).unwrap()).unwrap()
        };
        // Fewer layers than the weights: the third block's tensors would be ignored.
        write_config(&GptConfig {
            n_layers: 1,
            ..tiny()
        });
        let err = load_error(&dir);
        assert!(
            err.contains("this config does not use") && err.contains("blocks.1."),
            "{err}"
        );
        // A huge width is refused from the file's shapes, before anything is allocated.
        write_config(&GptConfig {
            d_model: 1 << 20,
            n_heads: 2,
            ..tiny()
        });
        let err = load_error(&dir);
        assert!(
            err.contains("`tok.weight` is [5, 8], the config needs [5, 1048576]"),
            "{err}"
        );
        // More layers than the weights.
        write_config(&GptConfig {
            n_layers: 3,
            ..tiny()
        });
        let err = load_error(&dir);
        assert!(err.contains("`blocks.2.attn.k.bias` is missing"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_refuses_non_finite_weights_and_generate_a_vocabulary_of_another_size() {
        let dir = temp_dir("nan");
        let (model, varmap) = saved(&tiny(), &dir);
        let bad = VarMap::new();
        for (name, var) in varmap.data().lock().unwrap().iter() {
            let mut t = var.as_tensor().clone();
            if name == "ln_f.bias" {
                t = Tensor::new(
                    &[0f32, 0.0, f32::NAN, 0.0, 0.0, 0.0, 0.0, 0.0],
                    &Device::Cpu,
                )
                .unwrap();
            }
            bad.data()
                .lock()
                .unwrap()
                .insert(name.clone(), candle_core::Var::from_tensor(&t).unwrap());
        }
        bad.save(dir.join("model.safetensors")).unwrap();
        let err = load_error(&dir);
        assert!(
            err.contains("`ln_f.bias` holds NaN at flat index 2"),
            "{err}"
        );
        let vocab = CharVocab::from_text("abcdefg").unwrap();
        let mut rng = SplitMix64::new(1);
        let err = model
            .generate(&vocab, "ab", 3, 1.0, &mut rng)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("predicts 5 characters but the vocabulary has 7"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
