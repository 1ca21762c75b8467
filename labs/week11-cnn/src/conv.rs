//! Convolution and max-pooling from scratch, on candle tensors.
//!
//! Layout everywhere: images `[batch, channels, height, width]` (NCHW, candle's and PyTorch's),
//! kernels `[out_channels, in_channels, kernel_h, kernel_w]`. Like every deep-learning library,
//! "convolution" here is cross-correlation: the kernel is not flipped.
//!
//! Output size along one axis: `out = (in + 2·padding − kernel) / stride + 1` (integer division).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Device, Layout, Shape, Tensor};
use wb_core::MlError;

use crate::Result;

/// The sizes of one convolution, checked: every function below starts here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub stride: usize,
    pub padding: usize,
}

fn invalid(arg: &str, detail: String) -> wb_train::TrainError {
    MlError::InvalidArgument {
        arg: arg.to_string(),
        detail,
    }
    .into()
}

/// The four dimensions of an image batch, or an error naming `arg` when it is not rank 4.
pub fn dims4(arg: &str, t: &Tensor) -> Result<(usize, usize, usize, usize)> {
    match *t.dims() {
        [a, b, c, d] => Ok((a, b, c, d)),
        _ => Err(MlError::ShapeMismatch {
            arg: arg.to_string(),
            expected: "rank 4: [batch, channels, height, width]".to_string(),
            got: format!("{:?}", t.dims()),
        }
        .into()),
    }
}

/// Checks `x` `[n, c, h, w]` against kernels `w` `[o, c, kh, kw]` and computes the output size.
pub fn conv_shape(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<ConvShape> {
    let (n, c, h, wd) = dims4("x", x)?;
    let (o, wc, kh, kw) = dims4("kernels", w)?;
    if wc != c {
        return Err(MlError::ShapeMismatch {
            arg: "kernels".to_string(),
            expected: format!("{c} input channels (dimension 1), as x has"),
            got: format!("{wc} in {:?}", w.dims()),
        }
        .into());
    }
    if stride == 0 {
        return Err(invalid("stride", "expected at least 1, got 0".to_string()));
    }
    if kh > h + 2 * padding || kw > wd + 2 * padding || kh == 0 || kw == 0 {
        return Err(invalid(
            "kernels",
            format!("a {kh} × {kw} kernel does not fit a {h} × {wd} image padded by {padding}"),
        ));
    }
    Ok(ConvShape {
        n,
        c,
        h,
        w: wd,
        o,
        kh,
        kw,
        oh: (h + 2 * padding - kh) / stride + 1,
        ow: (wd + 2 * padding - kw) / stride + 1,
        stride,
        padding,
    })
}

/// The values of a tensor as f32, row-major.
pub fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?)
}

// ANCHOR: direct
/// Convolution by its definition, seven nested loops:
/// `y[b, o, i, j] = Σ_{c, u, v} x[b, c, i·s + u − p, j·s + v − p] · w[o, c, u, v]`,
/// where a position outside the image (in the padding) reads 0.
///
/// `x`: `[n, c, h, w]`, `w`: `[o, c, kh, kw]` → `[n, o, oh, ow]`.
pub fn conv2d_direct(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    let s = conv_shape(x, w, stride, padding)?;
    let (xv, wv) = (values(x)?, values(w)?);
    let mut y = vec![0f32; s.n * s.o * s.oh * s.ow];
    // BEGIN SOLUTION direct
    for b in 0..s.n {
        for o in 0..s.o {
            for i in 0..s.oh {
                for j in 0..s.ow {
                    let mut acc = 0f32;
                    for c in 0..s.c {
                        for u in 0..s.kh {
                            // The input row, shifted by the padding; skip rows outside the image.
                            let Some(r) = (i * s.stride + u).checked_sub(s.padding) else {
                                continue;
                            };
                            if r >= s.h {
                                continue;
                            }
                            for v in 0..s.kw {
                                let Some(q) = (j * s.stride + v).checked_sub(s.padding) else {
                                    continue;
                                };
                                if q >= s.w {
                                    continue;
                                }
                                acc += xv[((b * s.c + c) * s.h + r) * s.w + q]
                                    * wv[((o * s.c + c) * s.kh + u) * s.kw + v];
                            }
                        }
                    }
                    y[((b * s.o + o) * s.oh + i) * s.ow + j] = acc;
                }
            }
        }
    }
    // END SOLUTION
    Ok(Tensor::from_vec(y, (s.n, s.o, s.oh, s.ow), &Device::Cpu)?)
}
// ANCHOR_END: direct

