//! Drawing the next token from a model's logits.

use wb_core::{MlError, Result};
use wb_data::SplitMix64;

/// Draws an index from `softmax(logits / temperature)` by inverting the cumulative distribution
/// with one uniform draw from `rng`. Temperature 0 means the most likely index (greedy); below 1
/// sharpens the distribution, above 1 flattens it.
pub fn sample(logits: &[f32], temperature: f64, rng: &mut SplitMix64) -> Result<usize> {
    if logits.is_empty() {
        return Err(MlError::Empty {
            arg: "logits".to_string(),
            detail: "nothing to sample from".to_string(),
        });
    }
    if !temperature.is_finite() || temperature < 0.0 {
        return Err(MlError::InvalidArgument {
            arg: "temperature".to_string(),
            detail: format!("expected a finite value >= 0, got {temperature}"),
        });
    }
    if let Some(i) = logits.iter().position(|l| !l.is_finite()) {
        return Err(MlError::NonFinite {
            arg: "logits".to_string(),
            index: i.to_string(),
            value: f64::from(logits[i]),
        });
    }
    let argmax = logits
        .iter()
        .enumerate()
        .fold(0, |b, (i, &l)| if l > logits[b] { i } else { b });
    if temperature == 0.0 {
        return Ok(argmax);
    }
    let top = f64::from(logits[argmax]);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&l| ((f64::from(l) - top) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.next_f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return Ok(i);
        }
        u -= w;
    }
    Ok(argmax)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_follow_the_tempered_softmax() {
        let logits = [0.0f32, 1.0, 2.0];
        let mut rng = SplitMix64::new(5);
        for t in [0.5, 1.0, 2.0] {
            let mut counts = [0usize; 3];
            for _ in 0..20_000 {
                counts[sample(&logits, t, &mut rng).unwrap()] += 1;
            }
            let z: f64 = logits.iter().map(|&l| (f64::from(l) / t).exp()).sum();
            for (i, &c) in counts.iter().enumerate() {
                let p = (f64::from(logits[i]) / t).exp() / z;
                assert!((c as f64 / 20_000.0 - p).abs() < 0.015, "t {t}, class {i}");
            }
        }
        assert_eq!(sample(&logits, 0.0, &mut rng).unwrap(), 2);
        assert!(sample(&[f32::NAN], 1.0, &mut rng).is_err());
        assert!(sample(&logits, -1.0, &mut rng).is_err());
    }
}
