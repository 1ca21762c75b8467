//! AdamW whose state can be saved and restored, for checkpoints that resume exactly.
//!
//! candle-nn's `AdamW` keeps its moments and step count private, so a run resumed from its
//! weights alone restarts the moments at zero and drifts from the uninterrupted run. This one
//! performs the very same arithmetic, in the same order (the tests check it bit for bit against
//! candle-nn's), and exposes its state.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use candle_nn::{Optimizer, ParamsAdamW};

#[derive(Debug)]
struct Slot {
    var: Var,
    m: Var,
    v: Var,
}

/// AdamW (Loshchilov and Hutter) with decoupled weight decay, as candle-nn computes it.
#[derive(Debug)]
pub struct ResumableAdamW {
    slots: Vec<Slot>,
    step_t: usize,
    params: ParamsAdamW,
}

/// What a checkpoint must hold besides the weights: the step count and, per variable in the
/// optimiser's order, the first and second moments.
#[derive(Debug, Clone)]
pub struct AdamWState {
    pub step_t: usize,
    pub moments: Vec<(Tensor, Tensor)>,
}

/// AdamW on the variables of `vars`, in their order, at learning rate `lr`, with candle-nn's
/// other defaults (β₁ 0.9, β₂ 0.999, ε 1e-8, weight decay 0.01): what every lab trains with.
pub fn adamw(vars: &crate::vars::NamedVars, lr: f64) -> Result<ResumableAdamW> {
    ResumableAdamW::new(
        vars.iter().map(|(_, v)| v.clone()).collect(),
        ParamsAdamW {
            lr,
            ..Default::default()
        },
    )
}

impl Optimizer for ResumableAdamW {
    type Config = ParamsAdamW;