/// Unfolds every kernel-sized patch of `x` into one row: `[n·oh·ow, c·kh·kw]`, row `(b, i, j)`
/// holding the patch under output position `(i, j)` of image `b`, in the order `(c, u, v)` (the
/// order of a kernel's values), with 0 in the padding. Then a convolution is one matrix product.
pub fn im2col(x: &Tensor, kh: usize, kw: usize, stride: usize, padding: usize) -> Result<Tensor> {
    let (_, c, _, _) = dims4("x", x)?;
    let probe = Tensor::zeros((1, c, kh, kw), candle_core::DType::F32, &Device::Cpu)?;
    let s = conv_shape(x, &probe, stride, padding)?;
    let xv = values(x)?;
    let cols = s.c * s.kh * s.kw;
    let mut out = vec![0f32; s.n * s.oh * s.ow * cols];
    // BEGIN SOLUTION im2col
    for b in 0..s.n {
        for i in 0..s.oh {
            for j in 0..s.ow {
                let row = ((b * s.oh + i) * s.ow + j) * cols;
                for c in 0..s.c {
                    for u in 0..s.kh {
                        let r = (i * s.stride + u).wrapping_sub(s.padding);
                        for v in 0..s.kw {
                            let q = (j * s.stride + v).wrapping_sub(s.padding);
                            // wrapping_sub turns "before the image" into a huge index: one test.
                            if r < s.h && q < s.w {
                                out[row + (c * s.kh + u) * s.kw + v] =
                                    xv[((b * s.c + c) * s.h + r) * s.w + q];
                            }
                        }
                    }
                }
            }
        }
    }
    // END SOLUTION
    Ok(Tensor::from_vec(
        out,
        (s.n * s.oh * s.ow, cols),
        &Device::Cpu,
    )?)
}

// ANCHOR: im2col_matmul
/// Convolution as im2col followed by one matrix product with the kernels flattened to
/// `[o, c·kh·kw]`: `[n·oh·ow, c·kh·kw] × [c·kh·kw, o]` → `[n·oh·ow, o]`, then back to NCHW.
/// This is how most libraries compute it (the product runs at the speed of GEMM).
pub fn conv2d_im2col(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    let s = conv_shape(x, w, stride, padding)?;
    let w = w.to_dtype(candle_core::DType::F32)?;
    // BEGIN SOLUTION im2col_matmul
    let cols = im2col(x, s.kh, s.kw, stride, padding)?; // [n·oh·ow, c·kh·kw]
    let k = w.reshape((s.o, s.c * s.kh * s.kw))?.t()?; // [c·kh·kw, o]
    let y = cols.matmul(&k)?; // [n·oh·ow, o]
    let y = y.reshape((s.n, s.oh, s.ow, s.o))?.permute((0, 3, 1, 2))?; // [n, o, oh, ow]
    Ok(y.contiguous()?)
    // END SOLUTION
}
// ANCHOR_END: im2col_matmul

