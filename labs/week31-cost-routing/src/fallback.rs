//! A fallback chain: backends in order of preference, each behind its own circuit breaker (week
//! 22's). A request tries the first backend whose breaker lets it through; a failure is recorded
//! on that breaker and the next backend is tried. A backend that keeps failing trips its breaker
//! and is then skipped at once, without waiting for it to fail again, until its cool-down lets a
//! probe through.

use crate::week22::breaker::{Breaker, BreakerConfig};
use anyhow::{Result, ensure};
use serde::Serialize;
use std::time::Instant;

/// What happened at one backend for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attempt {
    /// It answered.
    Answered(usize),
    /// It was called and failed, with its error.
    Failed(usize, String),
    /// Its breaker was open: not called.
    Skipped(usize),
}

/// A request that no backend answered, with every attempt in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    pub attempts: Vec<Attempt>,
    pub names: Vec<String>,
}

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "every backend failed:")?;
        for a in &self.attempts {
            match a {
                Attempt::Failed(i, e) => write!(f, " {} failed ({e});", self.names[*i])?,
                Attempt::Skipped(i) => write!(f, " {} skipped (breaker open);", self.names[*i])?,
                Attempt::Answered(i) => write!(f, " {} answered;", self.names[*i])?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for Exhausted {}

/// Backends in order of preference, each with its breaker.
#[derive(Debug, Clone)]
pub struct Chain {
    pub names: Vec<String>,
    pub breakers: Vec<Breaker>,
}

impl Chain {
    /// One breaker per backend, all with `config`.
    pub fn new(names: &[&str], config: BreakerConfig) -> Result<Self> {
        ensure!(
            !names.is_empty(),
            "invalid `names`: a chain needs a backend"
        );
        Ok(Self {
            names: names.iter().map(|s| s.to_string()).collect(),
            breakers: names.iter().map(|_| Breaker::new(config)).collect(),
        })
    }

    // ANCHOR: call
    /// Tries the backends in order at `now`: one whose breaker refuses is skipped; otherwise
    /// `backend(i)` is called and its outcome recorded on breaker i; the first answer wins.
    /// Returns the answer with the attempts made, or every attempt when none answered.
    pub fn call<T>(
        &mut self,
        now: Instant,
        mut backend: impl FnMut(usize) -> std::result::Result<T, String>,
    ) -> std::result::Result<(T, Vec<Attempt>), Exhausted> {
        let mut attempts = Vec::new();
        // BEGIN SOLUTION call
        for (i, breaker) in self.breakers.iter_mut().enumerate() {
            if !breaker.allow(now) {
                attempts.push(Attempt::Skipped(i));
                continue;
            }
            match backend(i) {
                Ok(answer) => {
                    breaker.record(now, true);
                    attempts.push(Attempt::Answered(i));
                    return Ok((answer, attempts));
                }
                Err(e) => {
                    breaker.record(now, false);
                    attempts.push(Attempt::Failed(i, e));
                }
            }
        }
        // END SOLUTION
        Err(Exhausted {
            attempts,
            names: self.names.clone(),
        })
    }
    // ANCHOR_END: call
}
