//! A vectorised MLP and its backpropagation: the chain rule applied to whole matrices at once.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use wb_core::{MlError, Result, check_data, check_len};
use wb_data::SplitMix64;

/// (pre-activations z per layer, input activation per layer), kept by the forward pass.
pub type ForwardCache = (Vec<Array2<f64>>, Vec<Array2<f64>>);

/// Hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    Sigmoid,
    Tanh,
    Relu,
}

impl Act {
    pub fn f(self, x: f64) -> f64 {
        match self {
            Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Act::Tanh => x.tanh(),
            Act::Relu => x.max(0.0),
        }
    }
    /// The derivative, from the pre-activation z.
    pub fn df(self, z: f64) -> f64 {
        match self {
            Act::Sigmoid => {
                let s = Act::Sigmoid.f(z);
                s * (1.0 - s)
            }
            Act::Tanh => 1.0 - z.tanh().powi(2),
            Act::Relu => f64::from(u8::from(z > 0.0)),
        }
    }
}

/// How weights start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// N(0, σ²) whatever the layer size — the "naive" choice.
    Normal(f64),
    /// U(±√(6/(fan_in + fan_out))).
    Xavier,
    /// N(0, 2/fan_in).
    He,
}

fn normal(rng: &mut SplitMix64) -> f64 {
    let (u1, u2) = (rng.next_f64(), rng.next_f64());
    (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// One layer: w [fan_in, fan_out], b [fan_out].
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub w: Array2<f64>,
    pub b: Array1<f64>,
}

/// Hidden layers share an activation; the last layer outputs logits for a softmax cross-entropy.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    pub layers: Vec<Layer>,
    pub act: Act,
}

/// Gradients of the loss, one per layer, shaped like the parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Grads {
    pub w: Vec<Array2<f64>>,
    pub b: Vec<Array1<f64>>,
}

impl Net {
    /// `sizes` = [inputs, hidden…, classes].
    pub fn new(sizes: &[usize], act: Act, init: Init, seed: u64) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(MlError::InvalidArgument {
                arg: "sizes".into(),
                detail: format!("need at least two sizes, none 0; got {sizes:?}"),
            });
        }
        let mut rng = SplitMix64::new(seed);
        let layers = sizes
            .windows(2)
            .map(|s| {
                let (i, o) = (s[0], s[1]);
                let w = match init {
                    Init::Normal(sd) => {
                        Array2::from_shape_simple_fn((i, o), || sd * normal(&mut rng))
                    }
                    Init::Xavier => {
                        let a = (6.0 / (i + o) as f64).sqrt();
                        Array2::from_shape_simple_fn((i, o), || (2.0 * rng.next_f64() - 1.0) * a)
                    }
                    Init::He => Array2::from_shape_simple_fn((i, o), || {
                        (2.0 / i as f64).sqrt() * normal(&mut rng)
                    }),
                };
                Layer {
                    w,
                    b: Array1::zeros(o),
                }
            })
            .collect();
        Ok(Self { layers, act })
    }

    /// (pre-activations z per layer, input activation per layer). x: [n, inputs]
    pub fn forward_cache(&self, x: ArrayView2<f64>) -> Result<ForwardCache> {
        check_data("x", &x)?;
        check_len(
            "x (columns)",
            x.ncols(),
            self.layers[0].w.nrows(),
            "the input size of the first layer",
        )?;
        let n = self.layers.len();
        let (mut zs, mut acts) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut a = x.to_owned();
        for (i, l) in self.layers.iter().enumerate() {
            let z = a.dot(&l.w) + &l.b;
            // The logits of the last layer are its output: no activation to compute.
            let next = (i + 1 < n).then(|| z.mapv(|v| self.act.f(v)));
            acts.push(a);
            zs.push(z);
            match next {
                Some(next) => a = next,
                None => break,
            }
        }
        Ok((zs, acts))
    }

    /// Predicted classes. x: [n, inputs]
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<usize>> {
        let (zs, _) = self.forward_cache(x)?;
        let logits = &zs[zs.len() - 1];
        Ok(logits
            .rows()
            .into_iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                    )
                    .0
            })
            .collect())
    }

    /// The mean softmax cross-entropy on (x, y).
    pub fn loss(&self, x: ArrayView2<f64>, y: &[usize]) -> Result<f64> {
        let (zs, _) = self.forward_cache(x)?;
        let (loss, _) = softmax_cross_entropy(&zs[zs.len() - 1], y)?;
        Ok(loss)
    }

    /// All parameters as one vector (layer by layer: w row-major, then b).
    pub fn params(&self) -> Array1<f64> {
        let mut out = Vec::with_capacity(self.layers.iter().map(|l| l.w.len() + l.b.len()).sum());
        for l in &self.layers {
            out.extend(l.w.iter().chain(l.b.iter()));
        }
        Array1::from(out)
    }

    /// Sets all parameters from one vector laid out as [`Net::params`].
    pub fn set_params(&mut self, p: &Array1<f64>) -> Result<()> {
        let total: usize = self.layers.iter().map(|l| l.w.len() + l.b.len()).sum();
        check_len("params", p.len(), total, "one value per parameter")?;
        let mut values = p.iter();
        for l in &mut self.layers {
            for (v, &new) in l.w.iter_mut().chain(l.b.iter_mut()).zip(&mut values) {
                *v = new;
            }
        }
        Ok(())
    }
}

