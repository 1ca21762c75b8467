//! The statistics of an A/B test on a rate: the two-proportion z-test, confidence intervals, the
//! sample size a test needs, and its power. The normal distribution comes from `statrs`.

use statrs::distribution::{ContinuousCDF, Normal};
use wb_core::{MlError, Result};

fn invalid(arg: &str, detail: String) -> MlError {
    MlError::InvalidArgument {
        arg: arg.to_string(),
        detail,
    }
}

fn standard_normal() -> Normal {
    Normal::standard()
}

/// Φ(x), the standard normal's cumulative distribution.
pub fn normal_cdf(x: f64) -> f64 {
    standard_normal().cdf(x)
}

/// 1 − Φ(x), computed without cancellation for large x.
pub fn normal_sf(x: f64) -> f64 {
    standard_normal().sf(x)
}

/// Φ⁻¹(p), the standard normal's quantile, for p strictly between 0 and 1.
pub fn normal_quantile(p: f64) -> Result<f64> {
    check_probability("p", p)?;
    Ok(standard_normal().inverse_cdf(p))
}

/// Fails unless `value` is strictly between 0 and 1.
pub fn check_probability(arg: &str, value: f64) -> Result<()> {
    if !(value > 0.0 && value < 1.0) {
        return Err(invalid(
            arg,
            format!("must be strictly between 0 and 1, got {value}"),
        ));
    }
    Ok(())
}

/// Fails unless `successes` ≤ `trials` and `trials` ≥ 1.
fn check_counts(arm: &str, successes: u64, trials: u64) -> Result<()> {
    if trials == 0 {
        return Err(invalid(arm, "has no trials (n = 0)".into()));
    }
    if successes > trials {
        return Err(invalid(
            arm,
            format!("has more successes ({successes}) than trials ({trials})"),
        ));
    }
    Ok(())
}

/// One arm's result: `successes` out of `trials`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Arm {
    pub successes: u64,
    pub trials: u64,
}

impl Arm {
    pub fn new(successes: u64, trials: u64) -> Self {
        Self { successes, trials }
    }

    /// The observed rate, successes / trials.
    pub fn rate(&self) -> f64 {
        self.successes as f64 / self.trials as f64
    }
}

/// The two-proportion z-test of B against A, and the confidence interval of p_B − p_A.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ZTest {
    /// p_B − p_A.
    pub difference: f64,
    /// The z statistic, with the pooled standard error (the one under H0: p_A = p_B).
    pub z: f64,
    /// Two-sided p-value, 2·(1 − Φ(|z|)).
    pub p_value: f64,
    /// The Wald interval of the difference at `confidence`, with the unpooled standard error.
    pub ci_low: f64,
    pub ci_high: f64,
}

// ANCHOR: z_test
/// Tests H0: p_A = p_B with the pooled two-proportion z-test, and gives the `confidence` interval
/// (e.g. 0.95) of p_B − p_A. Fails on an arm with no trials, more successes than trials, a
/// `confidence` outside (0, 1), or when both arms are all successes or all failures (the pooled
/// standard error is 0).
pub fn two_proportion_z(a: Arm, b: Arm, confidence: f64) -> Result<ZTest> {
    check_counts("a", a.successes, a.trials)?;
    check_counts("b", b.successes, b.trials)?;
    check_probability("confidence", confidence)?;
    // BEGIN SOLUTION z_test
    let (na, nb) = (a.trials as f64, b.trials as f64);
    let (pa, pb) = (a.rate(), b.rate());
    let pooled = (a.successes + b.successes) as f64 / (na + nb);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if se_pooled == 0.0 {
        return Err(invalid(
            "a, b",
            "every trial in both arms has the same outcome: the test is undefined".into(),
        ));
    }
    let difference = pb - pa;
    let z = difference / se_pooled;
    let p_value = 2.0 * normal_sf(z.abs());
    let se = (pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb).sqrt();
    let half = normal_quantile(0.5 + confidence / 2.0)? * se;
    Ok(ZTest {
        difference,
        z,
        p_value,
        ci_low: difference - half,
        ci_high: difference + half,
    })
    // END SOLUTION
}
// ANCHOR_END: z_test

/// The Wilson score interval of one arm's rate at `confidence`: unlike p ± z·se it stays inside
/// [0, 1] and keeps its coverage near 0 and 1.
pub fn wilson(arm: Arm, confidence: f64) -> Result<(f64, f64)> {
    check_counts("arm", arm.successes, arm.trials)?;
    check_probability("confidence", confidence)?;
    let z = normal_quantile(0.5 + confidence / 2.0)?;
    let (n, p) = (arm.trials as f64, arm.rate());
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Ok((centre - half, centre + half))
}

// ANCHOR: sample_size
/// Users per arm that a two-sided test at level `alpha` needs to detect a change of the rate
/// from `p_base` to `p_target` with probability `power`:
///
/// n = ⌈(z₁₋α/₂ √(2 p̄ (1 − p̄)) + z_power √(p₁(1 − p₁) + p₂(1 − p₂)))² / (p₂ − p₁)²⌉, p̄ = (p₁ + p₂)/2.
pub fn sample_size(p_base: f64, p_target: f64, alpha: f64, power: f64) -> Result<u64> {
    check_probability("p_base", p_base)?;
    check_probability("p_target", p_target)?;
    check_probability("alpha", alpha)?;
    check_probability("power", power)?;
    if p_base == p_target {
        return Err(invalid(
            "p_target",
            format!("equals p_base ({p_base}): no sample is large enough to detect no change"),
        ));
    }
    // BEGIN SOLUTION sample_size
    let z_alpha = normal_quantile(1.0 - alpha / 2.0)?;
    let z_power = normal_quantile(power)?;
    let mean = (p_base + p_target) / 2.0;
    let null_sd = (2.0 * mean * (1.0 - mean)).sqrt();
    let alt_sd = (p_base * (1.0 - p_base) + p_target * (1.0 - p_target)).sqrt();
    let delta = p_target - p_base;
    Ok(((z_alpha * null_sd + z_power * alt_sd).powi(2) / (delta * delta)).ceil() as u64)
    // END SOLUTION
}
// ANCHOR_END: sample_size

/// The power of the two-sided pooled z-test at level `alpha` with `n` users per arm when the
/// rates are `p_base` and `p_target` (the normal approximation that `sample_size` inverts).
pub fn power(p_base: f64, p_target: f64, n: u64, alpha: f64) -> Result<f64> {
    check_probability("p_base", p_base)?;
    check_probability("p_target", p_target)?;
    check_probability("alpha", alpha)?;
    if n == 0 {
        return Err(invalid("n", "must be at least 1".into()));
    }
    let z_alpha = normal_quantile(1.0 - alpha / 2.0)?;
    let mean = (p_base + p_target) / 2.0;
    let null_sd = (2.0 * mean * (1.0 - mean)).sqrt();
    let alt_sd = (p_base * (1.0 - p_base) + p_target * (1.0 - p_target)).sqrt();
    let shift = (p_target - p_base).abs() * (n as f64).sqrt();
    // Both tails: the far one is tiny but kept, so that power(p, p, n) = alpha.
    Ok(normal_cdf((shift - z_alpha * null_sd) / alt_sd)
        + normal_cdf((-shift - z_alpha * null_sd) / alt_sd))
}