/// Max-pooling: the largest value of each `k × k` window, windows `stride` apart (no padding).
/// `[n, c, h, w]` → `[n, c, (h − k)/stride + 1, (w − k)/stride + 1]`.
pub fn max_pool2d(x: &Tensor, k: usize, stride: usize) -> Result<Tensor> {
    let (n, c, h, w) = dims4("x", x)?;
    if k == 0 || stride == 0 {
        return Err(invalid(
            "k, stride",
            format!("expected both at least 1, got k = {k}, stride = {stride}"),
        ));
    }
    if k > h || k > w {
        return Err(invalid(
            "k",
            format!("a {k} × {k} window does not fit a {h} × {w} image"),
        ));
    }
    let (oh, ow) = ((h - k) / stride + 1, (w - k) / stride + 1);
    let xv = values(x)?;
    let mut y = vec![0f32; n * c * oh * ow];
    // BEGIN SOLUTION maxpool
    for plane in 0..n * c {
        let src = &xv[plane * h * w..(plane + 1) * h * w];
        for i in 0..oh {
            for j in 0..ow {
                let mut m = f32::NEG_INFINITY;
                for u in 0..k {
                    for v in 0..k {
                        m = m.max(src[(i * stride + u) * w + j * stride + v]);
                    }
                }
                y[(plane * oh + i) * ow + j] = m;
            }
        }
    }
    // END SOLUTION
    Ok(Tensor::from_vec(y, (n, c, oh, ow), &Device::Cpu)?)
}

// ANCHOR: unfold
/// The im2col convolution again, stride 1, as one candle operation with its own backward pass,
/// so that it can train. candle 0.11's `conv2d` backward pass always computes the gradient of
/// its input by a transposed convolution, which a first layer (whose input is the images) does
/// not need; this version is 4 times faster there (measured in the chapter). [`Unfold`] writes
/// the columns in one pass, and its backward pass, col2im, adds each column's gradient back onto
/// the pixel it came from, in place. A unit test checks values and gradients against `conv2d`.
///
/// `x`: `[n, c, h, w]`, `w`: `[o, c, kh, kw]` → `[n, o, h + 2p − kh + 1, w + 2p − kw + 1]`.
pub fn conv2d_unfold(x: &Tensor, w: &Tensor, padding: usize) -> Result<Tensor> {
    let y = conv_channel_major(x, w, padding)?; // [o, n, oh, ow]
    Ok(y.permute((1, 0, 2, 3))?.contiguous()?)
}

/// The convolution of [`conv2d_unfold`] followed by `k × k` max-pooling, the pair that each
/// block of this lab's CNN trains with: `[n, c, h, w]` → `[n, o, oh / k, ow / k]`. The pooling
/// reads the convolution's output in the order the matrix product leaves it, so no permutation
/// is needed.
pub fn conv2d_max_pool(x: &Tensor, w: &Tensor, padding: usize, k: usize) -> Result<Tensor> {
    let y = conv_channel_major(x, w, padding)?; // [o, n, oh, ow]
    check_window(&y, k)?;
    Ok(y.apply_op1(MaxPool {
        k,
        channel_major: true,
    })?)
}

/// The convolution as one matrix product, as numpy's im2col does: the kernels `[o, c·kh·kw]`
/// times the columns of every image at once `[c·kh·kw, n·oh·ow]` gives `[o, n, oh, ow]`
/// (channel-major). One large product keeps the matrix kernel busier than one per image.
fn conv_channel_major(x: &Tensor, w: &Tensor, padding: usize) -> Result<Tensor> {
    let s = conv_shape(x, w, 1, padding)?;
    if x.dtype() != DType::F32 {
        return Err(invalid(
            "x",
            format!("expected f32 images, got {:?}", x.dtype()),
        ));
    }
    let cols = x.contiguous()?.apply_op1(Unfold(s))?; // [c·kh·kw, n·oh·ow]
    let k = w.reshape((s.o, s.c * s.kh * s.kw))?; // [o, c·kh·kw]
    let y = k.matmul(&cols)?; // [o, n·oh·ow]
    Ok(y.reshape((s.o, s.n, s.oh, s.ow))?)
}

