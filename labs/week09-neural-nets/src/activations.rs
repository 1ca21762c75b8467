//! Activation functions and their derivatives: the non-linearities that let a network bend.
//! Without them, any stack of linear layers is one linear layer.

use ndarray::{Array2, ArrayView2, Axis};
use wb_core::{Result, check_data};

/// An element-wise activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    /// max(αx, x) with the given α (0.01 is common).
    LeakyRelu(f64),
    /// x·Φ(x) with Φ the standard normal CDF, computed with erf.
    GeluExact,
    /// The tanh approximation of GELU used by GPT-2: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    GeluTanh,
    /// The identity (no activation), for output layers.
    Identity,
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

// ANCHOR: activations
impl Activation {
    /// The activation at x.
    pub fn value(self, x: f64) -> f64 {
        // BEGIN SOLUTION activations
        match self {
            Activation::Sigmoid => {
                if x >= 0.0 {
                    1.0 / (1.0 + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (1.0 + e)
                }
            }
            Activation::Tanh => x.tanh(),
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a * x
                }
            }
            Activation::GeluExact => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            Activation::GeluTanh => {
                0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh())
            }
            Activation::Identity => x,
        }
        // END SOLUTION
    }

    /// The derivative at x (for ReLU at 0, 0 — the usual convention).
    pub fn derivative(self, x: f64) -> f64 {
        // BEGIN SOLUTION activations
        match self {
            Activation::Sigmoid => {
                let s = Activation::Sigmoid.value(x);
                s * (1.0 - s)
            }
            Activation::Tanh => 1.0 - x.tanh().powi(2),
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu(a) => {
                if x > 0.0 {
                    1.0
                } else {
                    a
                }
            }
            Activation::GeluExact => {
                let cdf = 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                cdf + x * pdf
            }
            Activation::GeluTanh => {
                let u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
                let t = u.tanh();
                0.5 * (1.0 + t)
                    + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x)
            }
            Activation::Identity => 1.0,
        }
        // END SOLUTION
    }
}
// ANCHOR_END: activations

// ANCHOR: softmax
/// Row-wise log-softmax `x_i − log Σ_j e^{x_j}`, stable at any magnitude: subtract the row's
/// maximum first, so the largest exponent is e⁰ = 1 and nothing overflows.
///
/// x: [n, k] → [n, k]
pub fn log_softmax(x: ArrayView2<f64>) -> Result<Array2<f64>> {
    check_data("x", &x)?;
    // BEGIN SOLUTION softmax
    let mut out = x.to_owned();
    for mut row in out.axis_iter_mut(Axis(0)) {
        let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        row.mapv_inplace(|v| v - lse);
    }
    Ok(out)
    // END SOLUTION
}

/// Row-wise softmax `e^{x_i} / Σ_j e^{x_j}`: probabilities that sum to 1, finite at ±1000.
///
/// x: [n, k] → [n, k]
pub fn softmax(x: ArrayView2<f64>) -> Result<Array2<f64>> {
    Ok(log_softmax(x)?.mapv(f64::exp))
}
// ANCHOR_END: softmax

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn hand_worked_activations() {
        assert_eq!(Activation::Sigmoid.value(0.0), 0.5);
        assert_eq!(Activation::Relu.value(-2.0), 0.0);
        assert_eq!(Activation::LeakyRelu(0.1).value(-2.0), -0.2);
        assert_eq!(Activation::GeluExact.value(0.0), 0.0);
        assert!((Activation::GeluExact.derivative(0.0) - 0.5).abs() < 1e-15);
        let s = softmax(array![[1000.0, 0.0, -1000.0]].view()).unwrap();
        assert_eq!(s, array![[1.0, 0.0, 0.0]]);
        let l = log_softmax(array![[1000.0, 1000.0]].view()).unwrap();
        assert!((l[[0, 0]] + std::f64::consts::LN_2).abs() < 1e-12);
    }
}
