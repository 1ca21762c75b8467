//! A multi-layer perceptron: layers of `z = a·W + b` followed by an activation, with Xavier or He
//! initialisation. The forward pass is the exercise; training (backpropagation and Adam) is given
//! here so the lab can draw decision boundaries — week 10 asks you to write it.

use crate::activations::{Activation, log_softmax};
use crate::data::normal;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use wb_core::{MlError, Result, check_data, check_len};
use wb_data::SplitMix64;

/// What the forward pass keeps for backpropagation: (pre-activations z per layer, input
/// activations a per layer).
pub type ForwardCache = (Vec<Array2<f64>>, Vec<Array2<f64>>);

/// How the weights start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Glorot/Xavier uniform: U(−a, a) with a = √(6/(fan_in + fan_out)), variance 2/(fan_in + fan_out).
    /// Keeps the variance of activations and of gradients steady through tanh/sigmoid layers.
    Xavier,
    /// He/Kaiming normal: N(0, 2/fan_in). ReLU zeroes half its inputs, so it needs twice the variance.
    He,
}

/// One fully connected layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// w: [fan_in, fan_out]
    pub w: Array2<f64>,
    /// b: [fan_out]
    pub b: Array1<f64>,
}

/// An MLP: hidden layers share one activation; the last layer outputs logits (no activation).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    pub layers: Vec<Dense>,
    pub hidden: Activation,
}

// ANCHOR: init
/// Weights for a layer of shape [fan_in, fan_out] drawn with `init`; biases start at 0.
pub fn init_layer(fan_in: usize, fan_out: usize, init: Init, rng: &mut SplitMix64) -> Dense {
    // BEGIN SOLUTION init
    let w = match init {
        Init::Xavier => {
            let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
            Array2::from_shape_simple_fn((fan_in, fan_out), || (2.0 * rng.next_f64() - 1.0) * a)
        }
        Init::He => {
            let sd = (2.0 / fan_in as f64).sqrt();
            Array2::from_shape_simple_fn((fan_in, fan_out), || sd * normal(rng))
        }
    };
    Dense {
        w,
        b: Array1::zeros(fan_out),
    }
    // END SOLUTION
}
// ANCHOR_END: init

impl Mlp {
    /// `sizes` = [inputs, hidden…, outputs], for example [2, 16, 16, 2].
    pub fn new(sizes: &[usize], hidden: Activation, init: Init, seed: u64) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(MlError::InvalidArgument {
                arg: "sizes".into(),
                detail: "need at least an input and an output size".into(),
            });
        }
        if let Some(i) = sizes.iter().position(|&s| s == 0) {
            return Err(MlError::InvalidArgument {
                arg: "sizes".into(),
                detail: format!("layer {i} has size 0"),
            });
        }
        let mut rng = SplitMix64::new(seed);
        let layers = sizes
            .windows(2)
            .map(|w| init_layer(w[0], w[1], init, &mut rng))
            .collect();
        Ok(Self { layers, hidden })
    }

    pub fn n_inputs(&self) -> usize {
        self.layers[0].w.nrows()
    }

    // ANCHOR: forward
    /// The forward pass, keeping what backpropagation needs: the pre-activations `z` of every
    /// layer and the activations `a` entering every layer (a[0] = x; the logits are the last z).
    ///
    /// x: [n, inputs] → (zs: one [n, fan_out] per layer, activations: one [n, fan_in] per layer)
    pub fn forward_cache(&self, x: ArrayView2<f64>) -> Result<ForwardCache> {
        check_data("x", &x)?;
        check_len(
            "x (columns)",
            x.ncols(),
            self.n_inputs(),
            "the input size of the first layer",
        )?;
        // BEGIN SOLUTION forward
        let mut zs = Vec::with_capacity(self.layers.len());
        let mut activations = Vec::with_capacity(self.layers.len());
        let mut a = x.to_owned(); // [n, fan_in]
        for (i, layer) in self.layers.iter().enumerate() {
            let z = a.dot(&layer.w) + &layer.b; // [n, fan_out]
            let next = if i + 1 < self.layers.len() {
                z.mapv(|v| self.hidden.value(v))
            } else {
                z.clone()
            };
            activations.push(a);
            zs.push(z);
            a = next;
        }
        Ok((zs, activations))
        // END SOLUTION
    }
    // ANCHOR_END: forward

    /// Logits. x: [n, inputs] → [n, outputs]
    pub fn forward(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let (mut zs, _) = self.forward_cache(x)?;
        zs.pop().ok_or_else(|| MlError::InvalidArgument {
            arg: "mlp".into(),
            detail: "has no layer".into(),
        })
    }

    /// The most likely class of each row.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<usize>> {
        let logits = self.forward(x)?;
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
}