/// im2col as one operation: `[n, c, h, w]` → `[c·kh·kw, n·oh·ow]`, row `(ch, u, v)` holding, in
/// column `(b, i, j)`, pixel `(i + u − p, j + v − p)` of channel `ch` of image `b` (0 in the
/// padding). Its gradient is [`Fold`].
#[derive(Debug, Clone, Copy)]
pub struct Unfold(pub ConvShape);

/// col2im, the gradient of [`Unfold`]: each column entry is added back onto its pixel.
#[derive(Debug, Clone, Copy)]
pub struct Fold(pub ConvShape);

impl ConvShape {
    /// For kernel offset `u` (or `v`) along an axis of `len` pixels and `out` outputs: the
    /// outputs whose input pixel `i + u − p` lies inside the image, and that pixel's offset.
    fn span(&self, u: usize, len: usize, out: usize) -> (usize, usize, isize) {
        let shift = u as isize - self.padding as isize; // input index = output index + shift
        let first = (-shift).max(0) as usize;
        let last = ((len as isize - shift).max(0) as usize).min(out);
        (first, last.max(first), shift)
    }

    /// Where image `b`'s part of row `(ch, u, v)` of the columns starts.
    fn row_start(&self, b: usize, ch: usize, u: usize, v: usize) -> usize {
        (((ch * self.kh + u) * self.kw + v) * self.n + b) * self.oh * self.ow
    }
}

fn f32_slice<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    what: &str,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{what}: expected f32 storage");
    };
    match layout.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{what}: expected a contiguous tensor"),
    }
}

impl CustomOp1 for Unfold {
    fn name(&self) -> &'static str {
        "unfold"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let s = self.0;
        let x = f32_slice(storage, layout, "unfold")?;
        let rows = s.c * s.kh * s.kw;
        let mut cols = vec![0f32; rows * s.n * s.oh * s.ow];
        for b in 0..s.n {
            for ch in 0..s.c {
                let plane = &x[(b * s.c + ch) * s.h * s.w..][..s.h * s.w];
                for u in 0..s.kh {
                    let (i0, i1, di) = s.span(u, s.h, s.oh);
                    for v in 0..s.kw {
                        let (j0, j1, dj) = s.span(v, s.w, s.ow);
                        let row = s.row_start(b, ch, u, v);
                        for i in i0..i1 {
                            let src = (i as isize + di) as usize * s.w;
                            let from = (j0 as isize + dj) as usize;
                            cols[row + i * s.ow + j0..row + i * s.ow + j1]
                                .copy_from_slice(&plane[src + from..src + from + (j1 - j0)]);
                        }
                    }
                }
            }
        }
        Ok((
            CpuStorage::F32(cols),
            Shape::from((rows, s.n * s.oh * s.ow)),
        ))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _cols: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&Fold(self.0))?))
    }
}

impl CustomOp1 for Fold {
    fn name(&self) -> &'static str {
        "fold"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let s = self.0;
        let cols = f32_slice(storage, layout, "fold")?;
        let mut x = vec![0f32; s.n * s.c * s.h * s.w];
        for b in 0..s.n {
            for ch in 0..s.c {
                let plane = &mut x[(b * s.c + ch) * s.h * s.w..][..s.h * s.w];
                for u in 0..s.kh {
                    let (i0, i1, di) = s.span(u, s.h, s.oh);
                    for v in 0..s.kw {
                        let (j0, j1, dj) = s.span(v, s.w, s.ow);
                        let row = s.row_start(b, ch, u, v);
                        for i in i0..i1 {
                            let dst = (i as isize + di) as usize * s.w;
                            let from = (j0 as isize + dj) as usize;
                            let target = &mut plane[dst + from..dst + from + (j1 - j0)];
                            let source = &cols[row + i * s.ow + j0..row + i * s.ow + j1];
                            for (t, g) in target.iter_mut().zip(source) {
                                *t += g;
                            }
                        }
                    }
                }
            }
        }
        Ok((CpuStorage::F32(x), Shape::from((s.n, s.c, s.h, s.w))))
    }
}
// ANCHOR_END: unfold

