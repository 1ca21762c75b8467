//! Why RNNs struggle: how much the loss at the last step still depends on inputs far back.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

use crate::Result;
use crate::cells::{Cell, Weights, random_sequence, unroll};

// ANCHOR: grad_norms
/// `‖∂L/∂x_t‖` for every step `t` of a `[batch, time, input]` sequence, where
/// `L = Σ h_T ⊙ r` reads the last hidden state through fixed random weights `r`. Index `d` of the
/// result is the distance `T − 1 − t` between the input and the loss (0 = the last input).
pub fn input_gradient_norms(cell: Cell, xs: &Tensor, w: &Weights, r: &Tensor) -> Result<Vec<f64>> {
    let (_, time, _) = xs.dims3()?;
    // BEGIN SOLUTION grad_norms
    let x = Var::from_tensor(xs)?;
    let hs = unroll(cell, x.as_tensor(), w)?;
    let last = hs
        .last()
        .ok_or_else(|| candle_core::Error::Msg("empty sequence".into()))?;
    let loss = (last * r)?.sum_all()?;
    let grads = loss.backward()?;
    let g = grads
        .get(&x)
        .ok_or_else(|| candle_core::Error::Msg("no gradient reached the inputs".into()))?;
    let mut norms = Vec::with_capacity(time);
    for d in 0..time {
        let t = time - 1 - d;
        let gt = g.narrow(1, t, 1)?;
        norms.push(f64::from(gt.sqr()?.sum_all()?.to_scalar::<f32>()?).sqrt());
    }
    Ok(norms)
    // END SOLUTION
}
// ANCHOR_END: grad_norms

/// The mean of [`input_gradient_norms`] over `trials` random sequences and initialisations:
/// an untrained cell of `hidden` units, inputs of 8 features, `time` steps. `forget_bias`
/// (LSTM only) overrides the forget gate's initial bias.
pub fn mean_gradient_norms(
    cell: Cell,
    time: usize,
    hidden: usize,
    trials: u64,
    seed: u64,
    forget_bias: Option<f32>,
) -> Result<Vec<f64>> {
    let mut sum = vec![0.0; time];
    for k in 0..trials {
        let varmap = VarMap::new();
        let vb = wb_train::init::seeded(&varmap, seed + k, DType::F32, &Device::Cpu);
        let w = Weights::new(&vb.pp("cell"), 8, hidden, cell.gates())?;
        if let Some(b) = forget_bias {
            w.set_forget_bias(&varmap, "cell", b)?;
        }
        let xs = random_sequence(4, time, 8, seed + 100 + k)?;
        let r = random_sequence(4, 1, hidden, seed + 200 + k)?.squeeze(1)?;
        for (s, n) in sum.iter_mut().zip(input_gradient_norms(cell, &xs, &w, &r)?) {
            *s += n / trials as f64;
        }
    }
    Ok(sum)
}
