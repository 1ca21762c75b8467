//! HNSW, the hierarchical navigable small world (Malkov & Yashunin, 2016): every vector is a node
//! of a graph linked to about `m` near neighbours; a few nodes also sit on sparser layers above,
//! the upper layers acting as express lanes. A search walks greedily down from the top entry
//! point, then explores layer 0 best-first keeping the `ef_search` best nodes seen. faiss's
//! `IndexHNSWFlat`, hnswlib, and the index inside Qdrant, Weaviate and pgvector.

use crate::vectors::{Hit, Vectors, Worst, dot};
use crate::{Result, VectorIndex, check_query, invalid};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// How an HNSW graph is built.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HnswParams {
    /// Links per node on the upper layers; 2·m on layer 0.
    pub m: usize,
    /// Candidates kept while looking for a new node's neighbours.
    pub ef_construction: usize,
    pub seed: u64,
}

/// The layers are capped here (a node reaches layer 16 with probability m⁻¹⁶).
pub const MAX_LAYER: usize = 16;

/// An HNSW graph over its vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Hnsw {
    pub(crate) vectors: Vectors,
    pub(crate) params: HnswParams,
    /// `links[node][layer]`: the node's neighbours on that layer (a node is on layers 0..=its level).
    pub(crate) links: Vec<Vec<Vec<u32>>>,
    pub(crate) entry: u32,
    /// Candidates kept at layer 0 by [`VectorIndex::search`] (at least `k` are).
    pub ef_search: usize,
}

/// Orders hits best first in a max-heap (the top is the best).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Best(Hit);
impl Eq for Best {}
impl Ord for Best {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.rank(&self.0)
    }
}
impl PartialOrd for Best {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Which nodes a search has seen: a stamp per node, so that a new search clears it in O(1) by
/// taking the next stamp (faiss's `VisitedTable`). One per thread.
#[derive(Debug, Default)]
struct Visited {
    stamps: Vec<u32>,
    now: u32,
}

impl Visited {
    fn reset(&mut self, n: usize) {
        if self.stamps.len() < n {
            self.stamps.resize(n, 0);
        }
        self.now = self.now.wrapping_add(1);
        if self.now == 0 {
            self.stamps.iter_mut().for_each(|s| *s = 0);
            self.now = 1;
        }
    }

    /// Marks `id`; false when it was marked already.
    fn insert(&mut self, id: u32) -> bool {
        let s = &mut self.stamps[id as usize];
        let new = *s != self.now;
        *s = self.now;
        new
    }
}

thread_local! {
    static VISITED: RefCell<Visited> = RefCell::new(Visited::default());
}

impl Hnsw {
    /// Inserts the vectors one by one, in order (so the graph depends only on the vectors and
    /// the parameters); `ef_search` starts at `ef_construction`.
    pub fn build(vectors: Vectors, params: HnswParams) -> Result<Self> {
        if params.m < 2 {
            return Err(invalid(
                "m",
                format!("must be at least 2, got {}", params.m),
            ));
        }
        if params.ef_construction < params.m {
            return Err(invalid(
                "ef_construction",
                format!(
                    "must be at least m = {}, got {}",
                    params.m, params.ef_construction
                ),
            ));
        }
        let mut rng = SmallRng::seed_from_u64(params.seed);
        let ml = 1.0 / (params.m as f64).ln();
        let n = vectors.len();
        let mut index = Self {
            vectors,
            params,
            links: Vec::with_capacity(n),
            entry: 0,
            ef_search: params.ef_construction,
        };
        for id in 0..n {
            // 1 − U lies in (0, 1]: its logarithm is finite.
            let u: f64 = 1.0 - rng.r#gen::<f64>();
            let level = ((-u.ln() * ml).floor() as usize).min(MAX_LAYER);
            index.insert(id as u32, level);
        }
        Ok(index)
    }

    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// The same graph keeping `ef_search` candidates per query (≥ 1).
    pub fn with_ef_search(mut self, ef_search: usize) -> Result<Self> {
        if ef_search == 0 {
            return Err(invalid("ef_search", "must be at least 1"));
        }
        self.ef_search = ef_search;
        Ok(self)
    }

    /// The highest layer of a node.
    pub fn level(&self, node: u32) -> usize {
        self.links[node as usize].len() - 1
    }

    /// A node's links on a layer (empty above its level).
    pub fn neighbours(&self, node: u32, layer: usize) -> &[u32] {
        self.links[node as usize]
            .get(layer)
            .map_or(&[], Vec::as_slice)
    }

    /// How many nodes sit on each layer, from layer 0 up.
    pub fn layer_sizes(&self) -> Vec<usize> {
        let top = self.level(self.entry);
        (0..=top)
            .map(|l| self.links.iter().filter(|n| n.len() > l).count())
            .collect()
    }

    fn max_links(&self, layer: usize) -> usize {
        if layer == 0 {
            2 * self.params.m
        } else {
            self.params.m
        }
    }

