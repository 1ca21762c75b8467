//! Convolution and max-pooling from scratch, on candle tensors.
//!
//! Layout everywhere: images `[batch, channels, height, width]` (NCHW, candle's and PyTorch's),
//! kernels `[out_channels, in_channels, kernel_h, kernel_w]`. Like every deep-learning library,
//! "convolution" here is cross-correlation: the kernel is not flipped.
//!
//! Output size along one axis: `out = (in + 2·padding − kernel) / stride + 1` (integer division).

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor};
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
    let s = conv_shape(x, w, 1, padding)?;
    if x.dtype() != DType::F32 {
        return Err(invalid(
            "x",
            format!("expected f32 images, got {:?}", x.dtype()),
        ));
    }
    let cols = x.contiguous()?.apply_op1(Unfold(s))?; // [n, c·kh·kw, oh·ow]
    let k = w.reshape((s.o, s.c * s.kh * s.kw))?; // [o, c·kh·kw]
    let y = k.broadcast_matmul(&cols)?; // [n, o, oh·ow]
    Ok(y.reshape((s.n, s.o, s.oh, s.ow))?)
}

/// im2col as one operation: `[n, c, h, w]` → `[n, c·kh·kw, oh·ow]`, row `(ch, u, v)` holding
/// pixel `(i + u − p, j + v − p)` of channel `ch` for output position `(i, j)` (0 in the
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
        let mut cols = vec![0f32; s.n * rows * s.oh * s.ow];
        for b in 0..s.n {
            for ch in 0..s.c {
                let plane = &x[(b * s.c + ch) * s.h * s.w..][..s.h * s.w];
                for u in 0..s.kh {
                    let (i0, i1, di) = s.span(u, s.h, s.oh);
                    for v in 0..s.kw {
                        let (j0, j1, dj) = s.span(v, s.w, s.ow);
                        let row = (b * rows + (ch * s.kh + u) * s.kw + v) * s.oh * s.ow;
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
        Ok((CpuStorage::F32(cols), Shape::from((s.n, rows, s.oh * s.ow))))
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
        let rows = s.c * s.kh * s.kw;
        let mut x = vec![0f32; s.n * s.c * s.h * s.w];
        for b in 0..s.n {
            for ch in 0..s.c {
                let plane = &mut x[(b * s.c + ch) * s.h * s.w..][..s.h * s.w];
                for u in 0..s.kh {
                    let (i0, i1, di) = s.span(u, s.h, s.oh);
                    for v in 0..s.kw {
                        let (j0, j1, dj) = s.span(v, s.w, s.ow);
                        let row = (b * rows + (ch * s.kh + u) * s.kw + v) * s.oh * s.ow;
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// The training path (conv2d_unfold) against candle's conv2d: same values, same gradients
    /// with respect to the kernels and to the input.
    #[test]
    fn unfold_equals_candles_conv2d_values_and_gradients() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 7, 6), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 3, 3, 3), &dev).unwrap()).unwrap();
        let ours = conv2d_unfold(&x, &w, 1).unwrap();
        let theirs = x.conv2d(&w, 1, 1, 1, 1).unwrap();
        let gap = |a: &Tensor, b: &Tensor| {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert!(gap(&ours, &theirs) < 1e-5);
        // A loss that weighs every output differently, so that every gradient entry is tested.
        let r = Tensor::randn(0f32, 1.0, ours.shape(), &dev).unwrap();
        let g1 = (&ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (&theirs * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(gap(g1.get(&w).unwrap(), g2.get(&w).unwrap()) < 1e-4);
        assert!(gap(g1.get(&x).unwrap(), g2.get(&x).unwrap()) < 1e-4);
    }
}
