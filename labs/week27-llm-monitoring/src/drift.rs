//! Drift: has what the model sees moved since it was evaluated? Three tests, from the one every
//! risk team uses to one for embeddings: the population stability index over quantile bins,
//! the two-sample Kolmogorov–Smirnov test (its exact p-value, as scipy's `ks_2samp`), and the
//! maximum mean discrepancy between two sets of embeddings with a permutation test.

use wb_core::{MlError, Result};
use wb_data::SplitMix64;

fn check_sample(arg: &str, x: &[f64]) -> Result<()> {
    if x.is_empty() {
        return Err(MlError::Empty {
            arg: arg.into(),
            detail: "a sample needs at least one value".into(),
        });
    }
    if let Some((i, v)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(MlError::NonFinite {
            arg: arg.into(),
            index: i.to_string(),
            value: *v,
        });
    }
    Ok(())
}

/// numpy's default quantile (linear interpolation between order statistics) of sorted `x`.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The population stability index of `current` against `reference` over `bins` bins whose
/// edges are the reference's quantiles: Σ (a − e)·ln(a / e) over the bins, with e and a the
/// shares of each sample in the bin (floored at 1e-4 so that an empty bin is finite). A value
/// lands in the bin of the number of edges strictly below it. Rules of thumb: < 0.1 stable,
/// 0.1–0.25 moving, > 0.25 shifted.
pub fn psi(reference: &[f64], current: &[f64], bins: usize) -> Result<f64> {
    check_sample("reference", reference)?;
    check_sample("current", current)?;
    if bins < 2 {
        return Err(MlError::InvalidArgument {
            arg: "bins".into(),
            detail: format!("needs at least 2 bins, got {bins}"),
        });
    }
    let mut sorted = reference.to_vec();
    sorted.sort_by(f64::total_cmp);
    let edges: Vec<f64> = (1..bins)
        .map(|k| quantile(&sorted, k as f64 / bins as f64))
        .collect();
    let shares = |x: &[f64]| {
        let mut counts = vec![0usize; bins];
        for v in x {
            counts[edges.partition_point(|e| e < v)] += 1;
        }
        counts
            .into_iter()
            .map(|c| (c as f64 / x.len() as f64).max(1e-4))
            .collect::<Vec<f64>>()
    };
    let (e, a) = (shares(reference), shares(current));
    Ok(e.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum())
}

/// The two-sample Kolmogorov–Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct KsTest {
    /// The largest distance between the two empirical distribution functions.
    pub statistic: f64,
    pub p_value: f64,
    /// Whether the p-value is exact (samples of at most 10,000) or Kolmogorov's limit.
    pub exact: bool,
}

// ANCHOR: ks_statistic
/// D = max over x of |F_a(x) − F_b(x)|, the empirical distribution functions of the two samples
/// (each the share of its values ≤ x), evaluated at every value of both samples.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> Result<f64> {
    check_sample("a", a)?;
    check_sample("b", b)?;
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    // BEGIN SOLUTION ks_statistic
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        // Step past every value equal to the smaller of the two heads, in both samples.
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    Ok(d)
    // END SOLUTION
}
// ANCHOR_END: ks_statistic

