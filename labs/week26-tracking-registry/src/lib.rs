//! # Week 26 — Experiment tracking and a model registry
//!
//! What MLflow keeps, built on SQLite: a tracking [`store`] (experiments, runs, parameters,
//! step-wise metrics, tags, content-addressed artifacts) that a killed process cannot leave
//! half-written, [`ingest`]ion of the metrics logs earlier labs wrote, a model [`registry`]
//! (versions, aliases, lineage, promotion and rollback in one transaction each), and a small
//! [`sweep`] to track.

pub mod error;
pub mod ingest;
pub mod registry;
pub mod store;
pub mod sweep;

pub use error::{Result, TrackError};
pub use store::{Comparison, Goal, Point, Run, RunSpec, Tracker};
