//! MiniLM embeddings of many texts, computed in batches of similar length and cached on disk
//! under the hash of the model and the texts: the corpus is embedded once (a few minutes on two
//! cores), then read back in milliseconds by every run and check.

use crate::vectors::Vectors;
use crate::{Result, SearchError, invalid};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use wb_llm::Embedder;

/// Texts per forward pass.
pub const BATCH: usize = 16;

/// The cache folder of computed embeddings (beside the models).
pub fn cache_dir() -> PathBuf {
    wb_data::models::models_dir().join("embeddings")
}

/// The cache key of `texts` under MiniLM: SHA-256 of the model's weights hash, its input limit
/// and every text (each prefixed by its length, so that no two lists collide).
pub fn cache_key(texts: &[&str]) -> String {
    let mut h = Sha256::new();
    for f in wb_data::models::MINILM.files {
        h.update(f.sha256.as_bytes());
    }
    h.update(wb_llm::embed::MAX_TOKENS.to_le_bytes());
    for t in texts {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    format!("{:x}", h.finalize())
}

/// Embeds `texts` (unit vectors of 384), reading them from the cache when these exact texts
/// were embedded before. Texts are sorted by length into batches (less padding), the results
/// put back in order. `progress` hears how far it got.
pub fn embed_cached(
    embedder: &Embedder,
    texts: &[&str],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vectors, bool)> {
    if texts.is_empty() {
        return Err(invalid("texts", "nothing to embed"));
    }
    let dim = wb_llm::embed::DIM;
    let path = cache_dir().join(format!("{}.f32", &cache_key(texts)[..32]));
    if let Ok(bytes) = std::fs::read(&path)
        && bytes.len() == texts.len() * dim * 4
    {
        let data = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        return Ok((Vectors::from_flat("cached embeddings", dim, data)?, true));
    }
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| (texts[i].len(), i));
    let mut rows = vec![Vec::new(); texts.len()];
    for (done, batch) in order.chunks(BATCH).enumerate() {
        let group: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
        let vectors = embedder.embed(&group).map_err(|e| match e {
            wb_llm::LlmError::InvalidArgument { arg, detail } => {
                // Name the text in the caller's numbering, not the batch's.
                let at = arg
                    .trim_start_matches("texts[")
                    .trim_end_matches(']')
                    .parse::<usize>()
                    .ok()
                    .and_then(|j| batch.get(j));
                invalid(&at.map_or(arg.clone(), |i| format!("texts[{i}]")), detail)
            }
            other => SearchError::Llm(other),
        })?;
        for (&i, v) in batch.iter().zip(vectors) {
            rows[i] = v;
        }
        progress(((done + 1) * BATCH).min(texts.len()), texts.len());
    }
    let vectors = Vectors::from_rows("embeddings", &rows)?;
    std::fs::create_dir_all(cache_dir())?;
    let bytes: Vec<u8> = vectors
        .as_flat()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut partial = path.clone().into_os_string();
    partial.push(format!(".{}.partial", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, &path)?;
    Ok((vectors, false))
}
