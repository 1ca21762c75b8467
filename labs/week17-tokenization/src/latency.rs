//! Where the time of a request goes on the local model (SmolLM2-135M): the prefill (one forward
//! pass over the whole prompt, which sets the time to the first token) and the decode (one pass
//! per new token), with and without the KV cache.

use crate::TokenError;
use serde::Serialize;
use std::time::Instant;
use wb_llm::{GenerateOptions, LocalModel};

/// The timings at one prompt length.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyPoint {
    /// Prompt tokens.
    pub context: usize,
    /// One forward pass over the prompt (the time to the first token).
    pub prefill_ms: f64,
    /// Each later token with the KV cache: a forward pass over that token alone.
    pub cached_ms_per_token: f64,
    /// Each token without the cache: a forward pass over the whole sequence again.
    pub uncached_ms_per_token: f64,
    /// Whether both generations gave the same tokens (they must: greedy decoding).
    pub same_tokens: bool,
}

// ANCHOR: measure
/// Measures prefill and decode at each prompt length in `contexts` (prompts are the first
/// tokens of `ids`), generating `new_tokens` greedily with and without the cache.
pub fn measure(
    model: &mut LocalModel,
    ids: &[u32],
    contexts: &[usize],
    new_tokens: usize,
) -> Result<Vec<LatencyPoint>, TokenError> {
    if new_tokens < 2 {
        return Err(TokenError::InvalidArgument {
            arg: "new_tokens".into(),
            detail: format!("{new_tokens}: at least 2 (the first comes from the prefill)"),
        });
    }
    if let Some(&bad) = contexts.iter().find(|&&c| c == 0 || c > ids.len()) {
        return Err(TokenError::InvalidArgument {
            arg: "contexts".into(),
            detail: format!("{bad}: expected 1 to {} (the tokens given)", ids.len()),
        });
    }
    let mut out = Vec::new();
    // BEGIN SOLUTION measure
    for &context in contexts {
        let prompt = &ids[..context];
        let opts = GenerateOptions {
            max_tokens: new_tokens,
            ..GenerateOptions::default()
        };
        let cached = model.generate_exactly(prompt, &opts)?;
        let start = Instant::now();
        let uncached = model.generate_uncached(prompt, new_tokens)?;
        let uncached_ms = start.elapsed().as_secs_f64() * 1e3;
        let n = cached.tokens.len().min(uncached.len());
        out.push(LatencyPoint {
            context,
            prefill_ms: cached.prefill_ms,
            cached_ms_per_token: cached.decode_ms / (cached.tokens.len() - 1) as f64,
            uncached_ms_per_token: uncached_ms / uncached.len().max(1) as f64,
            same_tokens: n > 0 && cached.tokens[..n] == uncached[..n],
        });
    }
    // END SOLUTION
    Ok(out)
}
// ANCHOR_END: measure

/// The least-squares line y ≈ a + b·x through the points: (a, b).
pub fn fit_line(points: &[(f64, f64)]) -> Result<(f64, f64), TokenError> {
    let n = points.len() as f64;
    if points.len() < 2
        || points
            .iter()
            .any(|(x, y)| !(x.is_finite() && y.is_finite()))
    {
        return Err(TokenError::InvalidArgument {
            arg: "points".into(),
            detail: format!("{} points: need at least 2, all finite", points.len()),
        });
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return Err(TokenError::InvalidArgument {
            arg: "points".into(),
            detail: "every x is the same: no slope".into(),
        });
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = sxy / sxx;
    Ok((my - b * mx, b))
}
