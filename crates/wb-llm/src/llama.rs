//! SmolLM2's forward pass written out, on the GGUF's own 4- and 8-bit weights.
//!
//! Decoding one token reads every weight of the model once, so its speed is set by how many
//! bytes the weights take and how fast they are turned into products. candle 0.11 multiplies
//! 4-bit matrices with kernels compiled for the baseline x86-64 (no AVX), and its f32 path reads
//! 690 MB per token. This module keeps the weights as the GGUF ships them (98 MB: Q4_1 blocks of
//! 32 weights with a scale and an offset, Q8_0 for the embedding), unpacks each block once per
//! use, and lets the compiler vectorise the products for the CPU it runs on: the kernels run
//! inside [`pulp::Arch::dispatch`], which picks AVX-512, AVX2 or the baseline at run time. The
//! rows of each matrix are shared between the cores (rayon).
//!
//! The model is the Llama architecture (RMSNorm, rotary positions in interleaved pairs, grouped
//! key/value heads, a SwiGLU feed-forward layer), as candle's `quantized_llama` computes it;
//! `tests/runtime.rs` checks that both give the same logits and the same greedy tokens.

use crate::{LlmError, Result};
use candle_core::quantized::{GgmlDType, gguf_file};
use half::f16;
use rayon::prelude::*;
use std::io::{Read, Seek};

/// A weight matrix of `rows × cols`, stored by rows in blocks of 32, with each block's scale
/// (and offset) converted to f32 at load.
#[derive(Debug, Clone)]
pub enum QMatrix {
    /// `w = d·q + m`, q a 4-bit integer: 16 bytes of two nibbles per block (element j in the low
    /// nibble of byte j, element j + 16 in its high nibble).
    Q4_1 {
        rows: usize,
        cols: usize,
        d: Vec<f32>,
        m: Vec<f32>,
        qs: Vec<[u8; 16]>,
    },
    /// `w = d·q`, q a signed 8-bit integer.
    Q8_0 {
        rows: usize,
        cols: usize,
        d: Vec<f32>,
        qs: Vec<[i8; 32]>,
    },
}

fn format_err(detail: impl Into<String>) -> LlmError {
    LlmError::Format(detail.into())
}

impl QMatrix {
    /// The matrix from the GGUF's raw blocks.
    pub fn from_blocks(dtype: GgmlDType, rows: usize, cols: usize, bytes: &[u8]) -> Result<Self> {
        if !cols.is_multiple_of(32) {
            return Err(format_err(format!(
                "a matrix of {cols} columns: expected a multiple of 32"
            )));
        }
        let blocks = rows * cols / 32;
        let f = |b: &[u8]| f16::from_le_bytes([b[0], b[1]]).to_f32();
        match dtype {
            GgmlDType::Q4_1 if bytes.len() == blocks * 20 => {
                let chunks = bytes.chunks_exact(20);
                Ok(QMatrix::Q4_1 {
                    rows,
                    cols,
                    d: chunks.clone().map(|b| f(&b[0..2])).collect(),
                    m: chunks.clone().map(|b| f(&b[2..4])).collect(),
                    qs: chunks
                        .map(|b| b[4..20].try_into().expect("16 bytes"))
                        .collect(),
                })
            }
            GgmlDType::Q8_0 if bytes.len() == blocks * 34 => {
                let chunks = bytes.chunks_exact(34);
                Ok(QMatrix::Q8_0 {
                    rows,
                    cols,
                    d: chunks.clone().map(|b| f(&b[0..2])).collect(),
                    qs: chunks
                        .map(|b| std::array::from_fn(|j| b[2 + j] as i8))
                        .collect(),
                })
            }
            GgmlDType::Q4_1 | GgmlDType::Q8_0 => Err(format_err(format!(
                "{dtype:?} matrix of {rows}×{cols}: {} bytes is not {blocks} blocks",
                bytes.len()
            ))),
            other => Err(format_err(format!(
                "weights in {other:?}: this runtime multiplies Q4_1 and Q8_0"
            ))),
        }
    }

