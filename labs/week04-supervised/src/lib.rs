//! # Week 4 — supervised vs unsupervised learning, and bias vs variance
//!
//! - [`kmeans`]: unsupervised — k-means from scratch with k-means++, beside linfa-clustering;
//! - [`supervised`]: supervised — linear and logistic regression with linfa;
//! - [`bias_variance`]: a polynomial degree sweep and bootstrap estimates of bias² and variance.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week04` replaces each with a `todo!()`.

pub mod bias_variance;
pub mod kmeans;
pub mod supervised;

pub use wb_core::{MlError, Result};
