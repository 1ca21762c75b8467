//! # Week 15 — serving patterns: batch and online inference
//!
//! - [`data`]: the lab's tables (customers, transactions, a labelled sample), generated;
//! - [`model`]: the features in SQL, a logistic regression and its artifact, scoring;
//! - [`batch`]: the partitioned batch job: row ranges, atomic Parquet part files, resume;
//! - [`online`]: a neural network behind axum and a dynamic batcher ([`wb_serve`]);
//! - [`loadgen`]: closed- and open-loop load generators.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week15` replaces each with a `todo!()`.

pub mod batch;
pub mod data;
pub mod loadgen;
pub mod model;
pub mod online;

/// The crates the checks use with this lab's versions.
pub use {polars, reqwest, tokio, wb_serve};
