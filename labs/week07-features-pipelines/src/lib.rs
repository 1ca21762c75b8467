//! # Week 7 — features, pipelines and error analysis
//!
//! - [`frame`]: a small typed table of numeric and categorical columns, and the credit data;
//! - [`transform`]: the `Transformer` trait, a numeric pipeline, one-hot and target encoders, and
//!   a column transformer;
//! - [`features`]: polynomial and interaction features, quantile bins;
//! - [`analysis`]: metrics per slice, and AUC.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week07` replaces each with a `todo!()`.

pub mod analysis;
pub mod features;
pub mod frame;
pub mod transform;

pub use wb_core::{MlError, Result};
