//! # Week 6 — evaluation
//!
//! - [`metrics`]: confusion matrix, precision/recall/F1 (macro, micro, weighted), log loss,
//!   MAE/RMSE/R²;
//! - [`curves`]: ROC and its AUC (trapezoid and rank formula), precision–recall and average
//!   precision;
//! - [`cv`]: k-fold and stratified k-fold cross-validation.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week06` replaces each with a `todo!()`.

pub mod curves;
pub mod cv;
pub mod metrics;

pub use wb_core::{MlError, Result};
