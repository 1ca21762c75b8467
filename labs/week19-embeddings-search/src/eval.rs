//! How good and how fast: recall@k against exact search, queries per second, and a production
//! HNSW crate (instant-distance) measured on the same vectors.

use crate::vectors::{Hit, Vectors, dot};
use crate::{Result, VectorIndex, invalid};
use serde::Serialize;
use std::time::Instant;

// ANCHOR: recall
/// recall@k: the share of the true `k` nearest neighbours (`truth`, from exact search) that
/// the approximate results (`got`) found, averaged over the queries.
pub fn recall_at_k(truth: &[Vec<Hit>], got: &[Vec<Hit>], k: usize) -> Result<f64> {
    if truth.len() != got.len() || truth.is_empty() {
        return Err(invalid(
            "got",
            format!("{} result lists for {} queries", got.len(), truth.len()),
        ));
    }
    if k == 0 || truth.iter().any(|t| t.len() < k) {
        return Err(invalid(
            "k",
            format!("{k}: every true list must hold at least k ≥ 1 hits"),
        ));
    }
    // BEGIN SOLUTION recall
    let mut found = 0usize;
    for (t, g) in truth.iter().zip(got) {
        let want: Vec<u32> = t[..k].iter().map(|h| h.id).collect();
        found += g.iter().take(k).filter(|h| want.contains(&h.id)).count();
    }
    Ok(found as f64 / (k * truth.len()) as f64)
    // END SOLUTION
}
// ANCHOR_END: recall

/// Holds out `n` rows spread evenly (row i·len/n for i < n) as queries; the rest is the base.
pub fn split(all: &Vectors, n: usize) -> Result<(Vectors, Vectors)> {
    if n == 0 || n >= all.len() {
        return Err(invalid(
            "queries",
            format!(
                "{n}: must be between 1 and {} (some rows must be left to index)",
                all.len() - 1
            ),
        ));
    }
    let held: Vec<usize> = (0..n).map(|i| i * all.len() / n).collect();
    let rest: Vec<usize> = (0..all.len())
        .filter(|i| held.binary_search(i).is_err())
        .collect();
    Ok((all.select(&rest)?, all.select(&held)?))
}

/// Runs every query through `index` on this thread, twice (the first pass also warms the
/// caches); returns the results and the queries per second of the faster pass.
pub fn run_queries(
    index: &dyn VectorIndex,
    queries: &Vectors,
    k: usize,
) -> Result<(Vec<Vec<Hit>>, f64)> {
    let mut best = f64::INFINITY;
    let mut hits = Vec::new();
    for _ in 0..2 {
        let start = Instant::now();
        hits = queries
            .rows()
            .map(|q| index.search(q, k))
            .collect::<Result<Vec<_>>>()?;
        best = best.min(start.elapsed().as_secs_f64().max(1e-9));
    }
    Ok((hits, queries.len() as f64 / best))
}

/// One point of a sweep: an index with one setting, its recall@k and speed.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub index: String,
    /// The search-time setting swept (nprobe, ef_search), 0 for exact search.
    pub setting: usize,
    pub recall: f64,
    pub qps: f64,
    /// Seconds to build the index (the same for every point of one build).
    pub build_s: f64,
}

/// A vector as instant-distance sees it: distance 1 − cosine.
#[derive(Debug, Clone)]
pub struct CratePoint(pub Vec<f32>);

impl instant_distance::Point for CratePoint {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - dot(&self.0, &other.0)
    }
}

thread_local! {
    static SEARCH: std::cell::RefCell<instant_distance::Search> =
        std::cell::RefCell::new(instant_distance::Search::default());
}

/// instant-distance's HNSW (M = 32, fixed by the crate) over `vectors`; its `ef_search` is fixed
/// when it is built, so each setting is a build.
pub struct CrateHnsw {
    map: instant_distance::HnswMap<CratePoint, u32>,
    len: usize,
    dim: usize,
}

impl CrateHnsw {
    pub fn build(
        vectors: &Vectors,
        ef_construction: usize,
        ef_search: usize,
        seed: u64,
    ) -> Result<Self> {
        if ef_search == 0 || ef_construction == 0 {
            return Err(invalid(
                "ef_search",
                "ef_search and ef_construction must be at least 1",
            ));
        }
        let points: Vec<CratePoint> = vectors.rows().map(|r| CratePoint(r.to_vec())).collect();
        let ids: Vec<u32> = (0..vectors.len() as u32).collect();
        let map = instant_distance::Builder::default()
            .ef_construction(ef_construction)
            .ef_search(ef_search)
            .seed(seed)
            .build(points, ids);
        Ok(Self {
            map,
            len: vectors.len(),
            dim: vectors.dim(),
        })
    }
}

impl VectorIndex for CrateHnsw {
    fn len(&self) -> usize {
        self.len
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        crate::check_query(query, k, self.len, self.dim)?;
        let point = CratePoint(query.to_vec());
        // The crate's search state (its visited set among others) is reused across queries, as
        // its documentation advises: one per thread.
        SEARCH.with_borrow_mut(|search| {
            Ok(self
                .map
                .search(&point, search)
                .take(k)
                .map(|item| Hit {
                    id: *item.value,
                    score: 1.0 - item.distance,
                })
                .collect())
        })
    }
}
