//! # Week 25 — The ML lifecycle in production: offline vs online evaluation
//!
//! A churn model's life as a state machine ([`lifecycle`]), evaluated offline on held-out
//! customers ([`churn`]) and online in a simulated A/B test ([`online`]): users split by a hash of
//! their id ([`split`]), the two-proportion z-test, confidence intervals and the sample size
//! ([`stats`]), what peeking does to the error rate and the bounds that fix it ([`sequential`]),
//! and interleaving, the faster comparison of rankers ([`interleave`]).

pub mod churn;
pub mod interleave;
pub mod lifecycle;
pub mod online;
pub mod sequential;
pub mod split;
pub mod stats;
