//! Arrival processes: when requests come.
//!
//! - **Poisson**: independent arrivals at a constant rate λ; the gaps are exponential with mean
//!   1/λ. The reference of queueing theory, and a fair model of many independent users.
//! - **Bursty** (a two-state Markov-modulated Poisson process): calm and burst periods of
//!   exponential lengths, each with its own rate. Same mean as some Poisson process, far larger
//!   queues: the reason an autoscaler needs headroom.
//! - **Profile**: a rate that changes over the day (piecewise linear through given points),
//!   drawn by *thinning*: propose arrivals at the peak rate and keep each with probability
//!   λ(t)/λ_max (Lewis and Shedler, 1979).

use anyhow::{Result, ensure};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// An exponential draw of rate `rate` (mean 1/rate) by inversion.
pub fn exponential(rng: &mut SmallRng, rate: f64) -> f64 {
    // 1 − U is in (0, 1]: its logarithm is finite.
    -(1.0 - rng.r#gen::<f64>()).ln() / rate
}

/// How requests arrive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Traffic {
    /// A constant rate, requests per second.
    Poisson { rate: f64 },
    /// Calm and burst periods, each of exponential length with the given mean (seconds).
    Bursty {
        calm_rate: f64,
        burst_rate: f64,
        mean_calm_s: f64,
        mean_burst_s: f64,
    },
    /// Rate (requests per second) through `(time s, rate)` points, linear in between; the first
    /// point's time is 0 and times increase.
    Profile { points: Vec<(f64, f64)> },
}

impl Traffic {
    /// Fails with the field named when a rate or a duration is not usable.
    pub fn check(&self) -> Result<()> {
        let rate = |arg: &str, v: f64, zero_ok: bool| -> Result<()> {
            ensure!(
                v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0)),
                "{arg}: expected a finite rate {} 0 requests/s, got {v}",
                if zero_ok { "of at least" } else { "above" }
            );
            Ok(())
        };
        match self {
            Traffic::Poisson { rate: r } => rate("rate", *r, false),
            Traffic::Bursty {
                calm_rate,
                burst_rate,
                mean_calm_s,
                mean_burst_s,
            } => {
                rate("calm_rate", *calm_rate, true)?;
                rate("burst_rate", *burst_rate, false)?;
                for (arg, v) in [("mean_calm_s", mean_calm_s), ("mean_burst_s", mean_burst_s)] {
                    ensure!(
                        v.is_finite() && *v > 0.0,
                        "{arg}: expected a duration above 0 s, got {v}"
                    );
                }
                Ok(())
            }
            Traffic::Profile { points } => {
                ensure!(
                    points.len() >= 2,
                    "points: expected at least 2 (time, rate) points, got {}",
                    points.len()
                );
                ensure!(
                    points[0].0 == 0.0,
                    "points[0]: expected to start at time 0, got {}",
                    points[0].0
                );
                for (i, w) in points.windows(2).enumerate() {
                    ensure!(
                        w[1].0.is_finite() && w[1].0 > w[0].0,
                        "points[{}]: expected a time after {} s, got {}",
                        i + 1,
                        w[0].0,
                        w[1].0
                    );
                }
                for (i, p) in points.iter().enumerate() {
                    rate(&format!("points[{i}].rate"), p.1, true)?;
                }
                ensure!(
                    points.iter().any(|p| p.1 > 0.0),
                    "points: every rate is 0: no request would ever come"
                );
                Ok(())
            }
        }
    }

    /// The rate at time `t` (for a profile; the mean rate for the others).
    pub fn rate_at(&self, t: f64) -> f64 {
        match self {
            Traffic::Poisson { rate } => *rate,
            Traffic::Bursty {
                calm_rate,
                burst_rate,
                mean_calm_s,
                mean_burst_s,
            } => {
                (calm_rate * mean_calm_s + burst_rate * mean_burst_s) / (mean_calm_s + mean_burst_s)
            }
            Traffic::Profile { points } => {
                let i = points.partition_point(|p| p.0 <= t);
                match i {
                    0 => points[0].1,
                    i if i == points.len() => points[i - 1].1,
                    i => {
                        let (t0, r0) = points[i - 1];
                        let (t1, r1) = points[i];
                        r0 + (r1 - r0) * (t - t0) / (t1 - t0)
                    }
                }
            }
        }
    }

    /// Arrival times in [0, `duration`) seconds, increasing, drawn with `seed`.
    pub fn arrivals(&self, duration: f64, seed: u64) -> Result<Vec<f64>> {
        self.check()?;
        ensure!(
            duration.is_finite() && duration > 0.0,
            "duration: expected a finite time above 0 s, got {duration}"
        );
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut times = Vec::new();
        match self {
            Traffic::Poisson { rate } => {
                let mut t = exponential(&mut rng, *rate);
                while t < duration {
                    times.push(t);
                    t += exponential(&mut rng, *rate);
                }
            }
            Traffic::Bursty {
                calm_rate,
                burst_rate,
                mean_calm_s,
                mean_burst_s,
            } => {
                // Memorylessness: at the end of each period the next arrival is drawn afresh.
                let (mut t, mut burst) = (0.0, false);
                while t < duration {
                    let (rate, mean) = if burst {
                        (*burst_rate, *mean_burst_s)
                    } else {
                        (*calm_rate, *mean_calm_s)
                    };
                    let end = (t + exponential(&mut rng, 1.0 / mean)).min(duration);
                    if rate > 0.0 {
                        let mut a = t + exponential(&mut rng, rate);
                        while a < end {
                            times.push(a);
                            a += exponential(&mut rng, rate);
                        }
                    }
                    (t, burst) = (end, !burst);
                }
            }
            Traffic::Profile { points } => {
                let peak = points.iter().map(|p| p.1).fold(0.0, f64::max);
                let mut t = exponential(&mut rng, peak);
                while t < duration {
                    if rng.r#gen::<f64>() * peak < self.rate_at(t) {
                        times.push(t);
                    }
                    t += exponential(&mut rng, peak);
                }
            }
        }
        Ok(times)
    }
}
