//! Layer norm, positional encodings and the pre-LN transformer block.

use candle_core::{D, Device, Tensor};
use wb_core::MlError;

use crate::Result;
use crate::attention::{MhaWeights, linear, multi_head_attention};

// ANCHOR: layer_norm
/// Layer normalisation over the last dimension: each token's vector is shifted to mean 0 and
/// scaled to variance 1 (the biased variance, as PyTorch), then scaled by `gamma` and shifted by
/// `beta` (both `[d_model]`): `(x − μ) / √(σ² + eps) · γ + β`.
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    if gamma.dims() != [d] || beta.dims() != [d] {
        return Err(MlError::ShapeMismatch {
            arg: "gamma, beta".to_string(),
            expected: format!("[{d}] each, the last dimension of x"),
            got: format!("{:?} and {:?}", gamma.dims(), beta.dims()),
        }
        .into());
    }
    // BEGIN SOLUTION layer_norm
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = centred.broadcast_div(&(var + eps)?.sqrt()?)?;
    Ok(normed.broadcast_mul(gamma)?.broadcast_add(beta)?)
    // END SOLUTION
}
// ANCHOR_END: layer_norm

// ANCHOR: sinusoidal
/// The sinusoidal positions of "Attention is all you need", `[t, d]` (d even):
/// `PE[pos, 2i] = sin(pos / 10000^(2i/d))`, `PE[pos, 2i + 1] = cos(pos / 10000^(2i/d))`.
/// Each pair of columns is a clock of its own frequency; nearby positions get similar vectors.
pub fn sinusoidal(t: usize, d: usize) -> Result<Tensor> {
    if d == 0 || !d.is_multiple_of(2) {
        return Err(MlError::InvalidArgument {
            arg: "d".to_string(),
            detail: format!("expected an even dimension, got {d}"),
        }
        .into());
    }
    let mut pe = vec![0f32; t * d];
    // BEGIN SOLUTION sinusoidal
    for pos in 0..t {
        for i in (0..d).step_by(2) {
            let angle = pos as f64 / 10000f64.powf(i as f64 / d as f64);
            pe[pos * d + i] = angle.sin() as f32;
            pe[pos * d + i + 1] = angle.cos() as f32;
        }
    }
    // END SOLUTION
    Ok(Tensor::from_vec(pe, (t, d), &Device::Cpu)?)
}
// ANCHOR_END: sinusoidal

/// The weights of one block, in candle's layout.
#[derive(Debug, Clone)]
pub struct BlockWeights {
    pub ln1_g: Tensor,
    pub ln1_b: Tensor,
    pub attn: MhaWeights,
    pub ln2_g: Tensor,
    pub ln2_b: Tensor,
    /// MLP: `[d_ff, d_model]` and `[d_ff]`, then `[d_model, d_ff]` and `[d_model]`.
    pub w1: Tensor,
    pub b1: Tensor,
    pub w2: Tensor,
    pub b2: Tensor,
}

// ANCHOR: block
/// A pre-LN transformer block (GPT-2's arrangement) on `x` `[batch, seq, d_model]`:
///
/// ```text
/// h   = x + MHA(LN₁(x))                  attention: tokens exchange information
/// out = h + W₂·GELU(W₁·LN₂(h) + b₁) + b₂  MLP: each token thinks on its own
/// ```
/// The residual additions let gradients flow straight through a deep stack; normalising
/// *before* each sub-layer keeps them well scaled. GELU is the tanh approximation (candle's
/// `gelu`, GPT-2's). Returns the output and the attention weights.
pub fn block(
    x: &Tensor,
    w: &BlockWeights,
    heads: usize,
    mask: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    // BEGIN SOLUTION block
    let (a, weights) = multi_head_attention(
        &layer_norm(x, &w.ln1_g, &w.ln1_b, 1e-5)?,
        &w.attn,
        heads,
        mask,
    )?;
    let h = (x + a)?; // [batch, seq, d_model]
    let m = linear(&layer_norm(&h, &w.ln2_g, &w.ln2_b, 1e-5)?, &w.w1, &w.b1)?.gelu()?; // [batch, seq, d_ff]
    let out = (&h + linear(&m, &w.w2, &w.b2)?)?; // [batch, seq, d_model]
    Ok((out, weights))
    // END SOLUTION
}
// ANCHOR_END: block

/// The weights of block `i` of a `wb_models::Gpt`, read from its VarMap by name.
pub fn gpt_block_weights(varmap: &candle_nn::VarMap, i: usize) -> Result<BlockWeights> {
    let data = varmap.data().lock().unwrap_or_else(|p| p.into_inner());
    let get = |name: &str| -> Result<Tensor> {
        let key = format!("blocks.{i}.{name}");
        data.get(&key)
            .map(|v| v.as_tensor().clone())
            .ok_or_else(|| {
                MlError::InvalidArgument {
                    arg: "varmap".to_string(),
                    detail: format!("no variable `{key}`"),
                }
                .into()
            })
    };
    Ok(BlockWeights {
        ln1_g: get("ln1.weight")?,
        ln1_b: get("ln1.bias")?,
        attn: MhaWeights {
            wq: get("attn.q.weight")?,
            bq: get("attn.q.bias")?,
            wk: get("attn.k.weight")?,
            bk: get("attn.k.bias")?,
            wv: get("attn.v.weight")?,
            bv: get("attn.v.bias")?,
            wo: get("attn.o.weight")?,
            bo: get("attn.o.bias")?,
        },
        ln2_g: get("ln2.weight")?,
        ln2_b: get("ln2.bias")?,
        w1: get("mlp.fc1.weight")?,
        b1: get("mlp.fc1.bias")?,
        w2: get("mlp.fc2.weight")?,
        b2: get("mlp.fc2.bias")?,
    })
}
