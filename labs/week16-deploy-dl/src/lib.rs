//! # Week 16 — deploying a deep-learning model
//!
//! - [`images`]: a request's image (PNG bytes, a multipart upload, JSON pixels) to the network's
//!   784 pixels, or a 4xx naming the problem;
//! - [`model`]: the week 11 CNN in its deployable form (`wb_models::DigitCnn`), loaded from its
//!   files or trained on MNIST-10k when there are none;
//! - [`service`]: the axum service — predictions through the dynamic batcher (`wb_serve`),
//!   health, readiness, Prometheus metrics, graceful shutdown.
//!
//! `deploy/` holds the container: a multi-stage `Containerfile` for any machine with docker or
//! podman, and the test that builds an image here and runs it.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week16` replaces each with a `todo!()`.

pub mod images;
pub mod model;
pub mod service;

/// The crates the checks use with this lab's versions.
pub use {candle_core, reqwest, tokio, wb_models, wb_serve};
