//! Temperature: how adventurous a language model's sampling is.

use wb_core::MlError;
use wb_data::SplitMix64;

use crate::Result;

// ANCHOR: tempered
/// `softmax(logits / temperature)`: the probabilities the model's next-token distribution takes
/// at `temperature` (> 0). Below 1 it sharpens towards the most likely token; above 1 it
/// flattens towards uniform. Computed stably: subtract the largest logit before `exp`.
pub fn tempered_softmax(logits: &[f32], temperature: f64) -> Result<Vec<f64>> {
    if logits.is_empty() {
        return Err(MlError::Empty {
            arg: "logits".to_string(),
            detail: "nothing to sample from".to_string(),
        }
        .into());
    }
    if !temperature.is_finite() || temperature <= 0.0 {
        return Err(MlError::InvalidArgument {
            arg: "temperature".to_string(),
            detail: format!(
                "expected a finite value > 0, got {temperature} (use argmax for greedy decoding)"
            ),
        }
        .into());
    }
    if let Some(i) = logits.iter().position(|l| !l.is_finite()) {
        return Err(MlError::NonFinite {
            arg: "logits".to_string(),
            index: i.to_string(),
            value: f64::from(logits[i]),
        }
        .into());
    }
    // BEGIN SOLUTION tempered
    let top = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &l| m.max(f64::from(l)));
    let e: Vec<f64> = logits
        .iter()
        .map(|&l| ((f64::from(l) - top) / temperature).exp())
        .collect();
    let z: f64 = e.iter().sum();
    Ok(e.into_iter().map(|v| v / z).collect())
    // END SOLUTION
}
// ANCHOR_END: tempered

/// Draws an index from `probs` by inverting the cumulative distribution with one uniform draw.
pub fn draw(probs: &[f64], rng: &mut SplitMix64) -> usize {
    let mut u = rng.next_f64();
    for (i, &p) in probs.iter().enumerate() {
        if u < p {
            return i;
        }
        u -= p;
    }
    probs.len() - 1
}
