//! Gradient clipping by global norm, on candle's gradients.

use candle_core::backprop::GradStore;
use wb_core::MlError;

use crate::error::TrainResult;
use crate::vars::NamedVars;

/// Scales the gradients of `vars` in `grads` so that their global L2 norm is at most
/// `max_norm` (PyTorch's `clip_grad_norm_` rule, factor `max_norm / (norm + 1e-6)`); returns the
/// norm before clipping. A non-finite gradient is an error naming its variable.
pub fn clip_grads(grads: &mut GradStore, vars: &NamedVars, max_norm: f64) -> TrainResult<f64> {
    if !max_norm.is_finite() || max_norm <= 0.0 {
        return Err(MlError::InvalidArgument {
            arg: "max_norm".to_string(),
            detail: format!("expected a finite norm > 0, got {max_norm}"),
        }
        .into());
    }
    let mut sum_sq = 0.0f64;
    for (name, var) in vars {
        if let Some(g) = grads.get(var) {
            let s = f64::from(
                g.sqr()?
                    .sum_all()?
                    .to_dtype(candle_core::DType::F32)?
                    .to_scalar::<f32>()?,
            );
            if !s.is_finite() {
                return Err(
                    MlError::Diverged(format!("the gradient of `{name}` is not finite")).into(),
                );
            }
            sum_sq += s;
        }
    }
    let norm = sum_sq.sqrt();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for (_, var) in vars {
            if let Some(g) = grads.remove(var) {
                grads.insert(var, (g * coef)?);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor, Var};

    /// Two variables whose loss `Σ g·v` has gradient `g`: the gradients are chosen by hand.
    fn grads_of(values: &[&[f32]]) -> (GradStore, NamedVars) {
        let mut loss = Tensor::new(0f32, &Device::Cpu).unwrap();
        let mut vars = NamedVars::new();
        for (i, g) in values.iter().enumerate() {
            let v = Var::zeros(g.len(), candle_core::DType::F32, &Device::Cpu).unwrap();
            let g = Tensor::new(*g, &Device::Cpu).unwrap();
            loss = (loss + (v.as_tensor() * g).unwrap().sum_all().unwrap()).unwrap();
            vars.push((format!("w{i}"), v));
        }
        (loss.backward().unwrap(), vars)
    }

    fn values(grads: &GradStore, vars: &NamedVars, i: usize) -> Vec<f32> {
        grads.get(&vars[i].1).unwrap().to_vec1().unwrap()
    }

    #[test]
    fn a_3_4_5_triangle_is_scaled_to_the_max_norm() {
        let (mut grads, vars) = grads_of(&[&[3.0], &[0.0, 4.0]]);
        let total = clip_grads(&mut grads, &vars, 1.0).unwrap();
        assert_eq!(total, 5.0);
        let coef = 1.0 / (5.0 + 1e-6);
        assert_eq!(values(&grads, &vars, 0), [(3.0 * coef) as f32]);
        assert_eq!(values(&grads, &vars, 1), [0.0, (4.0 * coef) as f32]);
    }

    #[test]
    fn small_gradients_are_left_alone() {
        let (mut grads, vars) = grads_of(&[&[0.3, -0.4]]);
        let total = clip_grads(&mut grads, &vars, 1.0).unwrap();
        assert!((total - 0.5).abs() < 1e-7);
        assert_eq!(values(&grads, &vars, 0), [0.3, -0.4]);
    }

    #[test]
    fn a_nan_gradient_is_named_and_a_bad_limit_refused() {
        let (mut grads, vars) = grads_of(&[&[1.0], &[0.0, f32::NAN]]);
        let e = clip_grads(&mut grads, &vars, 1.0).unwrap_err().to_string();
        assert!(e.contains("`w1`") && e.contains("not finite"), "{e}");
        let (mut grads, vars) = grads_of(&[&[1.0]]);
        let e = clip_grads(&mut grads, &vars, 0.0).unwrap_err().to_string();
        assert!(e.contains("max_norm"), "{e}");
    }
}
