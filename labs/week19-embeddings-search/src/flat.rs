//! Exact search: the query against every vector. The reference every approximate index is
//! measured against (its recall is 1 by definition), and the right choice below ~10⁵ vectors.

use crate::vectors::{Hit, TopK, Vectors, dot};
use crate::{Result, VectorIndex, check_query};

/// Every vector, scanned for each query.
#[derive(Debug, Clone, PartialEq)]
pub struct Flat {
    pub(crate) vectors: Vectors,
}

impl Flat {
    pub fn new(vectors: Vectors) -> Self {
        Self { vectors }
    }

    pub fn vectors(&self) -> &Vectors {
        &self.vectors
    }
}

impl VectorIndex for Flat {
    fn len(&self) -> usize {
        self.vectors.len()
    }

    fn dim(&self) -> usize {
        self.vectors.dim()
    }

    // ANCHOR: flat_search
    fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        check_query(query, k, self.len(), self.dim())?;
        // BEGIN SOLUTION flat_search
        let mut top = TopK::new(k);
        for (id, row) in self.vectors.rows().enumerate() {
            top.push(Hit {
                id: id as u32,
                score: dot(query, row),
            });
        }
        Ok(top.into_sorted())
        // END SOLUTION
    }
    // ANCHOR_END: flat_search
}
