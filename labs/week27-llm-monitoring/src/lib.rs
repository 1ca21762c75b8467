//! # Week 27 — Monitoring LLMs: drift, hallucination and quality metrics
//!
//! [`quality`]: exact match, token F1, ROUGE-L and BLEU, equal to the reference implementations;
//! [`drift`]: PSI, the two-sample KS test and MMD on embeddings.

pub mod drift;
pub mod eval;
pub mod ground;
pub mod monitor;
pub mod quality;
pub mod service;
pub mod sets;