    fn hit(&self, query: &[f32], id: u32) -> Hit {
        Hit {
            id,
            score: dot(query, self.vectors.row(id as usize)),
        }
    }

    // ANCHOR: search_layer
    /// Best-first search of one layer from the `entry` hits: repeatedly expand the best
    /// candidate not yet expanded, keeping the `ef` best nodes seen; stop when the best candidate
    /// left is worse than the worst of those. Returns them best first.
    fn search_layer(&self, query: &[f32], entry: &[Hit], ef: usize, layer: usize) -> Vec<Hit> {
        VISITED.with_borrow_mut(|visited| {
            visited.reset(self.links.len());
            let mut candidates: BinaryHeap<Best> = BinaryHeap::new();
            let mut found: BinaryHeap<Worst> = BinaryHeap::new();
            for &h in entry {
                if visited.insert(h.id) {
                    candidates.push(Best(h));
                    found.push(Worst(h));
                }
            }
            while found.len() > ef {
                found.pop();
            }
            // BEGIN SOLUTION search_layer
            while let Some(Best(c)) = candidates.pop() {
                let worst = found.peek().map(|w| w.0);
                if let Some(w) = worst
                    && found.len() >= ef
                    && c.rank(&w) == Ordering::Greater
                {
                    break;
                }
                for &n in &self.links[c.id as usize][layer] {
                    if !visited.insert(n) {
                        continue;
                    }
                    let h = self.hit(query, n);
                    let better = match found.peek() {
                        Some(w) => found.len() < ef || h.rank(&w.0) == Ordering::Less,
                        None => true,
                    };
                    if better {
                        candidates.push(Best(h));
                        found.push(Worst(h));
                        if found.len() > ef {
                            found.pop();
                        }
                    }
                }
            }
            // END SOLUTION
            let mut hits: Vec<Hit> = found.into_iter().map(|w| w.0).collect();
            hits.sort_by(Hit::rank);
            hits
        })
    }
    // ANCHOR_END: search_layer

    // ANCHOR: select_neighbours
    /// The neighbour-selection heuristic: from candidates sorted best first (by similarity to
    /// the node), keep one only if it is closer to the node than to every one kept so far, up to
    /// `m`. Links then point in different directions instead of into one cluster.
    fn select_neighbours(&self, candidates: &[Hit], m: usize) -> Vec<u32> {
        let mut kept: Vec<Hit> = Vec::with_capacity(m);
        for &c in candidates {
            if kept.len() == m {
                break;
            }
            let row = self.vectors.row(c.id as usize);
            if kept
                .iter()
                .all(|k| dot(row, self.vectors.row(k.id as usize)) < c.score)
            {
                kept.push(c);
            }
        }
        kept.iter().map(|h| h.id).collect()
    }
    // ANCHOR_END: select_neighbours

    fn insert(&mut self, id: u32, level: usize) {
        self.links.push(vec![Vec::new(); level + 1]);
        if id == 0 {
            self.entry = 0;
            return;
        }
        let query = self.vectors.row(id as usize).to_vec();
        let top = self.level(self.entry);
        let mut entry = vec![self.hit(&query, self.entry)];
        for layer in (level + 1..=top).rev() {
            entry = self.search_layer(&query, &entry, 1, layer);
        }
        for layer in (0..=level.min(top)).rev() {
            let found = self.search_layer(&query, &entry, self.params.ef_construction, layer);
            let neighbours = self.select_neighbours(&found, self.params.m);
            for &n in &neighbours {
                self.links[n as usize][layer].push(id);
                if self.links[n as usize][layer].len() > self.max_links(layer) {
                    self.shrink(n, layer);
                }
            }
            self.links[id as usize][layer] = neighbours;
            entry = found;
        }
        if level > top {
            self.entry = id;
        }
    }

    /// Cuts a node's links on a layer back to the maximum, by the same heuristic.
    fn shrink(&mut self, node: u32, layer: usize) {
        let row = self.vectors.row(node as usize);
        let mut candidates: Vec<Hit> = self.links[node as usize][layer]
            .iter()
            .map(|&n| self.hit(row, n))
            .collect();
        candidates.sort_by(Hit::rank);
        self.links[node as usize][layer] =
            self.select_neighbours(&candidates, self.max_links(layer));
    }

    /// The `k` best hits keeping `ef` candidates at layer 0 (at least `k`).
    pub fn search_ef(&self, query: &[f32], k: usize, ef: usize) -> Result<Vec<Hit>> {
        check_query(query, k, self.len(), self.dim())?;
        let mut entry = vec![self.hit(query, self.entry)];
        for layer in (1..=self.level(self.entry)).rev() {
            entry = self.search_layer(query, &entry, 1, layer);
        }
        let mut hits = self.search_layer(query, &entry, ef.max(k), 0);
        hits.truncate(k);
        Ok(hits)
    }
}

impl VectorIndex for Hnsw {
    fn len(&self) -> usize {
        self.vectors.len()
    }

    fn dim(&self) -> usize {
        self.vectors.dim()
    }

    fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.search_ef(query, k, self.ef_search)
    }
}
