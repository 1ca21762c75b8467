//! How long a replica takes to serve a batch: a theoretical law or a measured distribution.

use anyhow::{Result, ensure};
use rand::Rng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};

use crate::traffic::exponential;

/// Service times of one replica, by batch size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServiceTime {
    /// Exponential with this mean (seconds), whatever the batch: M/M/c's law.
    Exponential { mean: f64 },
    /// Always this long (seconds): M/D/c.
    Constant { seconds: f64 },
    /// Measured: for each measured batch size, its service times (seconds). A batch size between
    /// two measured ones draws one quantile from both and interpolates; one above the largest
    /// scales the largest's draw by the ratio of the sizes.
    Measured {
        sizes: Vec<usize>,
        seconds: Vec<Vec<f64>>,
    },
}

impl ServiceTime {
    /// A measured distribution, checked and sorted.
    pub fn measured(mut by_size: Vec<(usize, Vec<f64>)>) -> Result<Self> {
        ensure!(
            !by_size.is_empty(),
            "by_size: expected at least one batch size, got none"
        );
        by_size.sort_by_key(|(b, _)| *b);
        for (i, (b, times)) in by_size.iter_mut().enumerate() {
            ensure!(
                *b >= 1,
                "by_size[{i}]: expected a batch size of at least 1, got 0"
            );
            ensure!(
                !times.is_empty(),
                "by_size[{i}] (batch {b}): expected measured times, got none"
            );
            if let Some(bad) = times.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
                anyhow::bail!("by_size[{i}] (batch {b}): expected times above 0 s, got {bad}");
            }
            times.sort_by(f64::total_cmp);
        }
        ensure!(
            by_size.windows(2).all(|w| w[0].0 < w[1].0),
            "by_size: a batch size is given twice"
        );
        let (sizes, seconds) = by_size.into_iter().unzip();
        Ok(ServiceTime::Measured { sizes, seconds })
    }

    /// Fails with the field named when a time is not usable.
    pub fn check(&self) -> Result<()> {
        match self {
            ServiceTime::Exponential { mean: s } | ServiceTime::Constant { seconds: s } => {
                ensure!(
                    s.is_finite() && *s > 0.0,
                    "service time: expected a finite mean above 0 s, got {s}"
                );
                Ok(())
            }
            ServiceTime::Measured { sizes, seconds } => {
                let again = ServiceTime::measured(
                    sizes.iter().copied().zip(seconds.iter().cloned()).collect(),
                )?;
                ensure!(
                    &again == self,
                    "service time: the measured times are not sorted"
                );
                Ok(())
            }
        }
    }

    /// The `q` quantile (0 ≤ q < 1) of a batch of `batch`.
    fn quantile(&self, batch: usize, q: f64) -> f64 {
        match self {
            ServiceTime::Exponential { mean } => -(1.0 - q).ln() * mean,
            ServiceTime::Constant { seconds } => *seconds,
            ServiceTime::Measured { sizes, seconds } => {
                let at = |k: usize| {
                    let s = &seconds[k];
                    s[((q * s.len() as f64) as usize).min(s.len() - 1)]
                };
                let i = sizes.partition_point(|&b| b < batch);
                if i == sizes.len() {
                    let last = sizes.len() - 1;
                    at(last) * batch as f64 / sizes[last] as f64
                } else if sizes[i] == batch || i == 0 {
                    at(i)
                } else {
                    let w = (batch - sizes[i - 1]) as f64 / (sizes[i] - sizes[i - 1]) as f64;
                    at(i - 1) * (1.0 - w) + at(i) * w
                }
            }
        }
    }

    /// One draw for a batch of `batch` requests.
    pub fn sample(&self, batch: usize, rng: &mut SmallRng) -> f64 {
        match self {
            ServiceTime::Exponential { mean } => exponential(rng, 1.0 / mean),
            _ => self.quantile(batch, rng.r#gen::<f64>()),
        }
    }

    /// The mean service time of a batch of `batch` (for measured times, over 1,000 quantiles).
    pub fn mean(&self, batch: usize) -> f64 {
        match self {
            ServiceTime::Exponential { mean } => *mean,
            ServiceTime::Constant { seconds } => *seconds,
            ServiceTime::Measured { .. } => {
                (0..1000)
                    .map(|k| self.quantile(batch, (k as f64 + 0.5) / 1000.0))
                    .sum::<f64>()
                    / 1000.0
            }
        }
    }
}
