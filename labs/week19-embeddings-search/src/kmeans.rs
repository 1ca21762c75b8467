//! k-means by Lloyd's algorithm (k-means++ seeding), in Euclidean distance: the coarse quantiser
//! of the IVF index. For unit vectors the nearest centroid by distance is also the most similar
//! by cosine among centroids of equal norm; the centroids themselves are not normalised.

use crate::vectors::{Vectors, dot};
use crate::{Result, invalid};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A fitted k-means: the centroids, each vector's cell, and the inertia (the sum of squared
/// distances to the assigned centroid) after each iteration.
#[derive(Debug, Clone)]
pub struct KMeans {
    pub centroids: Vectors,
    pub assignment: Vec<u32>,
    pub inertia: Vec<f64>,
}

/// The squared norm of each row.
pub fn squared_norms(v: &Vectors) -> Vec<f32> {
    v.rows().map(|r| dot(r, r)).collect()
}

// ANCHOR: nearest_centroid
/// The index of the centroid nearest to `x`, ties to the smaller index. With `norms` the
/// centroids' squared norms, ‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖², and ‖x‖² is the same for every c.
pub fn nearest_centroid(centroids: &Vectors, norms: &[f32], x: &[f32]) -> usize {
    // BEGIN SOLUTION nearest_centroid
    let mut best = (0, f32::INFINITY);
    for (c, row) in centroids.rows().enumerate() {
        let d = norms[c] - 2.0 * dot(x, row);
        if d < best.1 {
            best = (c, d);
        }
    }
    best.0
    // END SOLUTION
}
// ANCHOR_END: nearest_centroid

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = f64::from(*x) - f64::from(*y);
            d * d
        })
        .sum()
}

fn check_k(data: &Vectors, k: usize) -> Result<()> {
    if k == 0 || k > data.len() {
        return Err(invalid(
            "k",
            format!("must be between 1 and the {} vectors, got {k}", data.len()),
        ));
    }
    Ok(())
}

/// k-means++ seeding: the first centroid a random vector, each next one a vector drawn with
/// probability proportional to its squared distance to the nearest centroid chosen so far.
pub fn plus_plus(data: &Vectors, k: usize, seed: u64) -> Result<Vectors> {
    check_k(data, k)?;
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut chosen = vec![rng.gen_range(0..data.len())];
    let mut nearest: Vec<f64> = data
        .rows()
        .map(|r| squared_distance(r, data.row(chosen[0])))
        .collect();
    while chosen.len() < k {
        let total: f64 = nearest.iter().sum();
        let next = if total > 0.0 {
            let mut target = rng.r#gen::<f64>() * total;
            let mut pick = nearest.len() - 1;
            for (i, d) in nearest.iter().enumerate() {
                if target < *d {
                    pick = i;
                    break;
                }
                target -= d;
            }
            pick
        } else {
            // Fewer distinct vectors than k: any vector not chosen yet.
            (0..data.len()).find(|i| !chosen.contains(i)).unwrap_or(0)
        };
        chosen.push(next);
        for (i, d) in nearest.iter_mut().enumerate() {
            *d = d.min(squared_distance(data.row(i), data.row(next)));
        }
    }
    data.select(&chosen)
}

/// Lloyd's iterations from the given centroids: assign every vector to its nearest centroid,
/// move each centroid to the mean of its vectors; stop when no assignment changes or after
/// `max_iter` iterations. A centroid left with no vectors moves to the vector farthest from its
/// own centroid (scikit-learn's remedy).
pub fn lloyd(data: &Vectors, init: Vectors, max_iter: usize) -> Result<KMeans> {
    if init.dim() != data.dim() {
        return Err(invalid(
            "init",
            format!(
                "centroids of width {}, data of width {}",
                init.dim(),
                data.dim()
            ),
        ));
    }
    check_k(data, init.len())?;
    if max_iter == 0 {
        return Err(invalid("max_iter", "must be at least 1"));
    }
    let (k, dim) = (init.len(), data.dim());
    let mut centroids = init;
    let mut assignment = vec![u32::MAX; data.len()];
    let mut inertia = Vec::new();
    for _ in 0..=max_iter {
        let norms = squared_norms(&centroids);
        let mut changed = false;
        for (i, row) in data.rows().enumerate() {
            let c = nearest_centroid(&centroids, &norms, row) as u32;
            changed |= assignment[i] != c;
            assignment[i] = c;
        }
        // The last pass only assigns, so that the cells match the final centroids.
        if !changed || inertia.len() == max_iter {
            break;
        }
        let mut sums = vec![0.0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (row, &c) in data.rows().zip(&assignment) {
            counts[c as usize] += 1;
            for (s, v) in sums[c as usize * dim..][..dim].iter_mut().zip(row) {
                *s += f64::from(*v);
            }
        }
        let mut next = Vec::with_capacity(k * dim);
        for c in 0..k {
            if counts[c] == 0 {
                let far = (0..data.len())
                    .max_by(|&a, &b| {
                        let da =
                            squared_distance(data.row(a), centroids.row(assignment[a] as usize));
                        let db =
                            squared_distance(data.row(b), centroids.row(assignment[b] as usize));
                        da.total_cmp(&db).then(b.cmp(&a))
                    })
                    .unwrap_or(0);
                next.extend_from_slice(data.row(far));
            } else {
                let n = counts[c] as f64;
                next.extend(sums[c * dim..][..dim].iter().map(|s| (s / n) as f32));
            }
        }
        centroids = Vectors::from_flat("centroids", dim, next)?;
        inertia.push(
            data.rows()
                .zip(&assignment)
                .map(|(r, &c)| squared_distance(r, centroids.row(c as usize)))
                .sum(),
        );
    }
    Ok(KMeans {
        centroids,
        assignment,
        inertia,
    })
}

/// k-means with k-means++ seeding (one seed) and at most `max_iter` Lloyd iterations.
pub fn kmeans(data: &Vectors, k: usize, max_iter: usize, seed: u64) -> Result<KMeans> {
    let init = plus_plus(data, k, seed)?;
    lloyd(data, init, max_iter)
}
