//! # Week 8 — an ML REST service
//!
//! - [`model`]: the versioned model artifact (parameters, feature schema, metrics, content hash)
//!   and its training;
//! - [`inference`]: request validation and prediction;
//! - [`service`]: the axum service — routes, errors, metrics, logs, timeouts, graceful shutdown;
//! - [`loadgen`]: a load generator with an HDR histogram.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week08` replaces each with a `todo!()`.

pub mod inference;
pub mod loadgen;
pub mod model;
pub mod service;

/// The runtime and HTTP client the service and its tests use.
pub use {reqwest, tokio};