    pub fn rows(&self) -> usize {
        match self {
            QMatrix::Q4_1 { rows, .. } | QMatrix::Q8_0 { rows, .. } => *rows,
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            QMatrix::Q4_1 { cols, .. } | QMatrix::Q8_0 { cols, .. } => *cols,
        }
    }

    /// The 32 weights of block `b` (counted over the whole matrix).
    #[inline(always)]
    fn block(&self, b: usize, out: &mut [f32; 32]) {
        match self {
            QMatrix::Q4_1 { d, m, qs, .. } => {
                let (d, m, q) = (d[b], m[b], &qs[b]);
                for j in 0..16 {
                    out[j] = f32::from(q[j] & 0x0F) * d + m;
                    out[j + 16] = f32::from(q[j] >> 4) * d + m;
                }
            }
            QMatrix::Q8_0 { d, qs, .. } => {
                let (d, q) = (d[b], &qs[b]);
                for j in 0..32 {
                    out[j] = f32::from(q[j]) * d;
                }
            }
        }
    }

    /// One row, as f32 (the embedding of a token).
    pub fn row(&self, r: usize) -> Vec<f32> {
        let per_row = self.cols() / 32;
        let mut out = vec![0.0; self.cols()];
        let mut w = [0f32; 32];
        for b in 0..per_row {
            self.block(r * per_row + b, &mut w);
            out[b * 32..][..32].copy_from_slice(&w);
        }
        out
    }

    /// The whole matrix as f32, row-major (unpacked in bands, on every core).
    pub fn dequantize(&self) -> Vec<f32> {
        let cols = self.cols();
        let mut out = vec![0f32; self.rows() * cols];
        out.par_chunks_mut(64 * cols)
            .enumerate()
            .for_each(|(band, out)| {
                pulp::Arch::new().dispatch(|| {
                    let mut w = [0f32; 32];
                    for (i, chunk) in out.chunks_exact_mut(32).enumerate() {
                        self.block(band * 64 * cols / 32 + i, &mut w);
                        chunk.copy_from_slice(&w);
                    }
                })
            });
        out
    }

    /// `x · Wᵀ` for `x` of `n × cols` (row-major): `n × rows`. One row (decoding) goes through
    /// this module's kernels, reading the packed weights once; several rows (a prompt) are
    /// multiplied by candle's f32 matrix product on the matrix unpacked for the occasion, which
    /// reuses each weight for every row.
    pub fn matmul(&self, x: &[f32], n: usize) -> Vec<f32> {
        let (rows, cols) = (self.rows(), self.cols());
        debug_assert_eq!(x.len(), n * cols);
        if n >= 4 {
            let product = || -> candle_core::Result<Vec<f32>> {
                let device = candle_core::Device::Cpu;
                let w = candle_core::Tensor::from_vec(self.dequantize(), (rows, cols), &device)?;
                let x = candle_core::Tensor::from_slice(x, (n, cols), &device)?;
                x.matmul(&w.t()?)?.flatten_all()?.to_vec1::<f32>()
            };
            // The shapes are right by construction; should candle fail, the kernels below
            // compute the same product.
            if let Ok(out) = product() {
                return out;
            }
        }
        #[cfg(target_arch = "x86_64")]
        if n == 1
            && let Some(simd) = pulp::x86::V3::try_new()
        {
            return x86::matvec(simd, self, x);
        }
        self.matmul_portable(x, n)
    }

    /// The same product with plain loops that `pulp` compiles for whatever the CPU has (the
    /// path of CPUs without AVX2, and of two or three rows).
    pub fn matmul_portable(&self, x: &[f32], n: usize) -> Vec<f32> {
        let rows = self.rows();
        // Each task: a band of the matrix's rows against every input row, written as
        // out_t[row][i]; bands small enough to share the work, large enough to be worth a task.
        const BAND: usize = 64;
        let mut out_t = vec![0f32; rows * n];
        out_t
            .par_chunks_mut(BAND * n)
            .enumerate()
            .for_each(|(band, out)| {
                let first = band * BAND;
                let kernel = Band {
                    w: self,
                    x,
                    n,
                    first,
                    out,
                };
                pulp::Arch::new().dispatch(kernel);
            });
        if n == 1 {
            return out_t;
        }
        let mut out = vec![0f32; n * rows];
        for r in 0..rows {
            for i in 0..n {
                out[i * rows + r] = out_t[r * n + i];
            }
        }
        out
    }
}

