//! SmolLM2 in f32 on candle's automatic differentiation: the model fine-tuning trains.
//!
//! [`crate::llama`] runs the GGUF's packed weights as fast as two cores allow, but cannot learn:
//! its products are hand-written kernels with no gradients. Here every weight is expanded to an
//! f32 tensor (540 MB for the 135M model) and the forward pass is written with tensor operations
//! that candle can differentiate: RMSNorm, rotary positions and softmax from their plain
//! definitions (candle's fused kernels for them have no backward pass), causal attention over
//! grouped key/value heads, a SwiGLU feed-forward layer, the output layer tied to the embedding.
//!
//! The weights are frozen (plain tensors, which backpropagation never differentiates) until
//! [`TrainableLlama::unfreeze`] turns them into variables for a full fine-tune. Each projection
//! ([`Linear`]) can carry an [`Adapter`] whose output is added to the frozen product: LoRA is one.
//!
//! The GGUF stores the query and key projections with their rows permuted for llama.cpp's
//! rotation of interleaved pairs (2i, 2i + 1). This model undoes that permutation at load and
//! rotates halves (i, i + head_dim/2) as the original checkpoint does, so its tensors — and any
//! adapter trained on them — have the layout and the names of the Hugging Face model
//! (`model.layers.{i}.self_attn.q_proj.weight`, …).

use crate::{LlmError, Result};
use candle_core::quantized::gguf_file;
use candle_core::{D, DType, Device, Tensor, Var};
use std::io::{Read, Seek};
use std::path::Path;
use std::sync::Arc;

/// The shape of a Llama-architecture model, read from the GGUF's metadata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    pub vocab: usize,
    pub dim: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    pub eps: f64,
    pub rope_base: f64,
    /// The most positions the model was trained on.
    pub context: usize,
}

impl Config {
    /// The width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.dim / self.heads
    }

    /// The output width of a projection (its weight's rows) and its input width (columns).
    pub fn shape(&self, p: Projection) -> (usize, usize) {
        let kv = self.kv_heads * self.head_dim();
        match p {
            Projection::Q | Projection::O => (self.dim, self.dim),
            Projection::K | Projection::V => (kv, self.dim),
            Projection::Gate | Projection::Up => (self.ffn, self.dim),
            Projection::Down => (self.dim, self.ffn),
        }
    }
}

/// The seven weight matrices of a transformer block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Projection {
    Q,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
}

impl Projection {
    pub const ALL: [Projection; 7] = [
        Projection::Q,
        Projection::K,
        Projection::V,
        Projection::O,
        Projection::Gate,
        Projection::Up,
        Projection::Down,
    ];

    /// The name inside a block, as the Hugging Face checkpoint (and PEFT) spell it.
    pub fn name(self) -> &'static str {
        match self {
            Projection::Q => "self_attn.q_proj",
            Projection::K => "self_attn.k_proj",
            Projection::V => "self_attn.v_proj",
            Projection::O => "self_attn.o_proj",
            Projection::Gate => "mlp.gate_proj",
            Projection::Up => "mlp.up_proj",
            Projection::Down => "mlp.down_proj",
        }
    }

    /// The tensor's name in a GGUF (`blk.{i}.` before it).
    fn gguf_name(self) -> &'static str {
        match self {
            Projection::Q => "attn_q",
            Projection::K => "attn_k",
            Projection::V => "attn_v",
            Projection::O => "attn_output",
            Projection::Gate => "ffn_gate",
            Projection::Up => "ffn_up",
            Projection::Down => "ffn_down",
        }
    }
}

/// Something added to a projection's output: `y = x·Wᵀ + adapter(x)`. `x` is `n × in`, the
/// result must be `n × out`.
pub trait Adapter: Send + Sync + std::fmt::Debug {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor>;
}

/// One projection: a weight `out × in` (no bias in Llama) and an optional adapter.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    adapter: Option<Arc<dyn Adapter>>,
}

