//! Retries done right: which failures to retry, how long to wait (exponential backoff with full
//! jitter), and how many retries a whole client may spend (a retry budget), all inside a
//! deadline.
//!
//! Full jitter (Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015): the wait
//! before retry `n` is drawn uniformly from `[0, min(cap, base · 2ⁿ)]`. Clients that failed
//! together then come back spread out instead of in synchronised waves.

use crate::{Result, invalid};
use rand::Rng;
use std::time::Duration;

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The ceiling of the first retry's wait.
    pub base: Duration,
    /// No wait is longer than this.
    pub cap: Duration,
}

impl Backoff {
    /// Checks `0 < base ≤ cap`.
    pub fn new(base: Duration, cap: Duration) -> Result<Self> {
        if base.is_zero() {
            return Err(invalid("base", "expected a wait longer than zero"));
        }
        if cap < base {
            return Err(invalid(
                "cap",
                format!("expected at least base ({base:?}), got {cap:?}"),
            ));
        }
        Ok(Self { base, cap })
    }

    /// The longest wait before retry `attempt` (0 for the first retry): `min(cap, base · 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let grown = self.base.as_secs_f64() * 2f64.powi(attempt.min(62) as i32);
        Duration::from_secs_f64(grown.min(self.cap.as_secs_f64()))
    }

    // ANCHOR: delay
    /// The wait before retry `attempt`: uniform in `[0, ceiling(attempt)]` (full jitter).
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        // BEGIN SOLUTION delay
        self.ceiling(attempt).mul_f64(rng.r#gen::<f64>())
        // END SOLUTION
    }
    // ANCHOR_END: delay
}

// ANCHOR: budget
/// A retry budget: every request deposits `ratio` of a retry, every retry withdraws a whole one,
/// and a retry is allowed only while a whole one is left. The balance starts at `reserve` (what
/// a client may retry before it has sent anything) and never exceeds `cap`. So however the
/// upstream fails, retries never exceed `reserve + ratio · requests`: during an outage the
/// budget turns a retry storm into a trickle. (Finagle's `RetryBudget` and gRPC's retry
/// throttling work the same way.) Amounts are kept in thousandths of a retry, so that ten
/// deposits of 0.1 make exactly one.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudget {
    /// Thousandths of a retry: deposited per request, the most kept, and held now.
    ratio: u64,
    cap: u64,
    balance: u64,
    /// Retries allowed and refused so far.
    pub spent: u64,
    pub refused: u64,
}

/// Thousandths of a retry in one retry.
const WHOLE: u64 = 1000;

impl RetryBudget {
    /// Checks `0 ≤ ratio ≤ 1` and `0 ≤ reserve ≤ cap ≤ 10⁶` (amounts in retries).
    pub fn new(ratio: f64, reserve: f64, cap: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(invalid("ratio", format!("expected 0 to 1, got {ratio}")));
        }
        if !(reserve >= 0.0 && reserve <= cap && cap <= 1e6) {
            return Err(invalid(
                "reserve",
                format!("expected 0 ≤ reserve ≤ cap ≤ 10⁶, got reserve {reserve}, cap {cap}"),
            ));
        }
        let milli = |x: f64| (x * WHOLE as f64).round() as u64;
        Ok(Self {
            ratio: milli(ratio),
            cap: milli(cap),
            balance: milli(reserve),
            spent: 0,
            refused: 0,
        })
    }

    /// A budget that never refuses (for comparison).
    pub fn unlimited() -> Self {
        Self {
            ratio: 0,
            cap: u64::MAX,
            balance: u64::MAX,
            spent: 0,
            refused: 0,
        }
    }

    /// A first attempt was sent: deposit `ratio`.
    pub fn on_request(&mut self) {
        self.balance = self.balance.saturating_add(self.ratio).min(self.cap);
    }

    /// Whether a retry may go out now (and if so, it is paid for).
    pub fn try_retry(&mut self) -> bool {
        // BEGIN SOLUTION budget
        if self.balance >= WHOLE {
            self.balance -= WHOLE;
            self.spent += 1;
            true
        } else {
            self.refused += 1;
            false
        }
        // END SOLUTION
    }

    /// Retries that can be paid for now.
    pub fn balance(&self) -> f64 {
        self.balance as f64 / WHOLE as f64
    }
}
// ANCHOR_END: budget

