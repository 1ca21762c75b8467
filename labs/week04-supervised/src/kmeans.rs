//! Unsupervised learning: k-means clustering from scratch, with k-means++ initialisation.
//!
//! No labels: k-means looks for `k` centres such that every point is close to its nearest one,
//! minimising the **inertia** `Σ_i ‖x_i − c_{label(i)}‖²`. Lloyd's algorithm alternates two steps
//! that each lower the inertia — assign every point to its nearest centre, move every centre to
//! the mean of its points — until nothing moves. It finds a local minimum that depends on the
//! start, so k-means++ picks spread-out starting centres and several starts keep the best.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use wb_core::{MlError, Result, check_data};
use wb_data::SplitMix64;

/// A fitted clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    /// centroids: [k, n_features]
    pub centroids: Array2<f64>,
    /// labels: [n_samples], the index of each point's centroid
    pub labels: Vec<usize>,
    /// Σ of squared distances to the nearest centroid (scikit-learn's `inertia_`; linfa reports
    /// the mean instead).
    pub inertia: f64,
    /// Lloyd iterations of the best run.
    pub iterations: usize,
}

fn check_k(x: ArrayView2<f64>, k: usize) -> Result<()> {
    check_data("x", &x)?;
    if k == 0 {
        return Err(MlError::InvalidArgument {
            arg: "k".into(),
            detail: "at least one cluster is needed".into(),
        });
    }
    if k > x.nrows() {
        return Err(MlError::InvalidArgument {
            arg: "k".into(),
            detail: format!(
                "{k} clusters for {} samples: need at least as many samples as clusters",
                x.nrows()
            ),
        });
    }
    Ok(())
}

