//! IVF, the inverted file: k-means cuts the space into `nlist` cells; each vector is stored in
//! the list of its cell. A query scans only the `nprobe` cells whose centroids are nearest —
//! about nprobe/nlist of the vectors — and misses a true neighbour only when it lies in a cell
//! not probed. faiss's `IndexIVFFlat`.

use crate::kmeans::{kmeans, nearest_centroid, squared_norms};
use crate::vectors::{Hit, TopK, Vectors, dot};
use crate::{Result, VectorIndex, check_query, invalid};
use serde::Serialize;

/// How an IVF index is built.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IvfParams {
    /// Cells (k-means centroids); about √n is the usual start.
    pub nlist: usize,
    /// Lloyd iterations at most.
    pub iterations: usize,
    pub seed: u64,
}

/// One cell's vectors: their ids and their values, row after row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct List {
    pub(crate) ids: Vec<u32>,
    pub(crate) data: Vec<f32>,
}

/// An inverted file over k-means cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Ivf {
    pub(crate) centroids: Vectors,
    /// The centroids' squared norms (for the distance from a query to each).
    pub(crate) norms: Vec<f32>,
    pub(crate) lists: Vec<List>,
    pub(crate) len: usize,
    /// Cells scanned per query by [`VectorIndex::search`].
    pub nprobe: usize,
}

impl Ivf {
    /// Trains the quantiser on `vectors` and files every vector in its cell; `nprobe` starts at 1.
    pub fn build(vectors: &Vectors, params: IvfParams) -> Result<Self> {
        let fit = kmeans(vectors, params.nlist, params.iterations, params.seed)?;
        let dim = vectors.dim();
        let mut lists = vec![
            List {
                ids: Vec::new(),
                data: Vec::new()
            };
            params.nlist
        ];
        for (id, (row, &cell)) in vectors.rows().zip(&fit.assignment).enumerate() {
            let list = &mut lists[cell as usize];
            list.ids.push(id as u32);
            list.data.extend_from_slice(row);
        }
        debug_assert!(lists.iter().all(|l| l.data.len() == l.ids.len() * dim));
        Ok(Self {
            norms: squared_norms(&fit.centroids),
            centroids: fit.centroids,
            lists,
            len: vectors.len(),
            nprobe: 1,
        })
    }

    pub fn nlist(&self) -> usize {
        self.lists.len()
    }

    fn check_nprobe(&self, nprobe: usize) -> Result<()> {
        if nprobe == 0 || nprobe > self.nlist() {
            return Err(invalid(
                "nprobe",
                format!(
                    "must be between 1 and nlist = {}, got {nprobe}",
                    self.nlist()
                ),
            ));
        }
        Ok(())
    }

    /// The same index scanning `nprobe` cells per query (1..=nlist).
    pub fn with_nprobe(mut self, nprobe: usize) -> Result<Self> {
        self.check_nprobe(nprobe)?;
        self.nprobe = nprobe;
        Ok(self)
    }

    /// The sizes of the cells (how balanced k-means left them).
    pub fn list_sizes(&self) -> Vec<usize> {
        self.lists.iter().map(|l| l.ids.len()).collect()
    }

    // ANCHOR: ivf_search
    /// The `nprobe` cells nearest to the query, then every vector in them. Fewer than `k` hits
    /// come back when the cells probed hold fewer than `k` vectors.
    pub fn search_probing(&self, query: &[f32], k: usize, nprobe: usize) -> Result<Vec<Hit>> {
        check_query(query, k, self.len, self.centroids.dim())?;
        self.check_nprobe(nprobe)?;
        // BEGIN SOLUTION ivf_search
        // The nearest cells: largest q·c − ‖c‖²/2 (smallest distance), found with a top-k.
        let norms = &self.norms;
        let mut cells = TopK::new(nprobe);
        for (c, row) in self.centroids.rows().enumerate() {
            cells.push(Hit {
                id: c as u32,
                score: dot(query, row) - 0.5 * norms[c],
            });
        }
        let dim = self.centroids.dim();
        let mut top = TopK::new(k);
        for cell in cells.into_sorted() {
            let list = &self.lists[cell.id as usize];
            for (&id, row) in list.ids.iter().zip(list.data.chunks_exact(dim)) {
                top.push(Hit {
                    id,
                    score: dot(query, row),
                });
            }
        }
        Ok(top.into_sorted())
        // END SOLUTION
    }
    // ANCHOR_END: ivf_search

    /// The cell a vector belongs in.
    pub fn cell_of(&self, x: &[f32]) -> usize {
        nearest_centroid(&self.centroids, &self.norms, x)
    }
}

impl VectorIndex for Ivf {
    fn len(&self) -> usize {
        self.len
    }

    fn dim(&self) -> usize {
        self.centroids.dim()
    }

    fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        self.search_probing(query, k, self.nprobe)
    }
}