/// How an attempt failed, as the retry policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection (refused, or reset before a response).
    Connect(String),
    /// The connection broke after the response had started.
    Reset(String),
    /// No response, or no next event, within the attempt's timeout.
    Timeout,
    /// The response ended before its last event.
    Truncated,
    /// An HTTP error status, with the server's `Retry-After` when it sent one.
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// The circuit breaker refused to try (the upstream is believed down).
    BreakerOpen,
    /// The answer contradicts what was already streamed (a non-deterministic upstream).
    Diverged,
}

impl Failure {
    /// Whether trying again can help: network failures, timeouts, truncations, 429 and the
    /// gateway statuses (502, 503, 504). A 4xx says the request itself is wrong, a 500 that the
    /// server has a bug: the same request would fail the same way.
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Connect(_) | Failure::Reset(_) | Failure::Timeout | Failure::Truncated => true,
            Failure::Status { code, .. } => matches!(code, 429 | 502 | 503 | 504),
            Failure::BreakerOpen | Failure::Diverged => false,
        }
    }

    /// A short name, for counts and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Connect(_) => "connect",
            Failure::Reset(_) => "reset",
            Failure::Timeout => "timeout",
            Failure::Truncated => "truncated",
            Failure::Status { .. } => "status",
            Failure::BreakerOpen => "breaker_open",
            Failure::Diverged => "diverged",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "could not connect: {e}"),
            Failure::Reset(e) => write!(f, "the connection broke: {e}"),
            Failure::Timeout => write!(f, "timed out"),
            Failure::Truncated => write!(f, "the stream ended before its last event"),
            Failure::Status { code, .. } => write!(f, "the upstream answered {code}"),
            Failure::BreakerOpen => write!(f, "the circuit breaker is open"),
            Failure::Diverged => write!(f, "a retry's answer differs from what was streamed"),
        }
    }
}

/// When to retry, and how long to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// `None`: retry at once.
    pub backoff: Option<Backoff>,
    /// One attempt's limit for the response to start, and then for each next event.
    pub attempt_timeout: Duration,
    /// The whole request's limit, retries and waits included.
    pub deadline: Duration,
}

impl RetryPolicy {
    /// Checks `max_attempts ≥ 1` and non-zero timeouts.
    pub fn new(
        max_attempts: u32,
        backoff: Option<Backoff>,
        attempt_timeout: Duration,
        deadline: Duration,
    ) -> Result<Self> {
        if max_attempts == 0 {
            return Err(invalid("max_attempts", "expected at least 1 (the first)"));
        }
        if attempt_timeout.is_zero() || deadline.is_zero() {
            return Err(invalid(
                "attempt_timeout",
                "expected timeouts longer than zero",
            ));
        }
        Ok(Self {
            max_attempts,
            backoff,
            attempt_timeout,
            deadline,
        })
    }

    /// The wait before retry `retry` (0 for the first) after `failure`: the backoff's draw, but
    /// never shorter than the server's `Retry-After`.
    pub fn wait(&self, retry: u32, failure: &Failure, rng: &mut impl Rng) -> Duration {
        let drawn = self.backoff.map_or(Duration::ZERO, |b| b.delay(retry, rng));
        match failure {
            Failure::Status {
                retry_after: Some(after),
                ..
            } => drawn.max(*after),
            _ => drawn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ceilings_double_then_stop_at_the_cap() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000)).unwrap();
        let got: Vec<u128> = (0..6).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(1000));
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        assert!((0..1000).all(|_| b.delay(2, &mut rng) <= Duration::from_millis(400)));
    }

    #[test]
    fn a_budget_pays_for_at_most_reserve_plus_ratio_per_request() {
        let mut budget = RetryBudget::new(0.1, 2.0, 10.0).unwrap();
        let mut retries = 0;
        for _ in 0..100 {
            budget.on_request();
            while budget.try_retry() {
                retries += 1;
            }
        }
        // 2 + 0.1 · 100 = 12 (the balance reaches 1 every tenth request).
        assert_eq!(retries, 12);
        assert!(RetryBudget::new(1.5, 1.0, 2.0).is_err());
        assert!(RetryBudget::new(0.1, 3.0, 2.0).is_err());
    }
}