impl Grads {
    /// All gradients as one vector, laid out as [`Net::params`].
    pub fn flat(&self) -> Array1<f64> {
        let mut out = Vec::with_capacity(
            self.w
                .iter()
                .zip(&self.b)
                .map(|(w, b)| w.len() + b.len())
                .sum(),
        );
        for (w, b) in self.w.iter().zip(&self.b) {
            out.extend(w.iter().chain(b.iter()));
        }
        Array1::from(out)
    }
}

/// (mean cross-entropy, ∂loss/∂logits = (softmax − one-hot)/n). logits: [n, k]
pub fn softmax_cross_entropy(logits: &Array2<f64>, y: &[usize]) -> Result<(f64, Array2<f64>)> {
    check_len("y", y.len(), logits.nrows(), "one label per row")?;
    if y.is_empty() {
        return Err(MlError::Empty {
            arg: "batch".into(),
            detail: "no rows".into(),
        });
    }
    if let Some(&bad) = y.iter().find(|&&c| c >= logits.ncols()) {
        return Err(MlError::InvalidArgument {
            arg: "y".into(),
            detail: format!("label {bad} ≥ {} classes", logits.ncols()),
        });
    }
    let n = y.len() as f64;
    let mut p = logits.clone();
    let mut loss = 0.0;
    for (mut row, &c) in p.axis_iter_mut(Axis(0)).zip(y) {
        let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        loss += lse - row[c];
        row.mapv_inplace(|v| (v - lse).exp());
        row[c] -= 1.0;
    }
    Ok((loss / n, p / n))
}

// ANCHOR: backward
/// Backpropagation: the loss on (x, y) and its gradient with respect to every weight and bias.
///
/// Going backwards from δ = ∂L/∂logits: for layer l with input a_l, `∂L/∂W_l = a_lᵀ·δ`
/// ([fan_in, n]·[n, fan_out]) and `∂L/∂b_l = Σ_rows δ`; then the error moves one layer down,
/// `δ ← (δ·W_lᵀ) ⊙ act'(z_{l−1})`.
///
/// x: [n, inputs], y: [n] class indices
pub fn backward(net: &Net, x: ArrayView2<f64>, y: &[usize]) -> Result<(f64, Grads)> {
    let (zs, acts) = net.forward_cache(x)?;
    let (loss, mut delta) = softmax_cross_entropy(&zs[zs.len() - 1], y)?;
    // BEGIN SOLUTION backprop
    let n_layers = net.layers.len();
    let mut gw = vec![Array2::zeros((0, 0)); n_layers];
    let mut gb = vec![Array1::zeros(0); n_layers];
    for l in (0..n_layers).rev() {
        gw[l] = acts[l].t().dot(&delta); // [fan_in, fan_out]
        gb[l] = delta.sum_axis(Axis(0)); // [fan_out]
        if l > 0 {
            delta = delta.dot(&net.layers[l].w.t()) * zs[l - 1].mapv(|z| net.act.df(z)); // [n, fan_in]
        }
    }
    Ok((loss, Grads { w: gw, b: gb }))
    // END SOLUTION
}
// ANCHOR_END: backward

/// Central-difference gradient of the loss with respect to every parameter (slow: 2 passes per
/// parameter), laid out as [`Net::params`].
pub fn numerical_gradient(
    net: &Net,
    x: ArrayView2<f64>,
    y: &[usize],
    h: f64,
) -> Result<Array1<f64>> {
    let p0 = net.params();
    let mut probe = net.clone();
    let mut g = Array1::zeros(p0.len());
    for i in 0..p0.len() {
        let mut p = p0.clone();
        p[i] = p0[i] + h;
        probe.set_params(&p)?;
        let up = probe.loss(x, y)?;
        p[i] = p0[i] - h;
        probe.set_params(&p)?;
        let down = probe.loss(x, y)?;
        g[i] = (up - down) / (2.0 * h);
    }
    Ok(g)
}

/// Rescales the gradients so that their global L2 norm is at most `max_norm`; returns the norm
/// before clipping.
pub fn clip_by_global_norm(grads: &mut Grads, max_norm: f64) -> f64 {
    let norm = grads
        .w
        .iter()
        .map(|w| w.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        + grads
            .b
            .iter()
            .map(|b| b.iter().map(|v| v * v).sum::<f64>())
            .sum::<f64>();
    let norm = norm.sqrt();
    if norm > max_norm && norm.is_finite() {
        let s = max_norm / norm;
        grads.w.iter_mut().for_each(|w| *w *= s);
        grads.b.iter_mut().for_each(|b| *b *= s);
    }
    norm
}