/// The two-sample KS test of `a` against `b`, two-sided. The p-value is exact when both samples
/// hold at most 10,000 values (scipy's `method="auto"` makes the same choice): the share of
/// lattice paths from (0, 0) to (m, n) that leave the band |x/m − y/n| < D (Hodges 1958, with
/// Viehmann's 2021 recursion for its complement). Beyond that it is Kolmogorov's limiting
/// distribution at √(mn/(m + n))·D.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Result<KsTest> {
    let d = ks_statistic(a, b)?;
    let (m, n) = (a.len() as u64, b.len() as u64);
    if m.max(n) <= 10_000 {
        let g = gcd(m, n);
        let lcm = (m / g) * n;
        // D is a multiple of 1/lcm(m, n): round it to the lattice, as the counting needs.
        let h = (d * lcm as f64).round() as u64;
        let d = h as f64 / lcm as f64;
        let p = if h == 0 {
            1.0
        } else {
            outside_band(m, n, g, h)
        };
        return Ok(KsTest {
            statistic: d,
            p_value: p.clamp(0.0, 1.0),
            exact: true,
        });
    }
    let en = (m * n) as f64 / (m + n) as f64;
    Ok(KsTest {
        statistic: d,
        p_value: kolmogorov_sf(d * en.sqrt()),
        exact: false,
    })
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The probability that a random lattice path from (0, 0) to (m, n) — the merged order of two
/// samples under the null — touches or leaves the band |n·x − m·y| < h·g. Column by column, each
/// entry is the complement (the share of paths still strictly inside) kept as a probability so
/// that nothing overflows.
fn outside_band(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let (n, h) = (n as i64, h as i64);
    // q[j]: for the current column x = i, the probability that a path reaching (i, j) has left
    // the band, for j in the window [lo, hi) of points inside the band; outside the window it
    // is 1 (such points are outside themselves).
    let mut lo = 0i64;
    let mut hi = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut q = vec![1.0f64; (n + 2) as usize];
    for v in q.iter_mut().take(hi as usize) {
        *v = 0.0;
    }
    for i in 1..=m as i64 {
        let prev_lo = lo;
        let prev = q.clone();
        lo = (((ng * i - h) as f64 / mg as f64).floor() as i64 + 1).clamp(0, n);
        hi = (((ng * i + h) as f64 / mg as f64).ceil() as i64).min(n + 1);
        if hi <= lo {
            return 1.0;
        }
        // Below the window the path has left the band already: probability 1.
        let mut below = if lo == 0 { 0.0 } else { 1.0 };
        let prev_at = |j: i64| -> f64 {
            let k = j - prev_lo;
            if k >= 0 && (k as usize) < prev.len() {
                prev[k as usize]
            } else {
                1.0
            }
        };
        for (k, j) in (lo..hi).enumerate() {
            // A path reaches (i, j) from (i − 1, j) with weight i/(i + j), from (i, j − 1) with
            // weight j/(i + j): the shares of paths through each, under the null.
            let val = (prev_at(j) * i as f64 + below * j as f64) / (i + j) as f64;
            q[k] = val;
            below = val;
        }
        for v in q.iter_mut().skip((hi - lo) as usize) {
            *v = 1.0;
        }
    }
    q[(hi - lo - 1) as usize]
}

/// Kolmogorov's limiting survival function, P(K > x) = 2 Σ_{k≥1} (−1)^(k−1) e^(−2k²x²).
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < 0.2 {
        // The alternating series converges slowly near 0, where the probability is 1 to within
        // 1e-20 (the dual series' leading term).
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let term = (-2.0 * (k * k) as f64 * x * x).exp();
        sum += if k % 2 == 1 { term } else { -term };
        if term < 1e-17 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

// ANCHOR: mmd
/// The unbiased estimate of the squared maximum mean discrepancy between samples `x` and `y`
/// (rows: vectors of one dimension) under the Gaussian kernel k(u, v) = exp(−‖u − v‖² / (2σ²)):
/// the mean kernel within x and within y (pairs of distinct rows) minus twice the mean kernel
/// between them. Near 0 when both come from one distribution.
pub fn mmd2(x: &[Vec<f32>], y: &[Vec<f32>], sigma: f64) -> Result<f64> {
    check_vectors(x, y)?;
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(MlError::InvalidArgument {
            arg: "sigma".into(),
            detail: format!("must be finite and > 0, got {sigma}"),
        });
    }
    // BEGIN SOLUTION mmd
    let gamma = 1.0 / (2.0 * sigma * sigma);
    let k = |u: &[f32], v: &[f32]| (-gamma * sq_dist(u, v)).exp();
    let within = |s: &[Vec<f32>]| {
        let mut sum = 0.0;
        for i in 0..s.len() {
            for j in 0..s.len() {
                if i != j {
                    sum += k(&s[i], &s[j]);
                }
            }
        }
        sum / (s.len() * (s.len() - 1)) as f64
    };
    let mut between = 0.0;
    for u in x {
        for v in y {
            between += k(u, v);
        }
    }
    between /= (x.len() * y.len()) as f64;
    Ok(within(x) + within(y) - 2.0 * between)
    // END SOLUTION
}
// ANCHOR_END: mmd