    fn new(vars: Vec<Var>, params: ParamsAdamW) -> Result<Self> {
        let slots = vars
            .into_iter()
            .filter(|var| var.dtype().is_float())
            .map(|var| {
                let m = Var::zeros(var.shape(), var.dtype(), var.device())?;
                let v = Var::zeros(var.shape(), var.dtype(), var.device())?;
                Ok(Slot { var, m, v })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            slots,
            step_t: 0,
            params,
        })
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr;
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step_t += 1;
        let p = &self.params;
        let (lr, beta1, beta2) = (p.lr, p.beta1, p.beta2);
        let scale_m = 1f64 / (1f64 - beta1.powi(self.step_t as i32));
        let scale_v = 1f64 / (1f64 - beta2.powi(self.step_t as i32));
        for s in &self.slots {
            let Some(g) = grads.get(&s.var) else { continue };
            let next_m = ((s.m.as_tensor() * beta1)? + (g * (1.0 - beta1))?)?;
            let next_v = ((s.v.as_tensor() * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let m_hat = (&next_m * scale_m)?;
            let v_hat = (&next_v * scale_v)?;
            let decayed = (s.var.as_tensor() * (1f64 - lr * p.weight_decay))?;
            let adjusted = (m_hat / (v_hat.sqrt()? + p.eps)?)?;
            let next_theta = (decayed - (adjusted * lr)?)?;
            s.m.set(&next_m)?;
            s.v.set(&next_v)?;
            s.var.set(&next_theta)?;
        }
        Ok(())
    }
}

impl ResumableAdamW {
    /// A copy of the step count and moments, to save with the weights.
    pub fn state(&self) -> Result<AdamWState> {
        let moments = self
            .slots
            .iter()
            .map(|s| Ok((s.m.as_tensor().copy()?, s.v.as_tensor().copy()?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(AdamWState {
            step_t: self.step_t,
            moments,
        })
    }

    /// Restores a saved state; the moments must match the variables in number, shape and dtype.
    pub fn load_state(&mut self, state: &AdamWState) -> Result<()> {
        if state.moments.len() != self.slots.len() {
            candle_core::bail!(
                "optimiser state: expected moments for {} variables, got {}",
                self.slots.len(),
                state.moments.len()
            );
        }
        for (i, (s, (m, v))) in self.slots.iter().zip(&state.moments).enumerate() {
            for (name, t) in [("first", m), ("second", v)] {
                if t.shape() != s.var.shape() || t.dtype() != s.var.dtype() {
                    candle_core::bail!(
                        "optimiser state: the {name} moment of variable {i} has shape {:?} ({:?}), expected {:?} ({:?})",
                        t.dims(),
                        t.dtype(),
                        s.var.dims(),
                        s.var.dtype()
                    );
                }
            }
            s.m.set(m)?;
            s.v.set(v)?;
        }
        self.step_t = state.step_t;
        Ok(())
    }

    pub fn params(&self) -> &ParamsAdamW {
        &self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// A small least-squares problem: loss = mean((x w + b - y)^2).
    fn problem() -> Result<(Tensor, Tensor)> {
        let dev = Device::Cpu;
        let x = Tensor::arange(0f32, 24.0, &dev)?
            .reshape((8, 3))?
            .affine(0.1, -1.0)?;
        let y = Tensor::arange(0f32, 8.0, &dev)?
            .reshape((8, 1))?
            .affine(0.5, 0.25)?;
        Ok((x, y))
    }

    fn fresh_vars() -> Result<(Var, Var)> {
        let dev = Device::Cpu;
        let w = Var::from_tensor(&Tensor::new(&[[0.3f32], [-0.2], [0.1]], &dev)?)?;
        let b = Var::zeros((1, 1), DType::F32, &dev)?;
        Ok((w, b))
    }

    fn train<O: Optimizer>(opt: &mut O, w: &Var, b: &Var, steps: usize) -> Result<()> {
        let (x, y) = problem()?;
        for _ in 0..steps {
            let pred = x.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
            let loss = (pred - &y)?.sqr()?.mean_all()?;
            opt.backward_step(&loss)?;
        }
        Ok(())
    }

    fn values(v: &Var) -> Result<Vec<f32>> {
        v.as_tensor().flatten_all()?.to_vec1::<f32>()
    }

    fn params() -> ParamsAdamW {
        ParamsAdamW {
            lr: 0.05,
            weight_decay: 0.1,
            ..ParamsAdamW::default()
        }
    }

    #[test]
    fn equals_candle_nn_adamw_bit_for_bit() -> Result<()> {
        let (w1, b1) = fresh_vars()?;
        let mut ours = ResumableAdamW::new(vec![w1.clone(), b1.clone()], params())?;
        train(&mut ours, &w1, &b1, 7)?;
        let (w2, b2) = fresh_vars()?;
        let mut theirs = candle_nn::AdamW::new(vec![w2.clone(), b2.clone()], params())?;
        train(&mut theirs, &w2, &b2, 7)?;
        assert_eq!(values(&w1)?, values(&w2)?);
        assert_eq!(values(&b1)?, values(&b2)?);
        // And it moved: the check is not comparing two untouched starts.
        assert_ne!(values(&w1)?, vec![0.3, -0.2, 0.1]);
        Ok(())
    }

    #[test]
    fn resuming_from_saved_state_is_bit_identical() -> Result<()> {
        let (w, b) = fresh_vars()?;
        let mut straight = ResumableAdamW::new(vec![w.clone(), b.clone()], params())?;
        train(&mut straight, &w, &b, 6)?;

        let (w1, b1) = fresh_vars()?;
        let mut first = ResumableAdamW::new(vec![w1.clone(), b1.clone()], params())?;
        train(&mut first, &w1, &b1, 3)?;
        let saved = first.state()?;
        let (sw, sb) = (w1.as_tensor().copy()?, b1.as_tensor().copy()?);
        drop(first);

        // A new process: fresh variables set to the saved weights, a fresh optimiser.
        let w2 = Var::from_tensor(&sw)?;
        let b2 = Var::from_tensor(&sb)?;
        let mut resumed = ResumableAdamW::new(vec![w2.clone(), b2.clone()], params())?;
        resumed.load_state(&saved)?;
        train(&mut resumed, &w2, &b2, 3)?;
        assert_eq!(values(&w2)?, values(&w)?);
        assert_eq!(values(&b2)?, values(&b)?);

        // Without the optimiser state the resumed run drifts: what the state is for.
        let w3 = Var::from_tensor(&sw)?;
        let b3 = Var::from_tensor(&sb)?;
        let mut naive = ResumableAdamW::new(vec![w3.clone(), b3.clone()], params())?;
        train(&mut naive, &w3, &b3, 3)?;
        assert_ne!(values(&w3)?, values(&w)?);
        Ok(())
    }

    #[test]
    fn a_mismatched_state_is_refused() -> Result<()> {
        let (w, b) = fresh_vars()?;
        let mut opt = ResumableAdamW::new(vec![w, b], params())?;
        let bad = AdamWState {
            step_t: 1,
            moments: vec![],
        };
        let e = opt.load_state(&bad).unwrap_err().to_string();
        assert!(e.contains("expected moments for 2 variables, got 0"), "{e}");
        Ok(())
    }
}
