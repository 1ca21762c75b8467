//! # Week 2 — linear regression from scratch
//!
//! One idea per file:
//! - [`vectors`]: dot products and norms, the language of linear algebra;
//! - [`gradients`]: derivatives by central differences, and how to check an analytic gradient;
//! - [`losses`]: MSE, MAE and Huber, and their gradients;
//! - [`scaling`]: standardising features (fit on train, transform anything);
//! - [`linreg`]: linear regression by the normal equations, batch gradient descent and
//!   mini-batch SGD.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week02` replaces each with a `todo!()`.

pub mod gradients;
pub mod linreg;
pub mod losses;
pub mod scaling;
pub mod vectors;

pub use wb_core::{MlError, Result};
