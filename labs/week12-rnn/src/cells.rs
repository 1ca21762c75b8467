//! The RNN and LSTM cells, one time step each, from tensor operations.
//!
//! Shapes: an input step `x` is `[batch, input]`, a hidden state `h` (and the LSTM's cell `c`)
//! is `[batch, hidden]`. The weights follow PyTorch's and candle-nn's layout and names, so that
//! the same numbers drive both: `w_ih` `[gates·hidden, input]`, `w_hh` `[gates·hidden, hidden]`,
//! biases `b_ih`, `b_hh` `[gates·hidden]`, with one gate for the RNN and four for the LSTM, in
//! the order input, forget, cell, output.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use wb_core::MlError;

use crate::Result;

/// The weights of one recurrent layer.
#[derive(Debug, Clone)]
pub struct Weights {
    pub w_ih: Tensor,
    pub w_hh: Tensor,
    pub b_ih: Tensor,
    pub b_hh: Tensor,
}

impl Weights {
    /// Creates (or fetches) the weights under candle-nn's names `weight_ih_l0`, `weight_hh_l0`,
    /// `bias_ih_l0`, `bias_hh_l0`, for `gates` gates: 1 for an RNN, 4 for an LSTM. Weights are
    /// uniform in ±1/√hidden, as PyTorch initialises `nn.RNN` and `nn.LSTM`.
    pub fn new(vb: &VarBuilder, input: usize, hidden: usize, gates: usize) -> Result<Self> {
        let b = 1.0 / (hidden as f64).sqrt();
        let init = candle_nn::Init::Uniform { lo: -b, up: b };
        Ok(Self {
            w_ih: vb.get_with_hints((gates * hidden, input), "weight_ih_l0", init)?,
            w_hh: vb.get_with_hints((gates * hidden, hidden), "weight_hh_l0", init)?,
            b_ih: vb.get_with_hints(gates * hidden, "bias_ih_l0", init)?,
            b_hh: vb.get_with_hints(gates * hidden, "bias_hh_l0", init)?,
        })
    }

    /// Sets an LSTM's forget-gate biases (rows hidden..2·hidden of `b_ih`; `b_hh`'s are zeroed)
    /// to `value`, in `varmap` where [`Weights::new`] created them under `prefix`. A bias of 1
    /// (Keras' `unit_forget_bias`, after Jozefowicz et al., 2015) starts the gate at σ(1) = 0.73
    /// instead of 0.5, so the cell forgets more slowly from the first step of training.
    pub fn set_forget_bias(
        &self,
        varmap: &candle_nn::VarMap,
        prefix: &str,
        value: f32,
    ) -> Result<()> {
        let (gh, _, hidden) = self.sizes()?;
        if gh != 4 * hidden {
            return Err(MlError::InvalidArgument {
                arg: "weights".to_string(),
                detail: "a forget gate exists only in an LSTM (4 gates)".to_string(),
            }
            .into());
        }
        let data = varmap.data().lock().unwrap_or_else(|p| p.into_inner());
        for (name, fill) in [("bias_ih_l0", value), ("bias_hh_l0", 0.0)] {
            let key = format!("{prefix}.{name}");
            let var = data.get(&key).ok_or_else(|| MlError::InvalidArgument {
                arg: "prefix".to_string(),
                detail: format!("no variable `{key}` in the VarMap"),
            })?;
            let mut b = var.as_tensor().to_vec1::<f32>()?;
            b[hidden..2 * hidden].fill(fill);
            var.set(&Tensor::from_vec(b, gh, var.device())?)?;
        }
        Ok(())
    }

    /// (gates · hidden, input, hidden)
    fn sizes(&self) -> Result<(usize, usize, usize)> {
        let (gh, input) = self.w_ih.dims2()?;
        let (gh2, hidden) = self.w_hh.dims2()?;
        if gh2 != gh || self.b_ih.dims() != [gh] || self.b_hh.dims() != [gh] {
            return Err(MlError::ShapeMismatch {
                arg: "weights".to_string(),
                expected: format!(
                    "w_hh [{gh}, hidden] and biases [{gh}], matching w_ih [{gh}, {input}]"
                ),
                got: format!(
                    "w_hh {:?}, b_ih {:?}, b_hh {:?}",
                    self.w_hh.dims(),
                    self.b_ih.dims(),
                    self.b_hh.dims()
                ),
            }
            .into());
        }
        Ok((gh, input, hidden))
    }
}

