//! # Week 5 — trees, ensembles, overfitting and regularisation
//!
//! - [`tree`]: CART from scratch (Gini, entropy, squared error; depth, leaf size, importances);
//! - [`ensemble`]: a random forest with an out-of-bag score, and gradient boosting for regression;
//! - [`regularized`]: ridge and lasso by coordinate descent.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week05` replaces each with a `todo!()`.

pub mod ensemble;
pub mod regularized;
pub mod tree;

pub use wb_core::{MlError, Result};
/// The linfa this lab compares with, for the grader.
pub use {linfa, linfa_trees};
