//! The canary: a new model version gets a small, sticky share of the traffic; its errors and
//! latencies are compared with the stable version's by a statistical test at every step; it
//! advances 1 → 5 → 25 → 100 % while it holds, and is rolled back the moment it does not.

use serde::Serialize;
use sha2::{Digest, Sha256};
use statrs::distribution::{ContinuousCDF, Normal};
use wb_core::{MlError, Result};
use wb_data::SplitMix64;

/// Which version answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    Stable,
    Canary,
}

/// Buckets of the split: a weight is a whole number of them (0.01 %).
pub const BUCKETS: u64 = 10_000;

/// The bucket of `key` under `salt`: the first 8 bytes of SHA-256("salt:key"), modulo 10,000.
pub fn bucket(salt: &str, key: &str) -> u64 {
    let digest = Sha256::digest(format!("{salt}:{key}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % BUCKETS
}

// ANCHOR: assign
/// The arm of `key` when the canary has `canary_bp` basis points (1/100 %) of the traffic. The
/// canary takes the lowest buckets, so a key in the canary at one weight stays there at every
/// larger weight (sticky as the rollout grows), and the same key always gets the same arm.
pub fn assign(salt: &str, key: &str, canary_bp: u64) -> Result<Arm> {
    if canary_bp > BUCKETS {
        return Err(MlError::InvalidArgument {
            arg: "canary_bp".into(),
            detail: format!("a weight is 0 to {BUCKETS} basis points, got {canary_bp}"),
        });
    }
    // BEGIN SOLUTION assign
    Ok(if bucket(salt, key) < canary_bp {
        Arm::Canary
    } else {
        Arm::Stable
    })
    // END SOLUTION
}
// ANCHOR_END: assign

/// Φ, the standard normal distribution function.
fn phi(z: f64) -> f64 {
    Normal::standard().cdf(z)
}

/// A one-sided test's result: its statistic and p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Test {
    pub statistic: f64,
    pub p_value: f64,
}

/// ln C(n, k).
fn ln_choose(n: u64, k: u64) -> f64 {
    use statrs::function::gamma::ln_gamma;
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

// ANCHOR: errors_worse
/// Fisher's exact test, one-sided, that the canary's error rate (`x_c` errors of `n_c`) is
/// higher than the stable one's (`x_s` of `n_s`): given the errors of both arms together, the
/// chance that the canary's requests would hold `x_c` or more of them (hypergeometric), as
/// scipy's `fisher_exact([[x_c, n_c - x_c], [x_s, n_s - x_s]], alternative="greater")`. Exact,
/// where a z-test on a handful of errors fires far more often than its α. The statistic is the
/// difference of the two rates.
pub fn errors_worse(x_s: u64, n_s: u64, x_c: u64, n_c: u64) -> Result<Test> {
    if n_s == 0 || n_c == 0 || x_s > n_s || x_c > n_c {
        return Err(MlError::InvalidArgument {
            arg: "counts".into(),
            detail: format!(
                "needs 0 ≤ errors ≤ requests > 0 in both arms, got {x_s}/{n_s} and {x_c}/{n_c}"
            ),
        });
    }
    let (n, k) = (n_s + n_c, x_s + x_c);
    let statistic = x_c as f64 / n_c as f64 - x_s as f64 / n_s as f64;
    // BEGIN SOLUTION errors_worse
    let denominator = ln_choose(n, n_c);
    let top = k.min(n_c);
    let mut p = 0.0;
    for j in x_c..=top {
        if n_c - j > n - k {
            continue;
        }
        p += (ln_choose(k, j) + ln_choose(n - k, n_c - j) - denominator).exp();
    }
    Ok(Test {
        statistic,
        p_value: p.min(1.0),
    })
    // END SOLUTION
}
// ANCHOR_END: errors_worse

// ANCHOR: mann_whitney
/// The one-sided Mann–Whitney U test that the canary's latencies tend to be larger than the
/// stable one's: U = the canary's rank sum − n_c(n_c + 1)/2 (midranks for ties), and its normal
/// approximation with the tie correction and a continuity correction of ½, as scipy's
/// `mannwhitneyu(canary, stable, alternative="greater", method="asymptotic")`.
pub fn latency_worse(stable: &[f64], canary: &[f64]) -> Result<Test> {
    for (arg, x) in [("stable", stable), ("canary", canary)] {
        if x.is_empty() {
            return Err(MlError::Empty {
                arg: arg.into(),
                detail: "needs at least one latency".into(),
            });
        }
        if let Some((i, v)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(MlError::NonFinite {
                arg: arg.into(),
                index: i.to_string(),
                value: *v,
            });
        }
    }
    let (n1, n2) = (canary.len() as f64, stable.len() as f64);
    // BEGIN SOLUTION mann_whitney
    let mut pooled: Vec<(f64, bool)> = canary
        .iter()
        .map(|&v| (v, true))
        .chain(stable.iter().map(|&v| (v, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pooled.len();
    let (mut rank_sum, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        // Ranks i + 1 ..= j share their mean.
        let midrank = (i + 1 + j) as f64 / 2.0;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        rank_sum += midrank * pooled[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    let u = rank_sum - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let sd = (n1 * n2 / 12.0 * ((nn + 1.0) - ties / (nn * (nn - 1.0)))).sqrt();
    if sd == 0.0 {
        return Ok(Test {
            statistic: u,
            p_value: 1.0,
        });
    }
    let z = (u - mean - 0.5) / sd;
    Ok(Test {
        statistic: u,
        p_value: 1.0 - phi(z),
    })
    // END SOLUTION
}
// ANCHOR_END: mann_whitney

/// What one arm saw during a step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArmStats {
    pub requests: u64,
    pub errors: u64,
    /// Latencies of the answered requests, in milliseconds.
    pub latencies_ms: Vec<f64>,
}

impl ArmStats {
    pub fn record(&mut self, ok: bool, latency_ms: f64) {
        self.requests += 1;
        if ok {
            self.latencies_ms.push(latency_ms);
        } else {
            self.errors += 1;
        }
    }
    pub fn error_rate(&self) -> f64 {
        self.errors as f64 / self.requests.max(1) as f64
    }
    pub fn median_ms(&self) -> f64 {
        let mut v = self.latencies_ms.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            f64::NAN
        } else {
            v[v.len() / 2]
        }
    }
}

/// The rollout's rules.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// The canary's share at each step, in basis points (1 → 5 → 25 → 100 %).
    pub steps_bp: Vec<u64>,
    /// Canary requests to see before judging a step.
    pub min_canary_requests: u64,
    /// Level of each one-sided test.
    pub alpha: f64,
    /// Differences too small to matter never roll back, however significant: the canary's error
    /// rate must exceed the stable one's by this much…
    pub error_margin: f64,
    /// …and its median latency the stable one's by this many milliseconds.
    pub latency_margin_ms: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            steps_bp: vec![100, 500, 2_500, 10_000],
            min_canary_requests: 200,
            alpha: 0.01,
            error_margin: 0.005,
            latency_margin_ms: 2.0,
        }
    }
}

/// The verdict on one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepVerdict {
    pub canary_bp: u64,
    pub stable: (u64, u64),
    pub canary: (u64, u64),
    pub errors: Test,
    pub latency: Test,
    pub stable_median_ms: f64,
    pub canary_median_ms: f64,
    /// "errors", "latency", or None when the step holds.
    pub rollback: Option<String>,
}

/// Judges a step: both tests on what each arm saw, and the rule ([`rollback_reason`]).
pub fn judge(
    policy: &Policy,
    canary_bp: u64,
    stable: &ArmStats,
    canary: &ArmStats,
) -> Result<StepVerdict> {
    let errors = errors_worse(
        stable.errors,
        stable.requests,
        canary.errors,
        canary.requests,
    )?;
    let (sl, cl) = (&stable.latencies_ms, &canary.latencies_ms);
    let latency = if sl.is_empty() || cl.is_empty() {
        Test {
            statistic: 0.0,
            p_value: 1.0,
        }
    } else {
        latency_worse(sl, cl)?
    };
    Ok(StepVerdict {
        canary_bp,
        stable: (stable.requests, stable.errors),
        canary: (canary.requests, canary.errors),
        errors,
        latency,
        stable_median_ms: stable.median_ms(),
        canary_median_ms: canary.median_ms(),
        rollback: rollback_reason(policy, &errors, &latency, stable, canary),
    })
}

// ANCHOR: judge
/// The rule: roll back on errors when the canary's error rate is significantly higher (p < α)
/// *and* higher by more than the margin; on latency when its latencies are significantly larger
/// *and* its median exceeds the stable one's by more than the latency margin. None: the step
/// holds.
pub fn rollback_reason(
    policy: &Policy,
    errors: &Test,
    latency: &Test,
    stable: &ArmStats,
    canary: &ArmStats,
) -> Option<String> {
    // BEGIN SOLUTION judge
    if errors.p_value < policy.alpha
        && canary.error_rate() - stable.error_rate() > policy.error_margin
    {
        Some("errors".to_string())
    } else if latency.p_value < policy.alpha
        && canary.median_ms() - stable.median_ms() > policy.latency_margin_ms
    {
        Some("latency".to_string())
    } else {
        None
    }
    // END SOLUTION
}
// ANCHOR_END: judge

/// How a version behaves, for the simulation: an error rate, and latencies log-normal around a
/// median with a spread (σ of the log), plus a fixed extra delay.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Behaviour {
    pub error_rate: f64,
    pub median_ms: f64,
    pub sigma: f64,
    pub extra_ms: f64,
}

