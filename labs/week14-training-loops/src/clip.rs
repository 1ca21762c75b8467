//! Gradient clipping by global norm, from scratch, on candle's gradients.

use candle_core::backprop::GradStore;
use wb_core::MlError;
use wb_train::NamedVars;

use crate::Result;

// ANCHOR: clip
/// If the L2 norm of all gradients taken together exceeds `max_norm`, scales every gradient by
/// `max_norm / (norm + 1e-6)` (PyTorch's `clip_grad_norm_` rule); returns the norm before
/// clipping. The direction of the step is kept; only its length is capped.
pub fn clip_global_norm(grads: &mut GradStore, vars: &NamedVars, max_norm: f64) -> Result<f64> {
    if !max_norm.is_finite() || max_norm <= 0.0 {
        return Err(MlError::InvalidArgument {
            arg: "max_norm".to_string(),
            detail: format!("expected a finite norm > 0, got {max_norm}"),
        }
        .into());
    }
    // BEGIN SOLUTION clip
    let mut sum_sq = 0.0f64;
    for (_, var) in vars {
        if let Some(g) = grads.get(var) {
            sum_sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
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
    // END SOLUTION
}
// ANCHOR_END: clip