/// The products of a band of rows, compiled for the CPU's vector instructions by `pulp`: the
/// plain loops below are vectorised because `with_simd` is inlined into a function compiled
/// with those instructions enabled.
struct Band<'a> {
    w: &'a QMatrix,
    x: &'a [f32],
    n: usize,
    first: usize,
    out: &'a mut [f32],
}

impl pulp::WithSimd for Band<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Band {
            w,
            x,
            n,
            first,
            out,
        } = self;
        let cols = w.cols();
        let per_row = cols / 32;
        // Σx over each block of each input row: a Q4_1 weight is d·q + m, so a block's
        // product is d·Σ q·x + m·Σ x.
        let xsum: Vec<f32> = x.chunks_exact(32).map(|c| c.iter().sum()).collect();
        for (r, out_row) in out.chunks_exact_mut(n).enumerate() {
            let row = first + r;
            let blocks = row * per_row..(row + 1) * per_row;
            for (i, o) in out_row.iter_mut().enumerate() {
                let x = &x[i * cols..][..cols];
                let xsum = &xsum[i * per_row..][..per_row];
                *o = match w {
                    QMatrix::Q4_1 { d, m, qs, .. } => dot_q4_1(
                        &d[blocks.clone()],
                        &m[blocks.clone()],
                        &qs[blocks.clone()],
                        x,
                        xsum,
                    ),
                    QMatrix::Q8_0 { d, qs, .. } => {
                        dot_q8_0(&d[blocks.clone()], &qs[blocks.clone()], x)
                    }
                };
            }
        }
    }
}

/// One row of Q4_1 blocks times `x`: 16 lanes for the low nibbles, 16 for the high ones, added
/// up once at the end.
#[inline(always)]
fn dot_q4_1(d: &[f32], m: &[f32], qs: &[[u8; 16]], x: &[f32], xsum: &[f32]) -> f32 {
    let (mut lo, mut hi) = ([0f32; 16], [0f32; 16]);
    let mut offset = 0.0;
    for (b, q) in qs.iter().enumerate() {
        let xb: &[f32; 32] = x[b * 32..][..32].try_into().expect("32 values");
        let db = d[b];
        for j in 0..16 {
            lo[j] += db * (f32::from(q[j] & 0x0F) * xb[j]);
            hi[j] += db * (f32::from(q[j] >> 4) * xb[j + 16]);
        }
        offset += m[b] * xsum[b];
    }
    lo.iter().sum::<f32>() + hi.iter().sum::<f32>() + offset
}

/// One row of Q8_0 blocks times `x`.
#[inline(always)]
fn dot_q8_0(d: &[f32], qs: &[[i8; 32]], x: &[f32]) -> f32 {
    let mut acc = [0f32; 32];
    for (b, q) in qs.iter().enumerate() {
        let xb: &[f32; 32] = x[b * 32..][..32].try_into().expect("32 values");
        let db = d[b];
        for j in 0..32 {
            acc[j] += db * (f32::from(q[j]) * xb[j]);
        }
    }
    acc.iter().sum()
}

/// The activations of one row as 16-bit integers, per block of 32: `x ≈ scale · q`, each
/// block's exact sum kept for the Q4_1 offsets. (llama.cpp takes 8 bits, one instruction fewer
/// per block; the logits then moved by up to 1 % here, and greedy text changed after a few
/// dozen tokens. With 16 bits the error is 256 times smaller.)
#[cfg(target_arch = "x86_64")]
struct Q16Row {
    q: Vec<[i16; 32]>,
    scale: Vec<f32>,
    sum: Vec<f32>,
}

