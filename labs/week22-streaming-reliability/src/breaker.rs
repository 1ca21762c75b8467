//! A circuit breaker: after enough failures in a row it stops calling the upstream at all
//! (open) and fails fast, so that a service that is down gets time to recover instead of a
//! flood of doomed requests; after a cool-down it lets a few probes through (half-open), and
//! closes again once they succeed.
//!
//! ```text
//!            failures in a row ≥ threshold
//!   Closed ─────────────────────────────────▶ Open ◀──────────┐
//!     ▲                                        │ open_for     │ a probe fails
//!     │ close_after probes succeed             ▼ has passed   │
//!     └─────────────────────────────────── HalfOpen ──────────┘
//! ```
//!
//! Time is passed in (`now`), never read inside: the state machine is a pure function of the
//! events and their times, and the checks replay it on a hand-made clock.

use crate::{Result, invalid};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Calls go through; failures in a row are counted.
    Closed,
    /// Calls are refused until `open_for` has passed.
    Open,
    /// A few probe calls go through; the rest are refused.
    HalfOpen,
}

/// How the breaker trips and recovers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Failures in a row that open it.
    pub threshold: u32,
    /// How long it stays open before letting probes through.
    pub open_for: Duration,
    /// Probes allowed at once while half-open.
    pub probes: u32,
    /// Successful probes that close it.
    pub close_after: u32,
}

impl BreakerConfig {
    /// Checks that the counts are at least 1 (`close_after` may exceed `probes`: a new probe
    /// goes out as each earlier one succeeds).
    pub fn new(threshold: u32, open_for: Duration, probes: u32, close_after: u32) -> Result<Self> {
        for (arg, v) in [
            ("threshold", threshold),
            ("probes", probes),
            ("close_after", close_after),
        ] {
            if v == 0 {
                return Err(invalid(arg, "expected at least 1"));
            }
        }
        Ok(Self {
            threshold,
            open_for,
            probes,
            close_after,
        })
    }
}

/// A circuit breaker (see the module's diagram).
#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    state: State,
    /// Failures in a row while closed.
    failures: u32,
    /// When it last opened.
    opened_at: Option<Instant>,
    /// Probes let through and not yet reported, and probes that succeeded, while half-open.
    in_flight: u32,
    successes: u32,
    /// Every change of state, with its time.
    pub transitions: Vec<(Instant, State)>,
    /// Calls refused because it was open (or half-open with its probes out).
    pub refused: u64,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: State::Closed,
            failures: 0,
            opened_at: None,
            in_flight: 0,
            successes: 0,
            transitions: Vec::new(),
            refused: 0,
        }
    }

    /// The state as of the last event (an open breaker whose time is up turns half-open only
    /// when [`Breaker::allow`] is next asked).
    pub fn state(&self) -> State {
        self.state
    }

    fn go(&mut self, now: Instant, state: State) {
        self.state = state;
        self.transitions.push((now, state));
        match state {
            State::Closed => self.failures = 0,
            State::Open => self.opened_at = Some(now),
            State::HalfOpen => {
                self.in_flight = 0;
                self.successes = 0;
            }
        }
    }

    // ANCHOR: allow
    /// Whether a call may go out at `now`. Every `true` must be followed by one
    /// [`Breaker::record`] of its outcome.
    pub fn allow(&mut self, now: Instant) -> bool {
        // BEGIN SOLUTION allow
        if self.state == State::Open
            && self
                .opened_at
                .is_some_and(|t| now.saturating_duration_since(t) >= self.config.open_for)
        {
            self.go(now, State::HalfOpen);
        }
        let allowed = match self.state {
            State::Closed => true,
            State::Open => false,
            State::HalfOpen => {
                if self.in_flight < self.config.probes {
                    self.in_flight += 1;
                    true
                } else {
                    false
                }
            }
        };
        if !allowed {
            self.refused += 1;
        }
        allowed
        // END SOLUTION
    }
    // ANCHOR_END: allow

    // ANCHOR: record
    /// The outcome of a call [`Breaker::allow`] let through.
    pub fn record(&mut self, now: Instant, ok: bool) {
        // BEGIN SOLUTION record
        match self.state {
            State::Closed => {
                if ok {
                    self.failures = 0;
                } else {
                    self.failures += 1;
                    if self.failures >= self.config.threshold {
                        self.go(now, State::Open);
                    }
                }
            }
            State::HalfOpen => {
                self.in_flight = self.in_flight.saturating_sub(1);
                if !ok {
                    self.go(now, State::Open);
                } else {
                    self.successes += 1;
                    if self.successes >= self.config.close_after {
                        self.go(now, State::Closed);
                    }
                }
            }
            // A call let through before the breaker opened, finishing late: it changes nothing.
            State::Open => {}
        }
        // END SOLUTION
    }
    // ANCHOR_END: record

    /// A call [`Breaker::allow`] let through that ended without an outcome (its caller went
    /// away): it says nothing about the upstream, but a probe's place is freed, or a half-open
    /// breaker whose probe was abandoned would refuse every call from then on.
    pub fn release(&mut self) {
        if self.state == State::HalfOpen {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_after_the_threshold_and_recovers_through_probes() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut b = Breaker::new(BreakerConfig::new(2, Duration::from_millis(100), 1, 1).unwrap());
        assert!(b.allow(at(0)));
        b.record(at(1), false);
        assert!(b.allow(at(2)));
        b.record(at(3), false);
        assert_eq!(b.state(), State::Open);
        assert!(!b.allow(at(50)));
        assert!(b.allow(at(103)));
        assert_eq!(b.state(), State::HalfOpen);
        assert!(!b.allow(at(104)), "one probe at a time");
        b.record(at(110), true);
        assert_eq!(b.state(), State::Closed);
        assert_eq!(b.refused, 2);
    }

    #[test]
    fn an_abandoned_probe_frees_its_place() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut b = Breaker::new(BreakerConfig::new(1, Duration::from_millis(10), 1, 1).unwrap());
        assert!(b.allow(at(0)));
        b.record(at(1), false);
        assert!(b.allow(at(20)), "the probe");
        b.release();
        assert_eq!(b.state(), State::HalfOpen, "no outcome, no change");
        assert!(b.allow(at(21)), "another probe in its place");
    }
}
