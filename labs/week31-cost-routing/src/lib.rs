//! # Week 31 — Cost, routing and fallbacks
//!
//! What an LLM request costs, and how a service pays less for the same quality:
//!
//! - [`cache`]: an exact cache (normalised text) and a semantic cache (MiniLM similarity above a
//!   threshold), per tenant, with an admission policy that keeps poisoned answers out;
//! - [`trace`]: a replayed request trace of support questions, paraphrases and near misses, on
//!   which hit rates and false hits are measured;
//! - [`classify`]: a naive Bayes spam filter, the cheap first stage, and SmolLM2 scoring the two
//!   labels, the expensive one; [`cascade`]: escalate on low confidence, and its trade-off;
//! - [`route`]: requests routed by task to the cheapest backend that meets latency and quality;
//! - [`fallback`]: a chain of backends, each behind week 22's circuit breaker, tried in order;
//! - costs in integer nano-dollars through week 24's prices and ledger.

pub mod cache;
pub mod cascade;
pub mod classify;
pub mod fallback;
pub mod route;
pub mod trace;

pub use week22_streaming_reliability as week22;
pub use week24_llm_app as week24;
pub use week24_llm_app::wb_llm;

/// The lab's folder (where `data/` is).
pub fn lab_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
