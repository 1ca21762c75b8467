//! # Week 30 — Autoscaling inference and GPU scheduling
//!
//! - [`traffic`]: arrival processes (Poisson, bursty, a day's profile by thinning);
//! - [`service`]: service times, theoretical or measured ([`measure`]: week 15's batcher, SmolLM2);
//! - [`sim`]: a discrete-event simulation of replicas, a queue, cold starts and a scaler;
//! - [`hpa`]: the Horizontal Pod Autoscaler's algorithm, stabilisation windows included;
//! - [`erlang`]: M/M/c theory (Erlang B and C), which the simulator must reproduce;
//! - [`packing`] and [`mig`]: GPU scheduling — jobs packed onto GPUs, whole or in MIG slices.

pub mod erlang;
pub mod hpa;
pub mod measure;
pub mod mig;
pub mod packing;
pub mod service;
pub mod sim;
pub mod traffic;

/// The lab's folder (where `data/` is).
pub fn lab_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