#[cfg(target_arch = "x86_64")]
impl Q16Row {
    fn new(x: &[f32]) -> Self {
        let blocks = x.chunks_exact(32);
        let mut row = Q16Row {
            q: Vec::with_capacity(blocks.len()),
            scale: Vec::with_capacity(blocks.len()),
            sum: Vec::with_capacity(blocks.len()),
        };
        for block in blocks {
            let max = block.iter().fold(0f32, |a, v| a.max(v.abs()));
            let scale = max / 32767.0;
            let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            row.q
                .push(std::array::from_fn(|j| (block[j] * inverse).round() as i16));
            row.scale.push(scale);
            row.sum.push(block.iter().sum());
        }
        row
    }
}

/// Decoding's matrix–vector product with AVX2's integer products: each block's 32 weights
/// widened to 16 bits, multiplied by the 16-bit activations and summed in pairs (`madd`), the
/// 8 sums converted and scaled into 8 float lanes. All safe: pulp checks the CPU once
/// ([`pulp::x86::V3::try_new`]) and its intrinsics then need no `unsafe`.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Q16Row, QMatrix};
    use pulp::bytemuck::cast;
    use pulp::x86::V3;
    use rayon::prelude::*;
    use std::arch::x86_64::{__m128i, __m256, __m256i};

    pub(super) fn matvec(simd: V3, w: &QMatrix, x: &[f32]) -> Vec<f32> {
        let x = Q16Row::new(x);
        let mut out = vec![0f32; w.rows()];
        const BAND: usize = 64;
        out.par_chunks_mut(BAND)
            .enumerate()
            .for_each(|(band, out)| {
                simd.vectorize(Band {
                    simd,
                    w,
                    x: &x,
                    first: band * BAND,
                    out,
                })
            });
        out
    }

    struct Band<'a> {
        simd: V3,
        w: &'a QMatrix,
        x: &'a Q16Row,
        first: usize,
        out: &'a mut [f32],
    }

    impl pulp::NullaryFnOnce for Band<'_> {
        type Output = ();

        #[inline(always)]
        fn call(self) {
            let Band {
                simd: s,
                w,
                x,
                first,
                out,
            } = self;
            let per_row = w.cols() / 32;
            for (r, o) in out.iter_mut().enumerate() {
                let blocks = (first + r) * per_row..(first + r + 1) * per_row;
                *o = match w {
                    QMatrix::Q4_1 { d, m, qs, .. } => {
                        row_q4_1(s, &d[blocks.clone()], &m[blocks.clone()], &qs[blocks], x)
                    }
                    QMatrix::Q8_0 { d, qs, .. } => row_q8_0(s, &d[blocks.clone()], &qs[blocks], x),
                };
            }
        }
    }

    /// The block's 16-bit weights times the activations, summed into 8 lanes and scaled.
    #[inline(always)]
    fn scaled(s: V3, w0: __m256i, w1: __m256i, x: &[i16; 32], scale: f32, acc: __m256) -> __m256 {
        let [x0, x1]: [__m256i; 2] = cast(*x);
        let sums = s.avx2._mm256_add_epi32(
            s.avx2._mm256_madd_epi16(w0, x0),
            s.avx2._mm256_madd_epi16(w1, x1),
        );
        s.fma._mm256_fmadd_ps(
            s.avx._mm256_set1_ps(scale),
            s.avx._mm256_cvtepi32_ps(sums),
            acc,
        )
    }

    // ANCHOR: row_q4_1
    /// One row of Q4_1 blocks: nibbles 0–15 and 16–31 widened to 16 bits; the offsets added as
    /// `m · Σx` per block.
    #[inline(always)]
    fn row_q4_1(s: V3, d: &[f32], m: &[f32], qs: &[[u8; 16]], x: &Q16Row) -> f32 {
        let low_nibbles = s.sse2._mm_set1_epi8(0x0F);
        let mut acc: __m256 = s.avx._mm256_setzero_ps();
        let mut offset = 0f32;
        let n = qs.len();
        let (d, m, xq, xs, xsum) = (&d[..n], &m[..n], &x.q[..n], &x.scale[..n], &x.sum[..n]);
        for b in 0..n {
            let packed: __m128i = cast(qs[b]);
            let high = s.sse2._mm_srli_epi16::<4>(packed);
            let w0 = s
                .avx2
                ._mm256_cvtepu8_epi16(s.sse2._mm_and_si128(packed, low_nibbles));
            let w1 = s
                .avx2
                ._mm256_cvtepu8_epi16(s.sse2._mm_and_si128(high, low_nibbles));
            acc = scaled(s, w0, w1, &xq[b], d[b] * xs[b], acc);
            offset += m[b] * xsum[b];
        }
        let lanes: [f32; 8] = cast(acc);
        lanes.iter().sum::<f32>() + offset
    }
    // ANCHOR_END: row_q4_1

    /// One row of Q8_0 blocks: bytes 0–15 and 16–31 widened to 16 bits.
    #[inline(always)]
    fn row_q8_0(s: V3, d: &[f32], qs: &[[i8; 32]], x: &Q16Row) -> f32 {
        let mut acc: __m256 = s.avx._mm256_setzero_ps();
        let n = qs.len();
        let (d, xq, xs) = (&d[..n], &x.q[..n], &x.scale[..n]);
        for b in 0..n {
            let [q0, q1]: [__m128i; 2] = cast(qs[b]);
            let w0 = s.avx2._mm256_cvtepi8_epi16(q0);
            let w1 = s.avx2._mm256_cvtepi8_epi16(q1);
            acc = scaled(s, w0, w1, &xq[b], d[b] * xs[b], acc);
        }
        let lanes: [f32; 8] = cast(acc);
        lanes.iter().sum()
    }
}