/// How a rollout ended.
#[derive(Debug, Clone, Serialize)]
pub struct Rollout {
    pub promoted: bool,
    pub steps: Vec<StepVerdict>,
    /// Requests that reached the canary (the users a bad canary hurt).
    pub canary_requests: u64,
}

fn gaussian(rng: &mut SplitMix64) -> f64 {
    let (u, v) = (rng.next_f64().max(1e-300), rng.next_f64());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// One simulated request of `b`: (ok, latency in ms).
pub fn sample(b: &Behaviour, rng: &mut SplitMix64) -> (bool, f64) {
    let ok = rng.next_f64() >= b.error_rate;
    (
        ok,
        b.median_ms * (b.sigma * gaussian(rng)).exp() + b.extra_ms,
    )
}

/// A rollout simulated: requests from a population of users whose buckets (by [`bucket`]) are
/// given, drawn at random, each step running until the canary has seen `min_canary_requests`,
/// then judged; the last step (100 %) is promotion and is not judged.
pub fn simulate(
    policy: &Policy,
    stable: &Behaviour,
    canary: &Behaviour,
    buckets: &[u64],
    seed: u64,
) -> Result<Rollout> {
    if buckets.is_empty() || policy.steps_bp.is_empty() {
        return Err(MlError::InvalidArgument {
            arg: "simulate".into(),
            detail: "needs users and at least one step".into(),
        });
    }
    let mut rng = SplitMix64::new(seed);
    let mut steps = Vec::new();
    let mut canary_requests = 0;
    for &bp in &policy.steps_bp[..policy.steps_bp.len() - 1] {
        let (mut s, mut c) = (ArmStats::default(), ArmStats::default());
        while c.requests < policy.min_canary_requests {
            let user = (rng.next_u64() % buckets.len() as u64) as usize;
            let (b, stats) = if buckets[user] < bp {
                (canary, &mut c)
            } else {
                (stable, &mut s)
            };
            let (ok, ms) = sample(b, &mut rng);
            stats.record(ok, ms);
        }
        canary_requests += c.requests;
        let verdict = judge(policy, bp, &s, &c)?;
        let stop = verdict.rollback.is_some();
        steps.push(verdict);
        if stop {
            return Ok(Rollout {
                promoted: false,
                steps,
                canary_requests,
            });
        }
    }
    Ok(Rollout {
        promoted: true,
        steps,
        canary_requests,
    })
}