/// Checks that `x` is `[batch, input]` and `h` is `[batch, hidden]` for weights of `gates` gates.
fn check_step(x: &Tensor, h: &Tensor, w: &Weights, gates: usize) -> Result<()> {
    let (gh, input, hidden) = w.sizes()?;
    if gh != gates * hidden {
        return Err(MlError::ShapeMismatch {
            arg: "weights".to_string(),
            expected: format!(
                "{gates} gate(s) × hidden {hidden} = {} rows",
                gates * hidden
            ),
            got: format!("{gh} rows"),
        }
        .into());
    }
    let batch = match *x.dims() {
        [b, i] if i == input => b,
        _ => {
            return Err(MlError::ShapeMismatch {
                arg: "x".to_string(),
                expected: format!("[batch, {input}]"),
                got: format!("{:?}", x.dims()),
            }
            .into());
        }
    };
    if h.dims() != [batch, hidden] {
        return Err(MlError::ShapeMismatch {
            arg: "h".to_string(),
            expected: format!("[{batch}, {hidden}]"),
            got: format!("{:?}", h.dims()),
        }
        .into());
    }
    Ok(())
}

// ANCHOR: rnn_step
/// One step of the Elman RNN (PyTorch's `nn.RNN` with tanh):
/// `h' = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`.
pub fn rnn_step(x: &Tensor, h: &Tensor, w: &Weights) -> Result<Tensor> {
    check_step(x, h, w, 1)?;
    // BEGIN SOLUTION rnn_step
    let from_input = x.matmul(&w.w_ih.t()?)?.broadcast_add(&w.b_ih)?; // [batch, hidden]
    let from_state = h.matmul(&w.w_hh.t()?)?.broadcast_add(&w.b_hh)?; // [batch, hidden]
    Ok((from_input + from_state)?.tanh()?)
    // END SOLUTION
}
// ANCHOR_END: rnn_step

// ANCHOR: lstm_step
/// One step of the LSTM (Hochreiter and Schmidhuber, with the forget gate of Gers et al.):
///
/// ```text
/// z = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh          [batch, 4·hidden], split into four:
/// i = σ(z₀)  input gate     f = σ(z₁)  forget gate
/// g = tanh(z₂)  candidate   o = σ(z₃)  output gate
/// c' = f ⊙ c + i ⊙ g        h' = o ⊙ tanh(c')
/// ```
/// The cell `c` is updated by addition, not by a squashing matrix product: that is the path
/// along which gradients survive many steps.
pub fn lstm_step(x: &Tensor, h: &Tensor, c: &Tensor, w: &Weights) -> Result<(Tensor, Tensor)> {
    check_step(x, h, w, 4)?;
    if c.dims() != h.dims() {
        return Err(MlError::ShapeMismatch {
            arg: "c".to_string(),
            expected: format!("{:?}, as h", h.dims()),
            got: format!("{:?}", c.dims()),
        }
        .into());
    }
    // BEGIN SOLUTION lstm_step
    let z = (x.matmul(&w.w_ih.t()?)?.broadcast_add(&w.b_ih)?
        + h.matmul(&w.w_hh.t()?)?.broadcast_add(&w.b_hh)?)?;
    let gates = z.chunk(4, 1)?; // four [batch, hidden]
    let i = candle_nn::ops::sigmoid(&gates[0])?;
    let f = candle_nn::ops::sigmoid(&gates[1])?;
    let g = gates[2].tanh()?;
    let o = candle_nn::ops::sigmoid(&gates[3])?;
    let c_next = ((f * c)? + (i * g)?)?;
    let h_next = (o * c_next.tanh()?)?;
    Ok((h_next, c_next))
    // END SOLUTION
}
// ANCHOR_END: lstm_step

/// Which cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Rnn,
    Lstm,
}

impl Cell {
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Lstm => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cell::Rnn => "RNN",
            Cell::Lstm => "LSTM",
        }
    }
}

/// Runs a cell over a sequence `xs` `[batch, time, input]` from zero state and returns the
/// hidden state after every step, each `[batch, hidden]`.
pub fn unroll(cell: Cell, xs: &Tensor, w: &Weights) -> Result<Vec<Tensor>> {
    let (batch, time, _) = xs.dims3().map_err(|_| MlError::ShapeMismatch {
        arg: "xs".to_string(),
        expected: "[batch, time, input]".to_string(),
        got: format!("{:?}", xs.dims()),
    })?;
    let (_, _, hidden) = w.sizes()?;
    let mut h = Tensor::zeros((batch, hidden), DType::F32, xs.device())?;
    let mut c = h.clone();
    let mut out = Vec::with_capacity(time);
    for t in 0..time {
        let x = xs.narrow(1, t, 1)?.squeeze(1)?;
        match cell {
            Cell::Rnn => h = rnn_step(&x, &h, w)?,
            Cell::Lstm => (h, c) = lstm_step(&x, &h, &c, w)?,
        }
        out.push(h.clone());
    }
    Ok(out)
}

/// A `[batch, time, input]` tensor of uniform values in [−1, 1) from `seed`.
pub fn random_sequence(batch: usize, time: usize, input: usize, seed: u64) -> Result<Tensor> {
    let mut rng = wb_data::SplitMix64::new(seed);
    let v: Vec<f32> = (0..batch * time * input)
        .map(|_| rng.next_f64() as f32 * 2.0 - 1.0)
        .collect();
    Ok(Tensor::from_vec(v, (batch, time, input), &Device::Cpu)?)
}