/// One transformer block's weights.
#[derive(Debug, Clone)]
struct Layer {
    attn_norm: Vec<f32>,
    wq: QMatrix,
    wk: QMatrix,
    wv: QMatrix,
    wo: QMatrix,
    ffn_norm: Vec<f32>,
    /// gate (w1), up (w3), down (w2)
    gate: QMatrix,
    up: QMatrix,
    down: QMatrix,
    /// Keys and values of every position so far: `positions × kv_heads × head_dim`.
    keys: Vec<f32>,
    values: Vec<f32>,
}

/// A Llama-architecture model on its quantised weights, with its KV cache.
#[derive(Debug, Clone)]
pub struct Llama {
    embedding: QMatrix,
    /// The output layer, when it is not the embedding (tied weights).
    output: Option<QMatrix>,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    eps: f32,
    /// cos and sin of every position's rotation angles: `positions × head_dim / 2`.
    cos: Vec<f32>,
    sin: Vec<f32>,
    /// The positions held in the KV cache.
    pub cached: usize,
    /// The most positions (the rotary tables' length).
    pub context: usize,
}

fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    for ((row, out), _) in x
        .chunks_exact(weight.len())
        .zip(out.chunks_exact_mut(weight.len()))
        .zip(0..)
    {
        let mean_square = row.iter().map(|v| v * v).sum::<f32>() / row.len() as f32;
        let scale = 1.0 / (mean_square + eps).sqrt();
        for ((o, v), w) in out.iter_mut().zip(row).zip(weight) {
            *o = v * scale * w;
        }
    }
}

