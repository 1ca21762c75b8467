//! Seeded initialisation: the same seed gives the same initial weights, on every machine.
//!
//! candle draws initial weights from an unseeded generator on the CPU (`Device::set_seed` is
//! refused there), so two runs of a lab would start from different weights. A [`seeded`]
//! `VarBuilder` creates each variable in a `VarMap` from candle-nn's own `Init` rules (the same
//! distributions and bounds) but draws from SplitMix64 seeded by the run's seed and the
//! variable's name, so the weights do not depend on the order in which layers are built.

use candle_core::{DType, Device, Result, Shape, Tensor, Var};
use candle_nn::init::NormalOrUniform;
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder, VarMap};
use wb_data::SplitMix64;

struct Seeded {
    varmap: VarMap,
    seed: u64,
}

/// FNV-1a of the name: a stable hash (std's hasher is allowed to change between releases).
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Draws `n` values of `init` for `shape` from `rng`, as candle-nn's `Init::var` defines them.
fn draw(init: Init, shape: &Shape, rng: &mut SplitMix64) -> Vec<f64> {
    let n = shape.elem_count();
    let normal = |rng: &mut SplitMix64, mean: f64, std: f64| {
        // Box–Muller; 1 − u keeps the logarithm's argument in (0, 1].
        let u1 = 1.0 - rng.next_f64();
        let u2 = rng.next_f64();
        mean + std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    match init {
        Init::Const(c) => vec![c; n],
        Init::Uniform { lo, up } => (0..n).map(|_| lo + (up - lo) * rng.next_f64()).collect(),
        Init::Randn { mean, stdev } => (0..n).map(|_| normal(rng, mean, stdev)).collect(),
        Init::Kaiming {
            dist,
            fan,
            non_linearity,
        } => {
            let std = non_linearity.gain() / (fan.for_shape(shape) as f64).sqrt();
            match dist {
                NormalOrUniform::Uniform => {
                    let b = 3f64.sqrt() * std;
                    (0..n).map(|_| -b + 2.0 * b * rng.next_f64()).collect()
                }
                NormalOrUniform::Normal => (0..n).map(|_| normal(rng, 0.0, std)).collect(),
            }
        }
    }
}

impl SimpleBackend for Seeded {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let mut data = self.varmap.data().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = data.get(name) {
            if v.shape() != &s {
                candle_core::bail!("shape mismatch on {name}: {s:?} <> {:?}", v.shape())
            }
            return Ok(v.as_tensor().clone());
        }
        let mut rng = SplitMix64::new(self.seed ^ name_hash(name));
        let values = draw(h, &s, &mut rng);
        let t = Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&t)?;
        data.insert(name.to_string(), var.clone());
        Ok(var.as_tensor().clone())
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        candle_core::bail!("`{name}`: a seeded VarBuilder creates variables, ask with a shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        let data = self.varmap.data().lock().unwrap_or_else(|p| p.into_inner());
        data.contains_key(name)
    }
}

/// A `VarBuilder` that creates the variables of `varmap` from `seed` (see the module docs).
/// Use it exactly like `VarBuilder::from_varmap`.
pub fn seeded(varmap: &VarMap, seed: u64, dtype: DType, device: &Device) -> VarBuilder<'static> {
    VarBuilder::from_backend(
        Box::new(Seeded {
            varmap: varmap.clone(),
            seed,
        }),
        dtype,
        device.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_weights_with_candles_distributions() {
        let build = |seed| {
            let vm = VarMap::new();
            let vb = seeded(&vm, seed, DType::F32, &Device::Cpu);
            let l = candle_nn::linear(400, 50, vb.pp("fc")).unwrap();
            let w = l.weight().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let b = l.bias().unwrap().to_vec1::<f32>().unwrap();
            (w, b)
        };
        let (a, bias) = build(1);
        assert_eq!(build(1).0, a);
        assert_ne!(build(2).0, a);
        // candle-nn's linear: weights Kaiming normal (fan-in 400, ReLU gain √2): variance 2/400;
        // bias uniform in ±1/√400.
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        let var = a.iter().map(|w| (w - mean) * (w - mean)).sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.002, "{mean}");
        assert!((var / 0.005 - 1.0).abs() < 0.05, "{var}");
        assert!(bias.iter().all(|b| b.abs() <= 0.05));
    }
}
