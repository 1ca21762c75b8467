//! # Week 1 — arrays, DataFrames, plots and features
//!
//! - [`arrays`]: ndarray — creation, slicing, boolean masks, reductions along axes, broadcasting;
//! - [`frames`]: polars — read, select, filter, sort, group_by/agg, nulls, joins, to a matrix;
//! - [`features`]: what a feature is — penguins into X, y and feature names.
//!
//! The regions between `// BEGIN SOLUTION` and `// END SOLUTION` are the exercises:
//! `cargo run -p workbook -- start week01` replaces each with a `todo!()`.

pub mod arrays;
pub mod features;
pub mod frames;

/// The polars this lab is built with, for the grader and other users of its DataFrames.
pub use polars;
pub use wb_core::{MlError, Result};