/// ‖u − v‖², accumulated in f64.
pub fn sq_dist(u: &[f32], v: &[f32]) -> f64 {
    u.iter()
        .zip(v)
        .map(|(a, b)| {
            let d = f64::from(*a) - f64::from(*b);
            d * d
        })
        .sum()
}

fn check_vectors(x: &[Vec<f32>], y: &[Vec<f32>]) -> Result<()> {
    for (arg, s) in [("x", x), ("y", y)] {
        if s.len() < 2 {
            return Err(MlError::Empty {
                arg: arg.into(),
                detail: format!("needs at least 2 vectors, got {}", s.len()),
            });
        }
    }
    let d = x[0].len();
    for (arg, s) in [("x", x), ("y", y)] {
        if let Some((i, v)) = s.iter().enumerate().find(|(_, v)| v.len() != d) {
            return Err(MlError::ShapeMismatch {
                arg: format!("{arg}[{i}]"),
                expected: format!("{d} dimensions, as x[0]"),
                got: format!("{}", v.len()),
            });
        }
    }
    Ok(())
}

/// The median of the pairwise distances of the pooled sample: the usual bandwidth.
pub fn median_heuristic(x: &[Vec<f32>], y: &[Vec<f32>]) -> Result<f64> {
    check_vectors(x, y)?;
    let pooled: Vec<&Vec<f32>> = x.iter().chain(y).collect();
    let mut d = Vec::new();
    for i in 0..pooled.len() {
        for j in i + 1..pooled.len() {
            d.push(sq_dist(pooled[i], pooled[j]).sqrt());
        }
    }
    d.sort_by(f64::total_cmp);
    Ok(quantile(&d, 0.5))
}

/// The MMD permutation test: the statistic, and the share of `permutations` random relabellings
/// of the pooled rows whose MMD² reaches it (with the observed one counted, so never 0).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MmdTest {
    pub mmd2: f64,
    pub sigma: f64,
    pub p_value: f64,
}

/// Tests whether `x` and `y` come from one distribution by MMD² with the median-heuristic
/// bandwidth and `permutations` seeded relabellings. The pooled kernel matrix is computed once;
/// each relabelling only sums its entries in a new order.
pub fn mmd_test(x: &[Vec<f32>], y: &[Vec<f32>], permutations: usize, seed: u64) -> Result<MmdTest> {
    let sigma = median_heuristic(x, y)?;
    let observed = mmd2(x, y, sigma)?;
    let pooled: Vec<&Vec<f32>> = x.iter().chain(y).collect();
    let n = pooled.len();
    let gamma = 1.0 / (2.0 * sigma * sigma);
    let mut kernel = vec![0.0; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let k = (-gamma * sq_dist(pooled[i], pooled[j])).exp();
            kernel[i * n + j] = k;
            kernel[j * n + i] = k;
        }
    }
    let (nx, ny) = (x.len() as f64, y.len() as f64);
    let statistic = |side: &[bool]| {
        let (mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0);
        for i in 0..n {
            for j in 0..n {
                let k = kernel[i * n + j];
                match (side[i], side[j]) {
                    (true, true) => xx += k,
                    (false, false) => yy += k,
                    _ => xy += k,
                }
            }
        }
        xx / (nx * (nx - 1.0)) + yy / (ny * (ny - 1.0)) - xy / (nx * ny)
    };
    let mut rng = SplitMix64::new(seed);
    let mut reached = 1usize;
    let mut side = vec![false; n];
    for _ in 0..permutations {
        let order = wb_data::shuffled_indices(n, rng.next_u64());
        side.iter_mut().for_each(|s| *s = false);
        for &i in &order[..x.len()] {
            side[i] = true;
        }
        // The same estimator as `mmd2` (the diagonal is left out: the matrix holds 0 there).
        if statistic(&side) >= observed - 1e-12 {
            reached += 1;
        }
    }
    Ok(MmdTest {
        mmd2: observed,
        sigma,
        p_value: reached as f64 / (permutations + 1) as f64,
    })
}