/// Causal attention of `n` new tokens over the cache, compiled for the CPU's vector
/// instructions (`pulp`); the dot products keep 16 partial sums so that they vectorise.
struct Attention<'a> {
    q: &'a [f32],
    keys: &'a [f32],
    values: &'a [f32],
    out: &'a mut [f32],
    pos: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl pulp::WithSimd for Attention<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Attention {
            q,
            keys,
            values,
            out,
            pos,
            heads,
            kv_heads,
            head_dim: hd,
        } = self;
        let kv_dim = kv_heads * hd;
        let group = heads / kv_heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let n = q.len() / (heads * hd);
        let mut scores = Vec::with_capacity(pos + n);
        for t in 0..n {
            let seen = pos + t + 1;
            for h in 0..heads {
                let kvh = h / group;
                let qh = &q[(t * heads + h) * hd..][..hd];
                scores.clear();
                scores.extend((0..seen).map(|s| {
                    let kh = &keys[s * kv_dim + kvh * hd..][..hd];
                    let mut acc = [0f32; 16];
                    for (a, b) in qh.chunks_exact(16).zip(kh.chunks_exact(16)) {
                        for j in 0..16 {
                            acc[j] += a[j] * b[j];
                        }
                    }
                    acc.iter().sum::<f32>() * scale
                }));
                let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut total = 0.0;
                for s in scores.iter_mut() {
                    *s = (*s - max).exp();
                    total += *s;
                }
                let o = &mut out[(t * heads + h) * hd..][..hd];
                for (s, &weight) in scores.iter().enumerate() {
                    let w = weight / total;
                    let vh = &values[s * kv_dim + kvh * hd..][..hd];
                    for (o, v) in o.iter_mut().zip(vh) {
                        *o += w * v;
                    }
                }
            }
        }
    }
}

