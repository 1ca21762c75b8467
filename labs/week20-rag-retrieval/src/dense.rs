//! Dense retrieval: the passages' MiniLM embeddings (week 19's, read from its cache when the
//! passages are the same) searched exactly by cosine similarity.

use crate::chunk::Tokens;
use crate::{Result, Scored, invalid, top_k};
use week19_embeddings_search::wb_llm::{Embedder, embed::MAX_TOKENS};
use week19_embeddings_search::{Vectors, dot};

/// A query MiniLM can read whole: not empty, and at most [`MAX_TOKENS`] tokens with [CLS] and
/// [SEP]. A longer one is refused: the model would cut it silently and search for its start.
pub fn check_query(tokens: &Tokens, query: &str) -> Result<()> {
    if query.trim().is_empty() {
        return Err(invalid("query", "empty"));
    }
    let n = tokens.count(query)?;
    if n > MAX_TOKENS {
        return Err(invalid(
            "query",
            format!(
                "{n} tokens, more than the {MAX_TOKENS} MiniLM reads; shorten it or search by its parts"
            ),
        ));
    }
    Ok(())
}

/// The embeddings of `queries`, each checked by [`check_query`] first (the error names it).
pub fn embed_queries(embedder: &Embedder, tokens: &Tokens, queries: &[&str]) -> Result<Vectors> {
    for (i, q) in queries.iter().enumerate() {
        check_query(tokens, q).map_err(|e| invalid(&format!("queries[{i}]"), e.to_string()))?;
    }
    let mut rows = Vec::with_capacity(queries.len());
    for batch in queries.chunks(32) {
        rows.extend(embedder.embed(batch)?);
    }
    Ok(Vectors::from_rows("query embeddings", &rows)?)
}

/// The `k` passages whose vectors have the largest dot product with `query` (cosine for unit
/// vectors), best first, ties to the smaller id.
pub fn search(passages: &Vectors, query: &[f32], k: usize) -> Result<Vec<Scored>> {
    if query.len() != passages.dim() {
        return Err(invalid(
            "query",
            format!("expected {} numbers, got {}", passages.dim(), query.len()),
        ));
    }
    let scores: Vec<f64> = passages.rows().map(|r| f64::from(dot(query, r))).collect();
    top_k(&scores, k, false)
}
