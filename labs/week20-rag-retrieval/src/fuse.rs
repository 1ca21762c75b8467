//! Hybrid search: reciprocal-rank fusion (Cormack, Clarke and Büttcher, 2009). Each list votes
//! 1/(c + rank) for each passage it ranks; scores from different retrievers (BM25's unbounded
//! sums, cosines in [−1, 1]) never have to be put on one scale.

use crate::{Result, Scored, invalid};
use std::collections::HashMap;

/// The constant of the original paper, used by Elasticsearch, OpenSearch and Qdrant.
pub const RRF_C: f64 = 60.0;

// ANCHOR: rrf
/// The `k` best passages by Σ 1/(c + rank) over `lists` (each best first, rank 1 first),
/// best first, ties to the smaller id. A passage missing from a list gets nothing from it.
pub fn rrf(lists: &[&[Scored]], c: f64, k: usize) -> Result<Vec<Scored>> {
    if lists.is_empty() {
        return Err(invalid("lists", "nothing to fuse"));
    }
    if !(c.is_finite() && c >= 0.0) {
        return Err(invalid("c", format!("must be a number ≥ 0, got {c}")));
    }
    if k == 0 {
        return Err(invalid("k", "must be at least 1"));
    }
    // BEGIN SOLUTION rrf
    let mut votes: HashMap<usize, f64> = HashMap::new();
    for list in lists {
        for (rank, hit) in list.iter().enumerate() {
            *votes.entry(hit.id).or_default() += 1.0 / (c + (rank + 1) as f64);
        }
    }
    let mut fused: Vec<Scored> = votes
        .into_iter()
        .map(|(id, score)| Scored { id, score })
        .collect();
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    fused.truncate(k);
    Ok(fused)
    // END SOLUTION
}
// ANCHOR_END: rrf
