//! # Week 10 — backpropagation, optimisers and vanishing gradients
//!
//! - [`autograd`]: a scalar reverse-mode autograd engine (micrograd in Rust);
//! - [`net`]: a vectorised MLP and its backpropagation, with gradient checking and clipping;
//! - [`optim`]: SGD, momentum, Nesterov, RMSProp, Adam and AdamW, and the Rosenbrock function;
//! - [`train`]: a training loop with a progress bar, and per-layer gradient norms.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week10` replaces each with a `todo!()`.

pub mod autograd;
pub mod net;
pub mod optim;
pub mod train;

pub use wb_core::{MlError, Result};