/// ‖a − b‖², with eight running sums: one sum is a chain of dependent additions (each waits for
/// the last), eight independent ones keep the CPU's vector units busy, which makes the assignment
/// step, k-means' hot loop, several times faster.
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(p, q)| (p - q) * (p - q))
        .sum();
    let mut acc = [0.0; 8];
    for (p, q) in ca.zip(cb) {
        for k in 0..8 {
            let d = p[k] - q[k];
            acc[k] += d * d;
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// ‖a − b‖² of two rows, whatever their layout.
fn row_distance(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    match (a.as_slice(), b.as_slice()) {
        (Some(a), Some(b)) => squared_distance(a, b),
        _ => a.iter().zip(b.iter()).map(|(p, q)| (p - q) * (p - q)).sum(),
    }
}

// ANCHOR: kmeans_pp
/// k-means++: the first centre is a uniformly random point; each next one is a point drawn with
/// probability proportional to its squared distance to the nearest centre chosen so far, so the
/// centres start spread out. Draws use `rng.next_f64()`.
///
/// x: [n, d] → centroids: [k, d]
pub fn kmeans_plus_plus(x: ArrayView2<f64>, k: usize, rng: &mut SplitMix64) -> Result<Array2<f64>> {
    check_k(x, k)?;
    // BEGIN SOLUTION kmeans_pp
    let n = x.nrows();
    let mut centroids = Array2::zeros((k, x.ncols()));
    let first = ((rng.next_f64() * n as f64) as usize).min(n - 1);
    centroids.row_mut(0).assign(&x.row(first));
    // d2[i]: squared distance of point i to its nearest chosen centre
    let mut d2: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| row_distance(r, x.row(first)))
        .collect();
    for c in 1..k {
        let total = d2.sum();
        let next = if total > 0.0 {
            let target = rng.next_f64() * total;
            let mut acc = 0.0;
            d2.iter()
                .position(|&d| {
                    acc += d;
                    acc > target
                })
                .unwrap_or(n - 1)
        } else {
            // Every point sits on a centre already: any point will do.
            ((rng.next_f64() * n as f64) as usize).min(n - 1)
        };
        centroids.row_mut(c).assign(&x.row(next));
        for (i, row) in x.rows().into_iter().enumerate() {
            d2[i] = d2[i].min(row_distance(row, x.row(next)));
        }
    }
    Ok(centroids)
    // END SOLUTION
}
// ANCHOR_END: kmeans_pp

// ANCHOR: lloyd
/// The assignment step: each point's nearest centroid (the first on a tie) and the inertia.
///
/// x: [n, d], centroids: [k, d] → (labels: [n], inertia)
pub fn assign(x: ArrayView2<f64>, centroids: ArrayView2<f64>) -> Result<(Vec<usize>, f64)> {
    check_data("x", &x)?;
    check_data("centroids", &centroids)?;
    wb_core::check_len(
        "centroids (columns)",
        centroids.ncols(),
        x.ncols(),
        "the number of columns of x",
    )?;
    // BEGIN SOLUTION lloyd
    // ‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖². ‖x‖² is the same for every centroid, so the nearest one
    // minimises ‖c‖² − 2 x·c, and the x·c of all pairs are one matrix product X Cᵀ [n, k]: it
    // runs on the CPU's widest vector units (scikit-learn does the same with BLAS). The chosen
    // pair's distance is then computed directly, so the inertia carries no cancellation error.
    let cross = x.dot(&centroids.t()); // [n, k]
    let norms: Vec<f64> = centroids.rows().into_iter().map(|c| c.dot(&c)).collect();
    let mut labels = Vec::with_capacity(x.nrows());
    let mut inertia = 0.0;
    for (row, products) in x.rows().into_iter().zip(cross.rows()) {
        let mut best = (0, f64::INFINITY);
        for (j, (&norm, &product)) in norms.iter().zip(products).enumerate() {
            let score = norm - 2.0 * product;
            if score < best.1 {
                best = (j, score);
            }
        }
        labels.push(best.0);
        inertia += row_distance(row, centroids.row(best.0));
    }
    Ok((labels, inertia))
    // END SOLUTION
}

/// The update step: each centroid moves to the mean of its points; a centroid with no point
/// stays where it was.
///
/// x: [n, d], labels: [n], previous: [k, d] → [k, d]
pub fn update_centroids(
    x: ArrayView2<f64>,
    labels: &[usize],
    previous: ArrayView2<f64>,
) -> Result<Array2<f64>> {
    check_data("x", &x)?;
    wb_core::check_len("labels", labels.len(), x.nrows(), "one label per row of x")?;
    if let Some(&bad) = labels.iter().find(|&&l| l >= previous.nrows()) {
        return Err(MlError::InvalidArgument {
            arg: "labels".into(),
            detail: format!("label {bad} ≥ k = {}", previous.nrows()),
        });
    }
    // BEGIN SOLUTION lloyd
    let d = x.ncols();
    let xs = x.as_standard_layout();
    let mut sums = vec![0.0; previous.nrows() * d];
    let mut counts = vec![0usize; previous.nrows()];
    for (row, &l) in xs
        .as_slice()
        .unwrap_or_default()
        .chunks_exact(d)
        .zip(labels)
    {
        for (s, v) in sums[l * d..(l + 1) * d].iter_mut().zip(row) {
            *s += v;
        }
        counts[l] += 1;
    }
    let mut out = previous.to_owned();
    for (j, &c) in counts.iter().enumerate() {
        if c > 0 {
            for (o, s) in out.row_mut(j).iter_mut().zip(&sums[j * d..(j + 1) * d]) {
                *o = s / c as f64;
            }
        }
    }
    Ok(out)
    // END SOLUTION
}
// ANCHOR_END: lloyd

// ANCHOR: kmeans
/// k-means: `n_init` runs of k-means++ then Lloyd's iterations (until no centroid moves more than
/// `tol`, or `max_iter`), keeping the run with the lowest inertia. Run r uses the generator seeded
/// with `seed + r`.
///
/// x: [n, d]
pub fn kmeans(
    x: ArrayView2<f64>,
    k: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
) -> Result<KMeansFit> {
    check_k(x, k)?;
    if n_init == 0 {
        return Err(MlError::InvalidArgument {
            arg: "n_init".into(),
            detail: "at least one run is needed".into(),
        });
    }
    // BEGIN SOLUTION kmeans
    let mut best: Option<KMeansFit> = None;
    for run in 0..n_init {
        let mut rng = SplitMix64::new(seed.wrapping_add(run as u64));
        let mut centroids = kmeans_plus_plus(x, k, &mut rng)?;
        let mut iterations = 0;
        for _ in 0..max_iter {
            iterations += 1;
            let (labels, _) = assign(x, centroids.view())?;
            let next = update_centroids(x, &labels, centroids.view())?;
            let shift = (&next - &centroids)
                .mapv(|v| v * v)
                .sum_axis(Axis(1))
                .fold(0.0_f64, |m, &v| m.max(v));
            centroids = next;
            if shift <= tol * tol {
                break;
            }
        }
        let (labels, inertia) = assign(x, centroids.view())?;
        if best.as_ref().is_none_or(|b| inertia < b.inertia) {
            best = Some(KMeansFit {
                centroids,
                labels,
                inertia,
                iterations,
            });
        }
    }
    Ok(best.expect("n_init ≥ 1"))
    // END SOLUTION
}
// ANCHOR_END: kmeans

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn two_obvious_clusters() {
        let x = array![[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 11.0]];
        let fit = kmeans(x.view(), 2, 3, 100, 1e-9, 1).unwrap();
        assert_eq!(fit.labels[0], fit.labels[1]);
        assert_eq!(fit.labels[2], fit.labels[3]);
        assert_ne!(fit.labels[0], fit.labels[2]);
        assert!((fit.inertia - 1.0).abs() < 1e-12, "{}", fit.inertia);
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = array![[0.0], [1.0]];
        assert!(kmeans(x.view(), 0, 1, 10, 1e-4, 1).is_err());
        assert!(kmeans(x.view(), 3, 1, 10, 1e-4, 1).is_err());
        assert!(kmeans(array![[f64::NAN]].view(), 1, 1, 10, 1e-4, 1).is_err());
        assert!(update_centroids(x.view(), &[0, 5], array![[0.0]].view()).is_err());
    }
}