impl Linear {
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Replaces the weight (merging an adapter into it, say) by one of the same shape.
    pub fn set_weight(&mut self, weight: Tensor) -> Result<()> {
        if weight.dims() != self.weight.dims() || weight.dtype() != self.weight.dtype() {
            return Err(LlmError::InvalidArgument {
                arg: "weight".into(),
                detail: format!(
                    "expected {:?} {:?}, got {:?} {:?}",
                    self.weight.dims(),
                    self.weight.dtype(),
                    weight.dims(),
                    weight.dtype()
                ),
            });
        }
        self.weight = weight;
        Ok(())
    }

    pub fn adapter(&self) -> Option<&Arc<dyn Adapter>> {
        self.adapter.as_ref()
    }

    /// Attaches an adapter (or removes it with `None`), returning the one it replaces.
    pub fn set_adapter(&mut self, adapter: Option<Arc<dyn Adapter>>) -> Option<Arc<dyn Adapter>> {
        std::mem::replace(&mut self.adapter, adapter)
    }

    /// `x·Wᵀ (+ adapter(x))` for `x` of `n × in`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = times_transposed(x, &self.weight)?;
        match &self.adapter {
            Some(a) => y + a.forward(x)?,
            None => Ok(y),
        }
    }
}

/// `x·Wᵀ`. When a gradient flows through `x` but `W` is frozen (a plain tensor), the product is
/// one custom op whose backward pass computes `x`'s gradient only: candle 0.11's backward of a
/// matrix product computes the gradient of both operands, so a plain `matmul` would form (and
/// throw away) an `out × in` gradient for every frozen weight at every step — the whole cost of
/// a full fine-tune's weight gradients, in a LoRA run.
fn times_transposed(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    if x.track_op() && !w.track_op() && x.device().is_cpu() && x.rank() == 2 {
        x.contiguous()?.apply_op1(FrozenProduct { w: w.clone() })
    } else {
        x.matmul(&w.t()?)
    }
}

/// `x·Wᵀ` with `W` frozen: see [`times_transposed`].
struct FrozenProduct {
    w: Tensor,
}

impl candle_core::CustomOp1 for FrozenProduct {
    fn name(&self) -> &'static str {
        "frozen-product"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use candle_core::{CpuStorage, Storage};
        let (CpuStorage::F32(x), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("frozen-product: expected contiguous f32 input");
        };
        // The same product as the plain path, on a copy of x that tracks nothing.
        let x = Tensor::from_slice(&x[start..end], layout.shape(), &Device::Cpu)?;
        let y = x.matmul(&self.w.t()?)?;
        let (out, out_layout) = y.storage_and_layout();
        let (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) =
            (&*out, out_layout.contiguous_offsets())
        else {
            candle_core::bail!("frozen-product: expected a contiguous f32 product");
        };
        Ok((CpuStorage::F32(v[a..b].to_vec()), y.shape().clone()))
    }

    /// `∂L/∂x = ∂L/∂y · W`; `W` gets nothing.
    fn bwd(&self, _x: &Tensor, _y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad.matmul(&self.w)?))
    }
}

#[derive(Debug, Clone)]
struct Block {
    attn_norm: Tensor,
    ffn_norm: Tensor,
    /// In [`Projection::ALL`]'s order.
    proj: Vec<Linear>,
}

/// A Llama-architecture model with f32 weights, differentiable end to end.
#[derive(Debug, Clone)]
pub struct TrainableLlama {
    pub config: Config,
    embedding: Tensor,
    /// The output layer when it is not the embedding (tied weights, as in SmolLM2).
    output: Option<Tensor>,
    blocks: Vec<Block>,
    norm: Tensor,
}

fn invalid(arg: &str, detail: impl Into<String>) -> LlmError {
    LlmError::InvalidArgument {
        arg: arg.into(),
        detail: detail.into(),
    }
}

fn format_err(detail: impl Into<String>) -> LlmError {
    LlmError::Format(detail.into())
}

