//! Seeded 2-D toy data sets: moons, spirals and XOR — small, visual, and not linearly separable.

use ndarray::Array2;
use wb_core::{MlError, Result};
use wb_data::SplitMix64;

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut SplitMix64) -> f64 {
    let (u1, u2) = (rng.next_f64(), rng.next_f64());
    (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn check_n(n: usize, min: usize) -> Result<()> {
    if n < min {
        return Err(MlError::InvalidArgument {
            arg: "n".into(),
            detail: format!("need at least {min} points, got {n}"),
        });
    }
    Ok(())
}

/// Two interleaving half circles, as scikit-learn's `make_moons(n, shuffle=False, noise)`: the
/// first ⌊n/2⌋ points on the upper moon (class 0), the rest on the lower (class 1), then
/// Gaussian noise of standard deviation `noise` on every coordinate (our own generator, so the
/// noisy points differ from scikit-learn's; the noiseless ones are identical).
/// Returns (x [n, 2], y [n]).
pub fn moons(n: usize, noise: f64, seed: u64) -> Result<(Array2<f64>, Vec<usize>)> {
    check_n(n, 2)?;
    let (n_out, n_in) = (n / 2, n - n / 2);
    let mut x = Array2::zeros((n, 2));
    let mut y = vec![0; n];
    let lin = |k: usize, m: usize| {
        if m > 1 {
            std::f64::consts::PI * k as f64 / (m - 1) as f64
        } else {
            0.0
        }
    };
    for k in 0..n_out {
        let t = lin(k, n_out);
        x[[k, 0]] = t.cos();
        x[[k, 1]] = t.sin();
    }
    for k in 0..n_in {
        let t = lin(k, n_in);
        x[[n_out + k, 0]] = 1.0 - t.cos();
        x[[n_out + k, 1]] = 1.0 - t.sin() - 0.5;
        y[n_out + k] = 1;
    }
    let mut rng = SplitMix64::new(seed);
    if noise > 0.0 {
        x.mapv_inplace(|v| v + noise * normal(&mut rng));
    }
    Ok((x, y))
}

/// Two interleaved spirals (classes 0 and 1), each making one and a half turns, with noise.
pub fn spirals(n: usize, noise: f64, seed: u64) -> Result<(Array2<f64>, Vec<usize>)> {
    check_n(n, 2)?;
    let mut rng = SplitMix64::new(seed);
    let mut x = Array2::zeros((n, 2));
    let mut y = vec![0; n];
    for i in 0..n {
        let class = i % 2;
        let r = (i / 2) as f64 / (n / 2).max(1) as f64; // radius 0 → 1
        let t = 3.0 * std::f64::consts::PI * r + class as f64 * std::f64::consts::PI;
        x[[i, 0]] = r * t.cos() + noise * normal(&mut rng);
        x[[i, 1]] = r * t.sin() + noise * normal(&mut rng);
        y[i] = class;
    }
    Ok((x, y))
}

/// XOR: points uniform in [−1, 1]², class 1 when the two coordinates have opposite signs.
pub fn xor(n: usize, seed: u64) -> Result<(Array2<f64>, Vec<usize>)> {
    check_n(n, 4)?;
    let mut rng = SplitMix64::new(seed);
    let mut x = Array2::zeros((n, 2));
    let mut y = vec![0; n];
    for i in 0..n {
        let (a, b) = (2.0 * rng.next_f64() - 1.0, 2.0 * rng.next_f64() - 1.0);
        x[[i, 0]] = a;
        x[[i, 1]] = b;
        y[i] = usize::from((a > 0.0) != (b > 0.0));
    }
    Ok((x, y))
}