// ANCHOR: pool
/// Max-pooling over `k × k` windows `k` apart, as one candle operation with its own backward
/// pass, for training: each window's gradient goes to its largest value (the first of equal
/// ones, as PyTorch does). candle 0.11's `max_pool2d` computes the same values, but its backward
/// pass multiplies the gradient by `1/k²` (a quarter for 2 × 2 windows: the first layer of this
/// CNN received 1/16 of its true gradient) and takes eight passes over full-size tensors where
/// this one takes one. A unit test shows both against a hand-worked case.
///
/// `x`: `[n, c, h, w]` → `[n, c, h / k, w / k]` (rows and columns past the last whole window are
/// dropped, as in candle).
pub fn max_pool2d_train(x: &Tensor, k: usize) -> Result<Tensor> {
    check_window(x, k)?;
    Ok(x.contiguous()?.apply_op1(MaxPool {
        k,
        channel_major: false,
    })?)
}

fn check_window(x: &Tensor, k: usize) -> Result<()> {
    let (_, _, h, w) = dims4("x", x)?;
    if k == 0 || k > h || k > w {
        return Err(invalid(
            "k",
            format!("expected a window from 1 to {}, got {k}", h.min(w)),
        ));
    }
    if x.dtype() != DType::F32 {
        return Err(invalid(
            "x",
            format!("expected f32 values, got {:?}", x.dtype()),
        ));
    }
    Ok(())
}

/// The operation of [`max_pool2d_train`] and [`conv2d_max_pool`]: `k × k` windows, reading
/// `[n, c, h, w]`, or `[c, n, h, w]` when `channel_major` (the output is `[n, c, …]` either
/// way). Its gradient is the same struct used as a [`CustomOp2`] on (input, output gradient): it
/// puts each output's gradient on its window's maximum and 0 elsewhere.
#[derive(Debug, Clone, Copy)]
pub struct MaxPool {
    pub k: usize,
    pub channel_major: bool,
}

impl MaxPool {
    /// The output's shape for an input of `dims`.
    fn out_dims(&self, dims: &[usize]) -> (usize, usize, usize, usize) {
        let (a, b) = if self.channel_major {
            (dims[1], dims[0])
        } else {
            (dims[0], dims[1])
        };
        (a, b, dims[2] / self.k, dims[3] / self.k)
    }

    /// Output plane `(b, c)`'s index for input plane `plane` of an input of `dims`: the same
    /// plane, or plane `(c, b)` of a channel-major input.
    fn out_plane(&self, plane: usize, dims: &[usize]) -> usize {
        if self.channel_major {
            (plane % dims[1]) * dims[0] + plane / dims[1]
        } else {
            plane
        }
    }

    /// The largest value of each window of `x` into `y`: row by row, with `max` rather than
    /// comparisons and branches (a branch on random values is mispredicted half the time).
    fn pool(&self, x: &[f32], dims: &[usize], y: &mut [f32]) {
        let (k, h, w) = (self.k, dims[2], dims[3]);
        let (oh, ow) = (h / k, w / k);
        for plane in 0..dims[0] * dims[1] {
            let src = &x[plane * h * w..][..h * w];
            let dst = &mut y[self.out_plane(plane, dims) * oh * ow..][..oh * ow];
            for (i, out) in dst.chunks_exact_mut(ow).enumerate() {
                out.fill(f32::NEG_INFINITY);
                for u in 0..k {
                    let row = &src[(i * k + u) * w..][..ow * k];
                    for (m, window) in out.iter_mut().zip(row.chunks_exact(k)) {
                        *m = window.iter().fold(*m, |m, &v| m.max(v));
                    }
                }
            }
        }
    }

