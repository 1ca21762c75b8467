//! Scaled dot-product attention, its masks, and multi-head attention.
//!
//! Shapes: queries, keys and values per head are `[batch, heads, seq, head_dim]`; attention
//! weights are `[batch, heads, seq_q, seq_k]`; a mask is any shape that broadcasts to the
//! weights (`[seq, seq]` for causal, `[batch, 1, 1, seq]` for padding), u8 with 1 where a query
//! may attend to a key and 0 where it may not.

use candle_core::{DType, Device, Tensor};
use wb_core::MlError;

use crate::Result;

fn shape_err(arg: &str, expected: String, got: &[usize]) -> wb_train::TrainError {
    MlError::ShapeMismatch {
        arg: arg.to_string(),
        expected,
        got: format!("{got:?}"),
    }
    .into()
}

/// `[t, t]`, 1 on and below the diagonal: query i sees keys 0..=i, never the future.
pub fn causal_mask(t: usize) -> Result<Tensor> {
    let m: Vec<u8> = (0..t * t).map(|k| u8::from(k % t <= k / t)).collect();
    Ok(Tensor::from_vec(m, (t, t), &Device::Cpu)?)
}

/// `[batch, 1, 1, t]`, 1 for the first `lengths[b]` keys of sequence b: no query attends to
/// the padding after a sequence's end. A length of 0 or above `t` is an error.
pub fn padding_mask(lengths: &[usize], t: usize) -> Result<Tensor> {
    if let Some(&bad) = lengths.iter().find(|&&n| n == 0 || n > t) {
        return Err(MlError::InvalidArgument {
            arg: "lengths".to_string(),
            detail: format!("every length must be 1 to {t}, got {bad}"),
        }
        .into());
    }
    let m: Vec<u8> = lengths
        .iter()
        .flat_map(|&n| (0..t).map(move |j| u8::from(j < n)))
        .collect();
    Ok(Tensor::from_vec(m, (lengths.len(), 1, 1, t), &Device::Cpu)?)
}

/// Checks that `mask` broadcasts to `target` (each of its trailing dimensions 1 or equal).
fn check_mask(mask: &Tensor, target: &[usize]) -> Result<()> {
    let m = mask.dims();
    let fits = m.len() <= target.len()
        && m.iter()
            .rev()
            .zip(target.iter().rev())
            .all(|(&a, &b)| a == 1 || a == b);
    if !fits {
        return Err(shape_err(
            "mask",
            format!("a shape that broadcasts to the attention weights {target:?}"),
            m,
        ));
    }
    Ok(())
}

// ANCHOR: attention
/// `softmax(q·kᵀ / √d + mask) · v`: each query's output is the average of the values, weighted
/// by how well the query matches each key. Masked positions get −∞ before the softmax, hence
/// weight exactly 0. Returns the output `[b, h, seq_q, d]` and the weights `[b, h, seq_q, seq_k]`.
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    let (b, h, tq, d) = q
        .dims4()
        .map_err(|_| shape_err("q", "[batch, heads, seq, head_dim]".into(), q.dims()))?;
    let tk = match *k.dims() {
        [kb, kh, tk, kd] if (kb, kh, kd) == (b, h, d) => tk,
        _ => return Err(shape_err("k", format!("[{b}, {h}, seq_k, {d}]"), k.dims())),
    };
    if v.dims() != [b, h, tk, d] {
        return Err(shape_err("v", format!("[{b}, {h}, {tk}, {d}]"), v.dims()));
    }
    if let Some(m) = mask {
        check_mask(m, &[b, h, tq, tk])?;
    }
    // BEGIN SOLUTION attention
    let scores = (q.matmul(&k.t()?)? / (d as f64).sqrt())?; // [b, h, tq, tk]
    let scores = match mask {
        None => scores,
        Some(m) => {
            let m = m.to_dtype(DType::U8)?.broadcast_as(scores.shape())?;
            let neg = Tensor::new(f32::NEG_INFINITY, q.device())?
                .to_dtype(scores.dtype())?
                .broadcast_as(scores.shape())?;
            m.where_cond(&scores, &neg)?
        }
    };
    // `softmax` is built from differentiable operations; candle-nn's fused `softmax_last_dim`
    // has no backward pass, and training through it would leave queries and keys untrained.
    let weights = candle_nn::ops::softmax(&scores, candle_core::D::Minus1)?;
    let out = weights.matmul(&v.contiguous()?)?; // [b, h, tq, d]
    Ok((out, weights))
    // END SOLUTION
}
// ANCHOR_END: attention

/// The four projections of multi-head attention, in candle's layout (`y = x·Wᵀ + b`, `W`
/// `[d_model, d_model]`).
#[derive(Debug, Clone)]
pub struct MhaWeights {
    pub wq: Tensor,
    pub bq: Tensor,
    pub wk: Tensor,
    pub bk: Tensor,
    pub wv: Tensor,
    pub bv: Tensor,
    pub wo: Tensor,
    pub bo: Tensor,
}

/// `x·Wᵀ + b` for `x` `[batch, seq, in]` and `W` `[out, in]`.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(x.broadcast_matmul(&w.t()?)?.broadcast_add(b)?)
}

// ANCHOR: mha
/// Multi-head attention of `x` `[batch, seq, d_model]` over itself: project to queries, keys and
/// values, split `d_model` into `heads` heads of `d_model / heads`, attend in each head
/// independently, concatenate the heads and project. Returns `[batch, seq, d_model]` and the
/// weights `[batch, heads, seq, seq]`.
pub fn multi_head_attention(
    x: &Tensor,
    w: &MhaWeights,
    heads: usize,
    mask: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    let (b, t, d) = x
        .dims3()
        .map_err(|_| shape_err("x", "[batch, seq, d_model]".into(), x.dims()))?;
    if heads == 0 || !d.is_multiple_of(heads) {
        return Err(MlError::InvalidArgument {
            arg: "heads".to_string(),
            detail: format!("d_model {d} must be a multiple of the number of heads, got {heads}"),
        }
        .into());
    }
    if w.wq.dims() != [d, d] {
        return Err(shape_err("w.wq", format!("[{d}, {d}]"), w.wq.dims()));
    }
    let hd = d / heads;
    // BEGIN SOLUTION mha
    let split = |y: Tensor| -> Result<Tensor> {
        // [b, t, d] → [b, t, heads, hd] → [b, heads, t, hd]
        Ok(y.reshape((b, t, heads, hd))?
            .transpose(1, 2)?
            .contiguous()?)
    };
    let q = split(linear(x, &w.wq, &w.bq)?)?;
    let k = split(linear(x, &w.wk, &w.bk)?)?;
    let v = split(linear(x, &w.wv, &w.bv)?)?;
    let (y, weights) = attention(&q, &k, &v, mask)?; // [b, heads, t, hd]
    let y = y.transpose(1, 2)?.reshape((b, t, d))?; // heads side by side again
    Ok((linear(&y, &w.wo, &w.bo)?, weights))
    // END SOLUTION
}
// ANCHOR_END: mha
