//! # Week 9 — neural networks from scratch
//!
//! - [`activations`]: sigmoid, tanh, ReLU, leaky ReLU, GELU (exact and tanh), softmax and
//!   log-softmax, with derivatives;
//! - [`perceptron`]: the perceptron learning rule, and why it cannot learn XOR;
//! - [`mlp`]: layers, Xavier/He initialisation, the forward pass (and given training code);
//! - [`data`]: seeded moons, spirals and XOR.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week09` replaces each with a `todo!()`.

pub mod activations;
pub mod data;
pub mod mlp;
pub mod perceptron;

pub use wb_core::{MlError, Result};