    /// Adds each output's gradient `grad` onto its window's (first) largest value in `dx`.
    fn scatter(&self, x: &[f32], dims: &[usize], grad: &[f32], dx: &mut [f32]) {
        let (k, h, w) = (self.k, dims[2], dims[3]);
        let (oh, ow) = (h / k, w / k);
        for plane in 0..dims[0] * dims[1] {
            let src = &x[plane * h * w..][..h * w];
            let g = &grad[self.out_plane(plane, dims) * oh * ow..][..oh * ow];
            let d = &mut dx[plane * h * w..][..h * w];
            for i in 0..oh {
                for j in 0..ow {
                    let (mut best, mut at) = (f32::NEG_INFINITY, (i * k) * w + j * k);
                    for u in 0..k {
                        for v in 0..k {
                            let p = (i * k + u) * w + j * k + v;
                            // A select, not a branch: the winner's position is unpredictable.
                            let better = src[p] > best;
                            best = if better { src[p] } else { best };
                            at = if better { p } else { at };
                        }
                    }
                    d[at] += g[i * ow + j];
                }
            }
        }
    }
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "max-pool"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(storage, layout, "max-pool")?;
        let shape = self.out_dims(layout.dims());
        let mut y = vec![0f32; shape.0 * shape.1 * shape.2 * shape.3];
        self.pool(x, layout.dims(), &mut y);
        Ok((CpuStorage::F32(y), Shape::from(shape)))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(&grad.contiguous()?, self)?))
    }
}

