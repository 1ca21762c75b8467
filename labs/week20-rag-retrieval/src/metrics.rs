//! Retrieval metrics over a labelled query set: recall@k (did the gold passages come back?),
//! mean reciprocal rank (how high the first one was), nDCG@k (how high all of them were,
//! discounted by log₂ of the rank). Each query's results are passage ids, best first.

use crate::{Result, Scored, invalid};
use serde::Serialize;

fn check_relevant(relevant: &[usize]) -> Result<()> {
    if relevant.is_empty() {
        return Err(invalid(
            "relevant",
            "a query with no relevant passage cannot be scored",
        ));
    }
    Ok(())
}

/// The share of the relevant passages found in the first `k` results.
pub fn recall_at_k(ranked: &[usize], relevant: &[usize], k: usize) -> Result<f64> {
    check_relevant(relevant)?;
    if k == 0 {
        return Err(invalid("k", "must be at least 1"));
    }
    let found = relevant
        .iter()
        .filter(|r| ranked.iter().take(k).any(|id| id == *r))
        .count();
    Ok(found as f64 / relevant.len() as f64)
}

// ANCHOR: reciprocal_rank
/// 1 / the rank (from 1) of the first relevant result; 0 if none came back.
pub fn reciprocal_rank(ranked: &[usize], relevant: &[usize]) -> Result<f64> {
    check_relevant(relevant)?;
    // BEGIN SOLUTION reciprocal_rank
    Ok(ranked
        .iter()
        .position(|id| relevant.contains(id))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64))
    // END SOLUTION
}
// ANCHOR_END: reciprocal_rank

// ANCHOR: ndcg
/// nDCG@k with linear gains (scikit-learn's `ndcg_score`): the discounted gain of the results,
/// Σ_{i<k} gain_i / log₂(i + 2), over that of the best possible order of `all_gains` (the
/// gains of every passage that has one). `gains` are the results' gains, best result first.
/// 0 when nothing is relevant.
pub fn ndcg_at_k(gains: &[f64], all_gains: &[f64], k: usize) -> Result<f64> {
    if k == 0 {
        return Err(invalid("k", "must be at least 1"));
    }
    if let Some(g) = gains
        .iter()
        .chain(all_gains)
        .find(|g| !g.is_finite() || **g < 0.0)
    {
        return Err(invalid("gains", format!("must be finite and ≥ 0, got {g}")));
    }
    // BEGIN SOLUTION ndcg
    let dcg = |g: &[f64]| -> f64 {
        g.iter()
            .take(k)
            .enumerate()
            .map(|(i, g)| g / (i as f64 + 2.0).log2())
            .sum()
    };
    let mut ideal = all_gains.to_vec();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let best = dcg(&ideal);
    Ok(if best > 0.0 { dcg(gains) / best } else { 0.0 })
    // END SOLUTION
}
// ANCHOR_END: ndcg

/// One retriever over the query set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub name: String,
    /// (k, mean recall@k)
    pub recall: Vec<(usize, f64)>,
    /// Mean reciprocal rank within the results kept.
    pub mrr: f64,
    /// Mean nDCG@10 (binary gains).
    pub ndcg10: f64,
}

/// The mean recall@k for each of `ks`, MRR and nDCG@10 of `results` (one list per query)
/// against `relevant` (the relevant passages of each query).
pub fn evaluate(
    name: &str,
    results: &[Vec<Scored>],
    relevant: &[Vec<usize>],
    ks: &[usize],
) -> Result<Summary> {
    if results.len() != relevant.len() || results.is_empty() {
        return Err(invalid(
            "results",
            format!(
                "{} result lists for {} labelled queries",
                results.len(),
                relevant.len()
            ),
        ));
    }
    let n = results.len() as f64;
    let ids: Vec<Vec<usize>> = results
        .iter()
        .map(|r| r.iter().map(|h| h.id).collect())
        .collect();
    let mut recall = Vec::new();
    for &k in ks {
        let mut sum = 0.0;
        for (r, rel) in ids.iter().zip(relevant) {
            sum += recall_at_k(r, rel, k)?;
        }
        recall.push((k, sum / n));
    }
    let mut mrr = 0.0;
    let mut ndcg = 0.0;
    for (r, rel) in ids.iter().zip(relevant) {
        mrr += reciprocal_rank(r, rel)?;
        let gains: Vec<f64> = r
            .iter()
            .map(|id| f64::from(u8::from(rel.contains(id))))
            .collect();
        ndcg += ndcg_at_k(&gains, &vec![1.0; rel.len()], 10)?;
    }
    Ok(Summary {
        name: name.into(),
        recall,
        mrr: mrr / n,
        ndcg10: ndcg / n,
    })
}