/// Undoes llama.cpp's permutation of a query or key weight (`heads · head_dim` rows): the GGUF's
/// row `h·d + 2i + j` (pair i, member j of head h) is the checkpoint's row `h·d + j·d/2 + i`.
pub fn unpermute_rows(w: &Tensor, heads: usize) -> Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    if heads == 0 || !rows.is_multiple_of(heads) || !(rows / heads).is_multiple_of(2) {
        return Err(invalid(
            "heads",
            format!("{rows} rows in {heads} heads: expected an even number of rows per head"),
        ));
    }
    let half = rows / heads / 2;
    Ok(w.reshape((heads, half, 2, cols))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((rows, cols))?)
}

/// `x / √(mean(x²) + ε) · weight` over the last dimension.
fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let mean_square = x.sqr()?.mean_keepdim(D::Minus1)?;
    x.broadcast_div(&(mean_square + eps)?.sqrt()?)?
        .broadcast_mul(weight)
}

impl TrainableLlama {
    /// SmolLM2 from the model cache, fetched first if needed (`say` hears about it).
    pub fn smollm2(say: &mut dyn FnMut(&str)) -> Result<Self> {
        let dir = wb_data::models::ensure_model(&wb_data::models::SMOLLM2, say)?;
        Self::load(&dir.join(wb_data::models::SMOLLM2.files[0].name))
    }

    /// A llama-architecture GGUF, every tensor expanded to f32.
    pub fn load(path: &Path) -> Result<Self> {
        let load_err = |detail: String| LlmError::Load {
            path: path.to_path_buf(),
            detail,
        };
        let mut file = std::fs::File::open(path).map_err(|e| load_err(e.to_string()))?;
        let ct = gguf_file::Content::read(&mut file).map_err(|e| load_err(e.to_string()))?;
        Self::from_gguf(&ct, &mut file).map_err(|e| load_err(e.to_string()))
    }