/// Mean cross-entropy of the logits against the labels.
pub fn cross_entropy(logits: ArrayView2<f64>, y: &[usize]) -> Result<f64> {
    let lp = log_softmax(logits)?;
    check_len("y", y.len(), lp.nrows(), "one label per row")?;
    if let Some(&bad) = y.iter().find(|&&c| c >= lp.ncols()) {
        return Err(MlError::InvalidArgument {
            arg: "y".into(),
            detail: format!("label {bad} ≥ {} classes", lp.ncols()),
        });
    }
    Ok(-y.iter().enumerate().map(|(i, &c)| lp[[i, c]]).sum::<f64>() / y.len() as f64)
}

/// Trains with backpropagation and Adam on mini-batches (given code; week 10 is about writing it).
/// Returns the training loss after each epoch.
pub fn train(
    mlp: &mut Mlp,
    x: ArrayView2<f64>,
    y: &[usize],
    epochs: usize,
    learning_rate: f64,
    batch: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    check_len("y", y.len(), x.nrows(), "one label per row of x")?;
    wb_core::check_positive("learning_rate", learning_rate)?;
    if batch == 0 {
        return Err(MlError::InvalidArgument {
            arg: "batch".into(),
            detail: "must be at least 1".into(),
        });
    }
    let k = mlp.layers.last().map_or(0, |l| l.b.len());
    if let Some(&bad) = y.iter().find(|&&c| c >= k) {
        return Err(MlError::InvalidArgument {
            arg: "y".into(),
            detail: format!("label {bad} ≥ {k} outputs"),
        });
    }
    let (b1, b2, eps) = (0.9, 0.999, 1e-8);
    let mut moments: Vec<[Array2<f64>; 2]> = mlp
        .layers
        .iter()
        .map(|l| [Array2::zeros(l.w.raw_dim()), Array2::zeros(l.w.raw_dim())])
        .collect();
    let mut bmoments: Vec<[Array1<f64>; 2]> = mlp
        .layers
        .iter()
        .map(|l| [Array1::zeros(l.b.len()), Array1::zeros(l.b.len())])
        .collect();
    let mut t = 0;
    let mut losses = Vec::with_capacity(epochs);
    for epoch in 0..epochs {
        let order = wb_data::shuffled_indices(x.nrows(), seed.wrapping_add(epoch as u64));
        for chunk in order.chunks(batch) {
            let xb = x.select(Axis(0), chunk);
            let yb: Vec<usize> = chunk.iter().map(|&i| y[i]).collect();
            let (zs, acts) = mlp.forward_cache(xb.view())?;
            // dL/dlogits = softmax − one-hot, averaged over the batch.
            let mut delta = log_softmax(zs[zs.len() - 1].view())?.mapv(f64::exp);
            for (i, &c) in yb.iter().enumerate() {
                delta[[i, c]] -= 1.0;
            }
            delta /= yb.len() as f64;
            t += 1;
            for l in (0..mlp.layers.len()).rev() {
                let gw = acts[l].t().dot(&delta);
                let gb = delta.sum_axis(Axis(0));
                if l > 0 {
                    let back = delta.dot(&mlp.layers[l].w.t());
                    delta = &back * &zs[l - 1].mapv(|v| mlp.hidden.derivative(v));
                }
                let [m, v] = &mut moments[l];
                *m = &*m * b1 + &gw * (1.0 - b1);
                *v = &*v * b2 + &gw.mapv(|g| g * g) * (1.0 - b2);
                let [mb, vb] = &mut bmoments[l];
                *mb = &*mb * b1 + &gb * (1.0 - b1);
                *vb = &*vb * b2 + &gb.mapv(|g| g * g) * (1.0 - b2);
                let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
                let layer = &mut mlp.layers[l];
                layer.w =
                    &layer.w - &(&*m / c1 / (&v.mapv(|v| (v / c2).sqrt()) + eps) * learning_rate);
                layer.b =
                    &layer.b - &(&*mb / c1 / (&vb.mapv(|v| (v / c2).sqrt()) + eps) * learning_rate);
            }
        }
        losses.push(cross_entropy(mlp.forward(x)?.view(), y)?);
    }
    Ok(losses)
}
