//! # Week 3 — statistics, splits, preprocessing and a first model
//!
//! - [`stats`]: mean, variance (population and sample), quantiles, covariance, correlation;
//! - [`split`]: seeded and stratified train/test splits;
//! - [`transform`]: imputers, scalers, a one-hot encoder and a pipeline, all fit/transform;
//! - [`logistic`]: logistic regression from scratch, accuracy, precision, recall;
//! - [`titanic`]: the mini-project's data and its column transformer.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week03` replaces each with a `todo!()`.

pub mod logistic;
pub mod split;
pub mod stats;
pub mod titanic;
pub mod transform;

pub use wb_core::{MlError, Result};
