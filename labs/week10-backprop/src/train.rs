//! Training loops and the vanishing-gradient experiment.

use crate::net::{Act, Init, Net, backward};
use crate::optim::Optimizer;
use ndarray::{Array2, ArrayView2, Axis};
use wb_core::{MlError, Result, check_len};
use wb_data::SplitMix64;

/// Mini-batch training: each epoch shuffles the rows (seed + epoch), steps the optimiser once per
/// batch, and records the full training loss. With `progress`, a progress bar on stderr.
#[allow(clippy::too_many_arguments)]
pub fn train_epochs(
    net: &mut Net,
    opt: &mut dyn Optimizer,
    x: ArrayView2<f64>,
    y: &[usize],
    epochs: usize,
    batch: usize,
    seed: u64,
    progress: bool,
) -> Result<Vec<f64>> {
    check_len("y", y.len(), x.nrows(), "one label per row of x")?;
    let lr = opt.learning_rate();
    if !(lr.is_finite() && lr > 0.0) {
        return Err(MlError::InvalidArgument {
            arg: "learning rate".into(),
            detail: format!("must be a finite number > 0, got {lr}"),
        });
    }
    if batch == 0 || x.nrows() == 0 {
        return Err(MlError::Empty {
            arg: "batch".into(),
            detail: "no rows to train on".into(),
        });
    }
    let bar = if progress {
        indicatif::ProgressBar::new((epochs * x.nrows().div_ceil(batch)) as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches, {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_prefix("training");
    let mut losses = Vec::with_capacity(epochs);
    // The parameters as one vector, kept across batches: only the optimiser changes them, so
    // there is no need to flatten the network again before every step.
    let mut p = net.params();
    for epoch in 0..epochs {
        let order = wb_data::shuffled_indices(x.nrows(), seed.wrapping_add(epoch as u64));
        for chunk in order.chunks(batch) {
            let xb = x.select(Axis(0), chunk);
            let yb: Vec<usize> = chunk.iter().map(|&i| y[i]).collect();
            let (_, grads) = backward(net, xb.view(), &yb)?;
            opt.step(&mut p, &grads.flat());
            net.set_params(&p)?;
            bar.inc(1);
        }
        let loss = net.loss(x, y)?;
        bar.set_message(format!("epoch {} loss {loss:.4}", epoch + 1));
        losses.push(loss);
    }
    bar.finish_and_clear();
    Ok(losses)
}

// ANCHOR: vanishing
/// The gradient's size in every layer of a deep, narrow network at initialisation: the Frobenius
/// norm of ∂L/∂W_l for l = 1…depth, on a random batch (64 rows of standard normal inputs, random
/// labels among 10 classes).
pub fn layer_gradient_norms(
    act: Act,
    init: Init,
    depth: usize,
    width: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let mut sizes = vec![width; depth];
    sizes.push(10);
    let net = Net::new(&sizes, act, init, seed)?;
    let mut rng = SplitMix64::new(seed.wrapping_add(1));
    let x = Array2::from_shape_simple_fn((64, width), || {
        let (u1, u2) = (rng.next_f64(), rng.next_f64());
        (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    });
    let y: Vec<usize> = (0..64).map(|_| (rng.next_u64() % 10) as usize).collect();
    let (_, grads) = backward(&net, x.view(), &y)?;
    Ok(grads
        .w
        .iter()
        .map(|g| g.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect())
}
// ANCHOR_END: vanishing

/// digits: x [1797, 64] scaled to [0, 1], labels 0–9.
pub fn digits() -> anyhow::Result<(Array2<f64>, Vec<usize>)> {
    let t = wb_data::read_numeric_csv(&wb_data::dataset("tabular/digits.csv.gz")?)?;
    let (x, y, _) = t.split_target("label")?;
    Ok((x / 16.0, y.iter().map(|&v| v as usize).collect::<Vec<_>>()))
}

/// Accuracy of `net` on (x, y).
pub fn accuracy(net: &Net, x: ArrayView2<f64>, y: &[usize]) -> Result<f64> {
    let p = net.predict(x)?;
    Ok(p.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len().max(1) as f64)
}
