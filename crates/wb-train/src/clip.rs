//! Gradient clipping by global norm.

use wb_core::{MlError, Result};

/// Scales every gradient by `max_norm / (total_norm + 1e-6)` when that factor is below 1, where
/// `total_norm` is the L2 norm of all gradients taken together, exactly as PyTorch's
/// `torch.nn.utils.clip_grad_norm_` does. Returns `total_norm` before clipping (worth logging:
/// spikes announce divergence). Fails on a non-finite gradient, naming the tensor and element.
pub fn clip_grad_norm(grads: &mut [&mut [f32]], max_norm: f64) -> Result<f64> {
    if !max_norm.is_finite() || max_norm <= 0.0 {
        return Err(MlError::InvalidArgument {
            arg: "max_norm".to_string(),
            detail: format!("expected a finite norm > 0, got {max_norm}"),
        });
    }
    let mut sum_sq = 0.0f64;
    for (t, g) in grads.iter().enumerate() {
        for (i, &v) in g.iter().enumerate() {
            if !v.is_finite() {
                return Err(MlError::NonFinite {
                    arg: format!("grads[{t}]"),
                    index: i.to_string(),
                    value: f64::from(v),
                });
            }
            sum_sq += f64::from(v) * f64::from(v);
        }
    }
    let total = sum_sq.sqrt();
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut() {
            for v in g.iter_mut() {
                *v = (f64::from(*v) * coef) as f32;
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_3_4_5_triangle_is_scaled_to_the_max_norm() {
        let mut a = vec![3.0f32];
        let mut b = vec![0.0f32, 4.0];
        let total = clip_grad_norm(&mut [&mut a, &mut b], 1.0).unwrap();
        assert_eq!(total, 5.0);
        let coef = 1.0 / (5.0 + 1e-6);
        assert_eq!(a, [(3.0 * coef) as f32]);
        assert_eq!(b, [0.0, (4.0 * coef) as f32]);
    }

    #[test]
    fn small_gradients_are_left_alone() {
        let mut a = vec![0.3f32, -0.4];
        let total = clip_grad_norm(&mut [&mut a], 1.0).unwrap();
        assert!((total - 0.5).abs() < 1e-7);
        assert_eq!(a, [0.3, -0.4]);
    }

    #[test]
    fn a_nan_gradient_is_located() {
        let mut a = vec![1.0f32];
        let mut b = vec![0.0f32, f32::NAN];
        let e = clip_grad_norm(&mut [&mut a, &mut b], 1.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("grads[1]") && e.contains("index 1"), "{e}");
    }
}