impl Llama {
    /// Reads the model from a GGUF (tensors by their llama.cpp names).
    pub fn from_gguf<R: Read + Seek>(
        ct: &gguf_file::Content,
        reader: &mut R,
        context: usize,
    ) -> Result<Self> {
        let device = candle_core::Device::Cpu;
        let meta = |key: &str| {
            ct.metadata
                .get(key)
                .ok_or_else(|| format_err(format!("the GGUF has no {key}")))
        };
        let count = |key: &str| -> Result<usize> { Ok(meta(key)?.to_u32()? as usize) };
        let heads = count("llama.attention.head_count")?;
        let kv_heads = count("llama.attention.head_count_kv")?;
        let dim = count("llama.embedding_length")?;
        let blocks = count("llama.block_count")?;
        let eps = meta("llama.attention.layer_norm_rms_epsilon")?.to_f32()?;
        let base = meta("llama.rope.freq_base").map_or(Ok(10_000.0), |v| v.to_f32())?;
        if heads == 0
            || kv_heads == 0
            || !heads.is_multiple_of(kv_heads)
            || !dim.is_multiple_of(heads)
            || !(dim / heads).is_multiple_of(16)
        {
            return Err(format_err(format!(
                "{heads} heads, {kv_heads} key/value heads, width {dim}: expected heads a multiple of the key/value heads and a head width that is a multiple of 16"
            )));
        }
        let head_dim = dim / heads;
        let mut matrix = |name: &str| -> Result<QMatrix> {
            let q = ct.tensor(reader, name, &device)?;
            let (rows, cols) = q.shape().dims2()?;
            QMatrix::from_blocks(q.dtype(), rows, cols, &q.data()?)
                .map_err(|e| format_err(format!("{name}: {e}")))
        };
        let embedding = matrix("token_embd.weight")?;
        // Most small models reuse the embedding as the output layer; some have their own.
        let output = if ct.tensor_infos.contains_key("output.weight") {
            Some(matrix("output.weight")?)
        } else {
            None
        };
        let mut layers = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let p = |n: &str| format!("blk.{i}.{n}.weight");
            layers.push(Layer {
                wq: matrix(&p("attn_q"))?,
                wk: matrix(&p("attn_k"))?,
                wv: matrix(&p("attn_v"))?,
                wo: matrix(&p("attn_output"))?,
                gate: matrix(&p("ffn_gate"))?,
                up: matrix(&p("ffn_up"))?,
                down: matrix(&p("ffn_down"))?,
                attn_norm: Vec::new(),
                ffn_norm: Vec::new(),
                keys: Vec::new(),
                values: Vec::new(),
            });
        }
        let mut vector = |name: &str| -> Result<Vec<f32>> {
            let t = ct.tensor(reader, name, &device)?.dequantize(&device)?;
            Ok(t.flatten_all()?.to_vec1::<f32>()?)
        };
        for (i, layer) in layers.iter_mut().enumerate() {
            layer.attn_norm = vector(&format!("blk.{i}.attn_norm.weight"))?;
            layer.ffn_norm = vector(&format!("blk.{i}.ffn_norm.weight"))?;
        }
        let norm = vector("output_norm.weight")?;
        // Rotation angles: position p, pair i turns by p · base^(−2i/head_dim).
        let half = head_dim / 2;
        let (mut cos, mut sin) = (Vec::with_capacity(context * half), Vec::new());
        sin.reserve(context * half);
        for p in 0..context {
            for i in 0..half {
                let theta = 1.0 / base.powf((2 * i) as f32 / head_dim as f32);
                let angle = p as f32 * theta;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Ok(Self {
            embedding,
            output,
            layers,
            norm,
            heads,
            kv_heads,
            head_dim,
            eps,
            cos,
            sin,
            cached: 0,
            context,
        })
    }

    /// Forgets every position (a new conversation).
    pub fn clear_kv_cache(&mut self) {
        self.cached = 0;
        for l in &mut self.layers {
            l.keys.clear();
            l.values.clear();
        }
    }

    /// Rotates each pair (2i, 2i + 1) of every head of `x` (`n × heads × head_dim`) by its
    /// position's angle (positions `pos…`).
    fn rotate(&self, x: &mut [f32], heads: usize, pos: usize) {
        let half = self.head_dim / 2;
        for (t, row) in x.chunks_exact_mut(heads * self.head_dim).enumerate() {
            let (cos, sin) = (
                &self.cos[(pos + t) * half..][..half],
                &self.sin[(pos + t) * half..][..half],
            );
            for head in row.chunks_exact_mut(self.head_dim) {
                for i in 0..half {
                    let (a, b) = (head[2 * i], head[2 * i + 1]);
                    head[2 * i] = a * cos[i] - b * sin[i];
                    head[2 * i + 1] = a * sin[i] + b * cos[i];
                }
            }
        }
    }

    /// The logits of the token after `tokens`, placed at positions `cached…` (the KV cache holds
    /// the earlier ones); the cache then holds them too.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let n = tokens.len();
        let pos = self.cached;
        if n == 0 || pos + n > self.context {
            return Err(LlmError::InvalidArgument {
                arg: "tokens".into(),
                detail: format!(
                    "{n} tokens after {pos}: expected 1 or more, {} at most in all",
                    self.context
                ),
            });
        }
        let vocab = self.embedding.rows();
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(LlmError::InvalidArgument {
                arg: "tokens".into(),
                detail: format!("token id {bad} ≥ the vocabulary's {vocab}"),
            });
        }
        let dim = self.embedding.cols();
        let (hd, heads, kv_heads) = (self.head_dim, self.heads, self.kv_heads);
        let mut x: Vec<f32> = tokens
            .iter()
            .flat_map(|&t| self.embedding.row(t as usize))
            .collect();
        let mut normed = vec![0f32; n * dim];
        for l in 0..self.layers.len() {
            rms_norm(&x, &self.layers[l].attn_norm, self.eps, &mut normed);
            let layer = &self.layers[l];
            let mut q = layer.wq.matmul(&normed, n);
            let mut k = layer.wk.matmul(&normed, n);
            let v = layer.wv.matmul(&normed, n);
            self.rotate(&mut q, heads, pos);
            self.rotate(&mut k, kv_heads, pos);
            let layer = &mut self.layers[l];
            layer.keys.extend_from_slice(&k);
            layer.values.extend_from_slice(&v);
            // Attention: token t (position pos + t) looks at positions 0..=pos + t; query head
            // h reads key/value head h / (heads / kv_heads).
            let mut attended = vec![0f32; n * dim];
            pulp::Arch::new().dispatch(Attention {
                q: &q,
                keys: &layer.keys,
                values: &layer.values,
                out: &mut attended,
                pos,
                heads,
                kv_heads,
                head_dim: hd,
            });
            let layer = &self.layers[l];
            let o = layer.wo.matmul(&attended, n);
            for (x, o) in x.iter_mut().zip(&o) {
                *x += o;
            }
            rms_norm(&x, &layer.ffn_norm, self.eps, &mut normed);
            let gate = layer.gate.matmul(&normed, n);
            let mut up = layer.up.matmul(&normed, n);
            for (u, g) in up.iter_mut().zip(&gate) {
                // SiLU(g) · u
                *u *= g / (1.0 + (-g).exp());
            }
            let down = layer.down.matmul(&up, n);
            for (x, d) in x.iter_mut().zip(&down) {
                *x += d;
            }
        }
        self.cached += n;
        let last = &x[(n - 1) * dim..];
        let mut normed = vec![0f32; dim];
        rms_norm(last, &self.norm, self.eps, &mut normed);
        // The output layer, or the embedding itself (tied weights).
        Ok(self
            .output
            .as_ref()
            .unwrap_or(&self.embedding)
            .matmul(&normed, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wb_data::SplitMix64;

    /// A matrix of random blocks: scales around 0.01, offsets around −0.1, random quants.
    fn random(dtype: GgmlDType, rows: usize, cols: usize, seed: u64) -> QMatrix {
        let mut rng = SplitMix64::new(seed);
        let mut bytes = Vec::new();
        let half = |v: f64| f16::from_f64(v).to_le_bytes();
        for _ in 0..rows * cols / 32 {
            bytes.extend(half(0.005 + 0.01 * rng.next_f64()));
            let quants = if dtype == GgmlDType::Q4_1 {
                bytes.extend(half(-0.1 * rng.next_f64()));
                16
            } else {
                32
            };
            bytes.extend((0..quants).map(|_| rng.next_u64() as u8));
        }
        QMatrix::from_blocks(dtype, rows, cols, &bytes).unwrap()
    }

    /// x · Wᵀ in f64 from the unpacked weights, and Σ|w·x| per output (the error's scale).
    fn reference(w: &QMatrix, x: &[f32], n: usize) -> (Vec<f64>, Vec<f64>) {
        let (rows, cols) = (w.rows(), w.cols());
        let full = w.dequantize();
        let mut out = vec![0.0; n * rows];
        let mut size = vec![0.0; n * rows];
        for i in 0..n {
            for r in 0..rows {
                for k in 0..cols {
                    let p = f64::from(full[r * cols + k]) * f64::from(x[i * cols + k]);
                    out[i * rows + r] += p;
                    size[i * rows + r] += p.abs();
                }
            }
        }
        (out, size)
    }

    #[test]
    fn every_path_of_the_product_equals_the_unpacked_matrix_times_x() {
        let mut rng = SplitMix64::new(7);
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
            // 130 rows: two full bands of 64 and a short one.
            let w = random(dtype, 130, 96, 1);
            assert_eq!(w.row(3), w.dequantize()[3 * 96..4 * 96]);
            for n in [1, 2, 3, 5] {
                let x: Vec<f32> = (0..n * 96)
                    .map(|_| (rng.next_f64() * 4.0 - 2.0) as f32)
                    .collect();
                let (expected, size) = reference(&w, &x, n);
                for (path, got) in [
                    ("matmul", w.matmul(&x, n)),
                    ("portable", w.matmul_portable(&x, n)),
                ] {
                    assert_eq!(got.len(), n * 130);
                    for (j, (g, e)) in got.iter().zip(&expected).enumerate() {
                        assert!(
                            (f64::from(*g) - e).abs() <= 1e-4 * size[j],
                            "{dtype:?} {path} n={n} [{j}]: {g} vs {e}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn damaged_blocks_are_refused() {
        assert!(QMatrix::from_blocks(GgmlDType::Q4_1, 2, 64, &[0; 79]).is_err());
        assert!(QMatrix::from_blocks(GgmlDType::Q8_0, 1, 33, &[0; 34]).is_err());
        let e = QMatrix::from_blocks(GgmlDType::Q4K, 1, 256, &[0; 144]).unwrap_err();
        assert!(e.to_string().contains("Q4_1 and Q8_0"), "{e}");
    }
}
