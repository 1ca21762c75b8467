//! A matrix of vectors (one per row, stored flat), the inner product, and the top-k of a search.

use crate::{Result, invalid};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// `n` vectors of width `dim`, row after row in one buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Vectors {
    dim: usize,
    data: Vec<f32>,
}

impl Vectors {
    /// Rows of equal width, every value finite; at least one row of at least one number.
    pub fn from_rows(arg: &str, rows: &[Vec<f32>]) -> Result<Self> {
        let dim = rows.first().map(Vec::len).unwrap_or(0);
        if dim == 0 {
            return Err(invalid(arg, "no vectors (or vectors of width 0)"));
        }
        let mut data = Vec::with_capacity(rows.len() * dim);
        for (i, row) in rows.iter().enumerate() {
            if row.len() != dim {
                return Err(invalid(
                    &format!("{arg}[{i}]"),
                    format!(
                        "expected {dim} numbers (the width of row 0), got {}",
                        row.len()
                    ),
                ));
            }
            data.extend_from_slice(row);
        }
        Self::from_flat(arg, dim, data)
    }

    /// `data.len() / dim` rows read from one buffer.
    pub fn from_flat(arg: &str, dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 || data.is_empty() || !data.len().is_multiple_of(dim) {
            return Err(invalid(
                arg,
                format!("{} numbers do not make rows of width {dim}", data.len()),
            ));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(invalid(
                &format!("{arg}[{}]", i / dim),
                format!("value {} is {}", i % dim, data[i]),
            ));
        }
        Ok(Self { dim, data })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `i` (panics past the end, like slice indexing).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim)
    }

    /// The buffer, row after row.
    pub fn as_flat(&self) -> &[f32] {
        &self.data
    }

    /// The rows whose indices `keep` lists, in that order.
    pub fn select(&self, keep: &[usize]) -> Result<Self> {
        if let Some(&bad) = keep.iter().find(|&&i| i >= self.len()) {
            return Err(invalid(
                "keep",
                format!("row {bad} is past the {} rows", self.len()),
            ));
        }
        let mut data = Vec::with_capacity(keep.len() * self.dim);
        for &i in keep {
            data.extend_from_slice(self.row(i));
        }
        Self::from_flat("keep", self.dim, data)
    }
}

// ANCHOR: dot
/// The inner product of two vectors of equal length: their cosine similarity when both have
/// unit length. Eight running sums, so that the compiler keeps them in one SIMD register.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    for (x, y) in a8.iter().zip(b8) {
        for lane in 0..8 {
            sums[lane] += x[lane] * y[lane];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    sums.iter().sum::<f32>() + tail
}
// ANCHOR_END: dot

/// One result of a search: the vector's id and its score (inner product; larger is closer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub id: u32,
    pub score: f32,
}

impl Hit {
    /// Best first: the larger score, then the smaller id.
    pub fn rank(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.id.cmp(&other.id))
    }
}

/// A heap entry that orders by [`Hit::rank`]: the heap's top is the worst hit kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Worst(pub(crate) Hit);

impl Eq for Worst {}

impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rank(&other.0)
    }
}

impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

// ANCHOR: top_k
/// Keeps the `k` best hits offered to it, in O(log k) per offer: a heap whose top is the worst
/// hit kept, replaced whenever a better one comes.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Offers one hit.
    pub fn push(&mut self, hit: Hit) {
        // BEGIN SOLUTION top_k
        if self.heap.len() < self.k {
            self.heap.push(Worst(hit));
        } else if let Some(worst) = self.heap.peek()
            && hit.rank(&worst.0) == Ordering::Less
        {
            self.heap.pop();
            self.heap.push(Worst(hit));
        }
        // END SOLUTION
    }

    /// The hits kept, best first.
    pub fn into_sorted(self) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self.heap.into_iter().map(|w| w.0).collect();
        hits.sort_by(Hit::rank);
        hits
    }
}
// ANCHOR_END: top_k
