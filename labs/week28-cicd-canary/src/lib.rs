//! # Week 28 — CI/CD for ML and canary deployments
//!
//! [`pipeline`]: train, measure the noise, gate against production (week 26's registry);
//! [`workflow`]: the GitHub Actions workflow read, checked and run locally; [`canary`]: the
//! sticky hashed split, the tests on errors and latency, the rollout's rules and its simulation;
//! [`proxy`]: the canary over real HTTP.

pub mod canary;
pub mod pipeline;
pub mod proxy;
pub mod workflow;
