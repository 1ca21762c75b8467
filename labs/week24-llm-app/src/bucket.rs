//! Rate limiting by token bucket, one bucket per API key. A bucket holds at most `capacity`
//! tokens (the burst a key may send at once) and refills at `per_second`; a request takes one
//! token, or is refused with the time until one is there (`Retry-After`). Times are durations
//! since a fixed start, so that the arithmetic can be checked by hand.

use crate::{Result, invalid};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// A key's limit: a burst of `capacity` requests, then `per_second` on average.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rate {
    pub capacity: f64,
    pub per_second: f64,
}

impl Rate {
    /// `per_minute` requests a minute, bursts of `burst`.
    pub fn per_minute(per_minute: f64, burst: f64) -> Result<Self> {
        let rate = Self {
            capacity: burst,
            per_second: per_minute / 60.0,
        };
        rate.check()?;
        Ok(rate)
    }

    pub fn check(&self) -> Result<()> {
        if !(self.capacity.is_finite() && self.capacity >= 1.0) {
            return Err(invalid(
                "capacity",
                format!(
                    "expected a burst of at least 1 request, got {}",
                    self.capacity
                ),
            ));
        }
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Err(invalid(
                "per_second",
                format!("expected a refill rate > 0, got {}", self.per_second),
            ));
        }
        Ok(())
    }
}

/// What the limiter decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Let through; `remaining` tokens are left.
    Allowed { remaining: f64 },
    /// Refused; a token will be there after `retry_after`.
    Limited { retry_after: Duration },
}

impl Decision {
    /// `Retry-After` in whole seconds, rounded up (HTTP allows no fractions), at least 1.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            Decision::Allowed { .. } => None,
            Decision::Limited { retry_after } => {
                Some((retry_after.as_secs_f64().ceil() as u64).max(1))
            }
        }
    }
}

/// One key's bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub rate: Rate,
    /// Tokens held at `at` (fractions count: refilling is continuous).
    pub tokens: f64,
    /// When `tokens` was last brought up to date.
    pub at: Duration,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn new(rate: Rate, now: Duration) -> Result<Self> {
        rate.check()?;
        Ok(Self {
            rate,
            tokens: rate.capacity,
            at: now,
        })
    }

    // ANCHOR: take
    /// Takes one token at `now`, if there is one. First the bucket refills for the time since
    /// `at` (never above capacity; a clock read earlier than `at` refills nothing).
    pub fn take(&mut self, now: Duration) -> Decision {
        // BEGIN SOLUTION take
        let elapsed = now.saturating_sub(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate.per_second).min(self.rate.capacity);
        self.at = self.at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Decision::Allowed {
                remaining: self.tokens,
            }
        } else {
            Decision::Limited {
                retry_after: Duration::from_secs_f64((1.0 - self.tokens) / self.rate.per_second),
            }
        }
        // END SOLUTION
    }
    // ANCHOR_END: take
}

/// The buckets of every key, behind one lock (a decision takes well under a microsecond: the
/// lock is held for no longer).
#[derive(Debug, Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The decision for `key` at `now` under `rate` (a key's first request finds a full bucket;
    /// a changed rate takes effect at once, keeping the tokens held, up to the new capacity).
    pub fn check(&self, key: &str, rate: Rate, now: Duration) -> Result<Decision> {
        rate.check()?;
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| invalid("limiter", "a thread panicked while holding the buckets"))?;
        if !buckets.contains_key(key) {
            buckets.insert(key.to_string(), Bucket::new(rate, now)?);
        }
        let bucket = buckets.get_mut(key).expect("inserted above");
        if bucket.rate != rate {
            bucket.tokens = bucket.tokens.min(rate.capacity);
            bucket.rate = rate;
        }
        Ok(bucket.take(now))
    }
}