impl CustomOp2 for MaxPool {
    fn name(&self) -> &'static str {
        "max-pool-grad"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        grad_storage: &CpuStorage,
        grad_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(x_storage, x_layout, "max-pool gradient (input)")?;
        let grad = f32_slice(
            grad_storage,
            grad_layout,
            "max-pool gradient (output gradient)",
        )?;
        let mut dx = vec![0f32; x.len()];
        self.scatter(x, x_layout.dims(), grad, &mut dx);
        Ok((CpuStorage::F32(dx), x_layout.shape().clone()))
    }
}
// ANCHOR_END: pool

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// The largest absolute difference between two tensors of one shape.
    fn gap(a: &Tensor, b: &Tensor) -> f32 {
        let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
        d.to_scalar::<f32>().unwrap()
    }

    /// `ours` and `theirs`, both computed from `x` and `w`, have the same values, and the same
    /// gradients with respect to both for a loss that weighs every output differently (so that
    /// every gradient entry is tested).
    fn assert_same_values_and_gradients(ours: &Tensor, theirs: &Tensor, x: &Var, w: &Var) {
        assert!(gap(ours, theirs) < 1e-5);
        let r = Tensor::randn(0f32, 1.0, ours.shape(), &Device::Cpu).unwrap();
        let g1 = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (theirs * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(gap(g1.get(w).unwrap(), g2.get(w).unwrap()) < 1e-4);
        assert!(gap(g1.get(x).unwrap(), g2.get(x).unwrap()) < 1e-4);
    }

    /// The training path (conv2d_unfold) against candle's conv2d: same values, same gradients
    /// with respect to the kernels and to the input.
    #[test]
    fn unfold_equals_candles_conv2d_values_and_gradients() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 7, 6), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 3, 3, 3), &dev).unwrap()).unwrap();
        let ours = conv2d_unfold(&x, &w, 1).unwrap();
        let theirs = x.conv2d(&w, 1, 1, 1, 1).unwrap();
        assert_same_values_and_gradients(&ours, &theirs, &x, &w);
    }

    /// A hand-worked 4 × 4 case: each 2 × 2 window's gradient lands on its maximum (the first
    /// of three equal ones in the second window), whole; candle's own max_pool2d gives the same values but a quarter of
    /// that gradient.
    #[test]
    fn max_pool_train_gradient_goes_whole_to_each_maximum() {
        let dev = Device::Cpu;
        #[rustfmt::skip]
        let x = Var::from_tensor(&Tensor::from_vec(vec![
            1f32, 5., 2., 2.,
            3.,   4., 2., 0.,
            -1., -2., 7., 8.,
            -3., -4., 9., 6.,
        ], (1, 1, 4, 4), &dev).unwrap()).unwrap();
        let y = max_pool2d_train(&x, 2).unwrap();
        assert_eq!(
            y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            [5., 2., -1., 9.]
        );
        let r = Tensor::from_vec(vec![10f32, 20., 30., 40.], (1, 1, 2, 2), &dev).unwrap();
        let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
        #[rustfmt::skip]
        let expected = [
            0f32, 10., 20., 0.,
            0.,   0.,  0.,  0.,
            30.,  0.,  0.,  0.,
            0.,   0.,  40., 0.,
        ];
        let got = grads.get(&x).unwrap().flatten_all().unwrap();
        assert_eq!(got.to_vec1::<f32>().unwrap(), expected);

        // candle's: same values, gradient a quarter of the true one where the maximum is unique.
        let theirs = x.max_pool2d(2).unwrap();
        assert_eq!(
            theirs.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            [5., 2., -1., 9.]
        );
        let grads = (&theirs * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let candle = grads
            .get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for at in [1, 8, 14] {
            assert_eq!(candle[at], expected[at] / 4.0, "position {at}");
        }
    }

    /// The fused convolution and pooling equal candle's conv2d then max_pool2d in value, and
    /// their gradients equal those of conv2d then the lab's pool (the true ones: the test
    /// above).
    #[test]
    fn conv2d_max_pool_equals_conv_then_pool() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 2, 6, 8), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(0f32, 1.0, (5, 2, 3, 3), &dev).unwrap()).unwrap();
        let ours = conv2d_max_pool(&x, &w, 1, 2).unwrap();
        let conv = x.conv2d(&w, 1, 1, 1, 1).unwrap();
        let theirs = max_pool2d_train(&conv, 2).unwrap();
        assert_eq!(ours.dims(), [3, 5, 3, 4]);
        assert!(gap(&ours, &conv.max_pool2d(2).unwrap()) < 1e-5);
        assert_same_values_and_gradients(&ours, &theirs, &x, &w);
        assert!(conv2d_max_pool(&x, &w, 1, 7).is_err());
    }

    /// Against central differences on random values (no ties), for a loss weighing each
    /// output differently; and the refusals.
    #[test]
    fn max_pool_train_gradient_matches_central_differences() {
        let dev = Device::Cpu;
        let x0 = Tensor::randn(0f32, 1.0, (2, 3, 5, 6), &dev).unwrap();
        let r = Tensor::randn(0f32, 1.0, (2, 3, 2, 3), &dev).unwrap();
        let loss = |x: &Tensor| -> f64 {
            let y = max_pool2d_train(x, 2).unwrap();
            let v = (&y * &r).unwrap().sum_all().unwrap();
            f64::from(v.to_scalar::<f32>().unwrap())
        };
        let x = Var::from_tensor(&x0).unwrap();
        let y = max_pool2d_train(&x, 2).unwrap();
        let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g = values(grads.get(&x).unwrap()).unwrap();
        let xv = values(&x0).unwrap();
        let h = 1e-3f32;
        for at in 0..xv.len() {
            let shifted = |d: f32| {
                let mut v = xv.clone();
                v[at] += d;
                Tensor::from_vec(v, x0.shape(), &dev).unwrap()
            };
            let numeric = (loss(&shifted(h)) - loss(&shifted(-h))) / (2.0 * f64::from(h));
            assert!(
                (numeric - f64::from(g[at])).abs() < 1e-2,
                "entry {at}: numeric {numeric}, analytic {}",
                g[at]
            );
        }
        assert!(max_pool2d_train(&x0, 0).is_err());
        assert!(max_pool2d_train(&x0, 6).is_err());
        assert!(max_pool2d_train(&x0.to_dtype(DType::F64).unwrap(), 2).is_err());
    }
}