    /// Reads the model from a GGUF (tensors by their llama.cpp names).
    pub fn from_gguf<R: Read + Seek>(ct: &gguf_file::Content, reader: &mut R) -> Result<Self> {
        let device = Device::Cpu;
        let meta = |key: &str| {
            ct.metadata
                .get(key)
                .ok_or_else(|| format_err(format!("the GGUF has no {key}")))
        };
        let count = |key: &str| -> Result<usize> { Ok(meta(key)?.to_u32()? as usize) };
        let mut tensor = |name: &str| -> Result<Tensor> {
            let q = ct
                .tensor(reader, name, &device)
                .map_err(|e| format_err(format!("{name}: {e}")))?;
            Ok(q.dequantize(&device)?.to_dtype(DType::F32)?)
        };
        let embedding = tensor("token_embd.weight")?;
        let (vocab, dim) = embedding.dims2()?;
        let config = Config {
            vocab,
            dim,
            layers: count("llama.block_count")?,
            heads: count("llama.attention.head_count")?,
            kv_heads: count("llama.attention.head_count_kv")?,
            ffn: count("llama.feed_forward_length")?,
            eps: f64::from(meta("llama.attention.layer_norm_rms_epsilon")?.to_f32()?),
            rope_base: f64::from(
                meta("llama.rope.freq_base").map_or(Ok(10_000.0), |v| v.to_f32())?,
            ),
            context: count("llama.context_length")?,
        };
        if config.heads == 0
            || config.kv_heads == 0
            || !config.heads.is_multiple_of(config.kv_heads)
            || !dim.is_multiple_of(config.heads)
            || !config.head_dim().is_multiple_of(2)
            || count("llama.embedding_length")? != dim
        {
            return Err(format_err(format!(
                "{} heads, {} key/value heads, width {dim}: expected heads a multiple of the key/value heads, an even head width and the embedding's width in the metadata",
                config.heads, config.kv_heads
            )));
        }
        let output = if ct.tensor_infos.contains_key("output.weight") {
            Some(tensor("output.weight")?)
        } else {
            None
        };
        let mut blocks = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let mut proj = Vec::with_capacity(7);
            for p in Projection::ALL {
                let name = format!("blk.{i}.{}.weight", p.gguf_name());
                let mut w = tensor(&name)?;
                match p {
                    Projection::Q => w = unpermute_rows(&w, config.heads)?,
                    Projection::K => w = unpermute_rows(&w, config.kv_heads)?,
                    _ => {}
                }
                if w.dims2()? != config.shape(p) {
                    return Err(format_err(format!(
                        "{name} is {:?}: expected {:?}",
                        w.dims(),
                        config.shape(p)
                    )));
                }
                proj.push(Linear {
                    weight: w,
                    adapter: None,
                });
            }
            blocks.push(Block {
                attn_norm: tensor(&format!("blk.{i}.attn_norm.weight"))?,
                ffn_norm: tensor(&format!("blk.{i}.ffn_norm.weight"))?,
                proj,
            });
        }
        let norm = tensor("output_norm.weight")?;
        Ok(Self {
            config,
            embedding,
            output,
            blocks,
            norm,
        })
    }

    /// Block `layer`'s projection `p`.
    pub fn linear(&self, layer: usize, p: Projection) -> Result<&Linear> {
        let layers = self.blocks.len();
        self.blocks
            .get(layer)
            .map(|b| &b.proj[p as usize])
            .ok_or_else(|| invalid("layer", format!("{layer}: the model has {layers} layers")))
    }

    pub fn linear_mut(&mut self, layer: usize, p: Projection) -> Result<&mut Linear> {
        let layers = self.blocks.len();
        self.blocks
            .get_mut(layer)
            .map(|b| &mut b.proj[p as usize])
            .ok_or_else(|| invalid("layer", format!("{layer}: the model has {layers} layers")))
    }

    /// Every weight with its Hugging Face name, in a fixed order.
    fn named_weights_mut(&mut self) -> Vec<(String, &mut Tensor)> {
        let mut all = vec![("model.embed_tokens.weight".to_string(), &mut self.embedding)];
        if let Some(o) = &mut self.output {
            all.push(("lm_head.weight".into(), o));
        }
        for (i, b) in self.blocks.iter_mut().enumerate() {
            let p = format!("model.layers.{i}.");
            all.push((format!("{p}input_layernorm.weight"), &mut b.attn_norm));
            all.push((
                format!("{p}post_attention_layernorm.weight"),
                &mut b.ffn_norm,
            ));
            for (proj, linear) in Projection::ALL.iter().zip(&mut b.proj) {
                all.push((format!("{p}{}.weight", proj.name()), &mut linear.weight));
            }
        }
        all.push(("model.norm.weight".into(), &mut self.norm));
        all
    }

    /// The number of weights of the model (adapters not counted).
    pub fn parameters(&self) -> usize {
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| {
                b.attn_norm.elem_count()
                    + b.ffn_norm.elem_count()
                    + b.proj.iter().map(|l| l.weight.elem_count()).sum::<usize>()
            })
            .sum();
        self.embedding.elem_count()
            + self.output.as_ref().map_or(0, Tensor::elem_count)
            + blocks
            + self.norm.elem_count()
    }

    /// Turns every weight into a trainable variable (a full fine-tune) and returns them by
    /// name, sorted (the order `wb_train`'s optimiser and checkpoints use). Variables share
    /// their storage with the model: an optimiser step changes the model.
    pub fn unfreeze(&mut self) -> Result<Vec<(String, Var)>> {
        let mut vars = Vec::new();
        for (name, t) in self.named_weights_mut() {
            let var = Var::from_tensor(t)?;
            *t = var.as_tensor().clone();
            vars.push((name, var));
        }
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(vars)
    }

    /// Freezes every weight again (plain tensors holding the variables' current values).
    pub fn freeze(&mut self) {
        for (_, t) in self.named_weights_mut() {
            *t = t.detach();
        }
    }

    /// The final hidden states (after the last RMSNorm) of a batch of token ids, `b × t`
    /// (`u32`): `b × t × dim`. Position `p` of a row sees positions `0..=p` of that row only, so
    /// rows of different lengths can be padded on the right without changing what comes
    /// before the padding.
    pub fn hidden(&self, tokens: &Tensor) -> Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        let c = self.config;
        if tokens.dtype() != DType::U32 {
            return Err(invalid(
                "tokens",
                format!("expected u32 token ids, got {:?}", tokens.dtype()),
            ));
        }
        if b == 0 {
            return Err(invalid(
                "tokens",
                "expected at least one sequence, got none",
            ));
        }
        if t == 0 || t > c.context {
            return Err(invalid(
                "tokens",
                format!("{t} positions: expected 1 to {}", c.context),
            ));
        }
        let max = tokens.flatten_all()?.max(0)?.to_scalar::<u32>()?;
        if max as usize >= c.vocab {
            return Err(invalid(
                "tokens",
                format!("token id {max} ≥ the vocabulary's {}", c.vocab),
            ));
        }
        let (hd, heads, kv_heads) = (c.head_dim(), c.heads, c.kv_heads);
        let device = tokens.device();
        // Rotation angles: position p, pair i turns by p · base^(−2i/head_dim).
        let inv: Vec<f32> = (0..hd / 2)
            .map(|i| (1.0 / c.rope_base.powf((2 * i) as f64 / hd as f64)) as f32)
            .collect();
        let angles = Tensor::arange(0u32, t as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((t, 1))?
            .broadcast_mul(&Tensor::new(inv.as_slice(), device)?.reshape((1, hd / 2))?)?;
        let (cos, sin) = (angles.cos()?, angles.sin()?);
        let mask: Vec<f32> = (0..t)
            .flat_map(|i| (0..t).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (1, 1, t, t), device)?;
        let scale = 1.0 / (hd as f64).sqrt();
        let mut x = self
            .embedding
            .index_select(&tokens.flatten_all()?, 0)?
            .reshape((b * t, c.dim))?;
        let heads_of = |y: Tensor, n: usize| -> candle_core::Result<Tensor> {
            y.reshape((b, t, n, hd))?.transpose(1, 2)?.contiguous()
        };
        // Key/value head g serves query heads g·group … (g + 1)·group − 1.
        let repeat = |y: Tensor| -> candle_core::Result<Tensor> {
            let group = heads / kv_heads;
            if group == 1 {
                return Ok(y);
            }
            y.unsqueeze(2)?
                .broadcast_as((b, kv_heads, group, t, hd))?
                .reshape((b, heads, t, hd))
        };
        for block in &self.blocks {
            let p = |p: Projection| &block.proj[p as usize];
            let h = rms_norm(&x, &block.attn_norm, c.eps)?;
            let q = candle_nn::rotary_emb::rope_slow(
                &heads_of(p(Projection::Q).forward(&h)?, heads)?,
                &cos,
                &sin,
            )?;
            let k = candle_nn::rotary_emb::rope_slow(
                &heads_of(p(Projection::K).forward(&h)?, kv_heads)?,
                &cos,
                &sin,
            )?;
            let v = heads_of(p(Projection::V).forward(&h)?, kv_heads)?;
            let (k, v) = (repeat(k)?, repeat(v)?);
            let scores =
                (q.matmul(&k.transpose(2, 3)?.contiguous()?)? * scale)?.broadcast_add(&mask)?;
            let attended = candle_nn::ops::softmax(&scores, D::Minus1)?
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((b * t, c.dim))?;
            x = (x + p(Projection::O).forward(&attended)?)?;
            let h = rms_norm(&x, &block.ffn_norm, c.eps)?;
            let gated =
                (p(Projection::Gate).forward(&h)?.silu()? * p(Projection::Up).forward(&h)?)?;
            x = (x + p(Projection::Down).forward(&gated)?)?;
        }
        Ok(rms_norm(&x, &self.norm, c.eps)?.reshape((b, t, c.dim))?)
    }

    /// The logits of hidden states `n × dim`: `n × vocab`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let out = self.output.as_ref().unwrap_or(&self.embedding);
        Ok(times_transposed(hidden, out)?)
    }

    /// The logits of the token after each sequence: `b × vocab`. The sequences are padded on
    /// the right to the longest (which the causal mask makes harmless) and run as one batch.
    pub fn next_logits(&self, batch: &[Vec<u32>]) -> Result<Tensor> {
        if batch.is_empty() {
            return Err(invalid("batch", "expected at least one sequence, got none"));
        }
        if let Some(i) = batch.iter().position(Vec::is_empty) {
            return Err(invalid("batch", format!("sequence {i} is empty")));
        }
        let t = batch.iter().map(Vec::len).max().unwrap_or(1);
        let padded: Vec<u32> = batch
            .iter()
            .flat_map(|s| s.iter().copied().chain(std::iter::repeat_n(0, t - s.len())))
            .collect();
        let tokens = Tensor::from_vec(padded, (batch.len(), t), &Device::Cpu)?;
        let hidden = self
            .hidden(&tokens)?
            .reshape((batch.len() * t, self.config.dim))?;
        let last: Vec<u32> = batch
            .iter()
            .enumerate()
            .map(|(i, s)| (i * t + s.len() - 1) as u32)
            .collect();
        let last = Tensor::new(last.as_slice(), &Device::Cpu)?;
        self.logits(&hidden.index_select(&last, 0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_product_equals_matmul_and_gives_x_its_gradient_only() {
        let x = Var::new(&[[1f32, 2., 3.], [-1., 0.5, 2.]], &Device::Cpu).unwrap();
        let w = Tensor::new(&[[0.5f32, -1., 2.], [3., 0., 1.]], &Device::Cpu).unwrap();
        let frozen = times_transposed(x.as_tensor(), &w).unwrap();
        let plain = x.as_tensor().matmul(&w.t().unwrap()).unwrap();
        // [1, 2, 3]·[0.5, −1, 2] = 4.5, ·[3, 0, 1] = 6; [−1, 0.5, 2]: 3, −1.
        assert_eq!(frozen.to_vec2::<f32>().unwrap(), [[4.5, 6.], [3., -1.]]);
        assert_eq!(
            frozen.to_vec2::<f32>().unwrap(),
            plain.to_vec2::<f32>().unwrap()
        );
        // L = Σ y²: ∂L/∂x = 2y·W.
        let g_frozen = frozen.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        let g_plain = plain.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        let gx = g_frozen.get(&x).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(gx, g_plain.get(&x).unwrap().to_vec2::<f32>().unwrap());
        // Row 0: 2·(4.5·[0.5, −1, 2] + 6·[3, 0, 1]) = 2·[20.25, −4.5, 15].
        assert_eq!(gx[0], [40.5, -9., 30.]);
        // The plain product's backward also formed a gradient for Wᵀ (3 × 2); the frozen one
        // did not.
        let wt_grads = |g: &candle_core::backprop::GradStore| {
            g.get_ids()
                .filter(|id| g.get_id(**id).is_some_and(|t| t.dims() == [3, 2]))
                .count()
        };
        assert_eq!((wt_grads(&g_plain), wt_grads(&g_frozen)), (1, 0));
    }

    #[test]
    fn unpermuting_puts_each_pair_member_in_its_half() {
        // One head of width 4 and 2 columns: the GGUF's rows are (pair 0: a, b), (pair 1: c, d)
        // = checkpoint rows 0, 2, 1, 3; the checkpoint's first half holds a, c.
        let gguf = Tensor::new(
            &[[0f32, 1.], [20., 21.], [10., 11.], [30., 31.]],
            &Device::Cpu,
        )
        .unwrap();
        let hf = unpermute_rows(&gguf, 1).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(hf, [[0., 1.], [10., 11.], [20., 21.], [30., 31.]]);
        // Two heads of width 2: a pair per head, already in order.
        let two = unpermute_rows(&gguf, 2).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(two, gguf.to_vec2::<f32>().unwrap());
        let e = unpermute_rows(&gguf, 3).unwrap_err().to_string();
        assert!(
            e.contains("`heads`") && e.contains("4 rows in 3 heads"),
            "{e}"
        );
    }
}
