//! The measurements behind week 11's "two choices made for speed": one CNN training step
//! (forward + backward of 64 images, no update) with candle's `conv2d` or the lab's tensor-level
//! im2col, in the textbook block order (conv → bias → ReLU → pool) or the lab's (conv → pool →
//! bias → ReLU); then each convolution layer alone. Medians of 25 after 3 warm-ups, two rounds.
//!
//! `cargo run --release -p bench-deep --example cnn_variants`

use wb_core::lab::median_ms;

use anyhow::Result;
use candle_core::{Device, Module, Tensor, Var};
use candle_nn::{Conv2d, VarMap};
use week11_cnn::conv::conv2d_unfold;

fn conv(layer: &Conv2d, x: &Tensor, candle: bool) -> Result<Tensor> {
    Ok(if candle {
        x.conv2d(layer.weight(), 1, 1, 1, 1)?
    } else {
        conv2d_unfold(x, layer.weight(), 1)?
    })
}

fn bias(layer: &Conv2d, y: &Tensor) -> Result<Tensor> {
    let b = layer.bias().ok_or_else(|| anyhow::anyhow!("no bias"))?;
    Ok(y.broadcast_add(&b.reshape((1, (), 1, 1))?)?)
}

fn main() -> Result<()> {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let cnn = week11_cnn::model::Cnn::new(&varmap, 1, &dev)?;
    let images = Tensor::rand(0f32, 1.0, (64, 1, 28, 28), &dev)?;
    let labels = Tensor::from_vec((0..64u32).map(|i| i % 10).collect::<Vec<_>>(), 64, &dev)?;
    let logits = |candle: bool, pool_first: bool| -> Result<Tensor> {
        let mut x = images.clone();
        for layer in [&cnn.conv1, &cnn.conv2] {
            let y = conv(layer, &x, candle)?;
            x = if pool_first {
                bias(layer, &y.max_pool2d(2)?)?.relu()?
            } else {
                bias(layer, &y)?.relu()?.max_pool2d(2)?
            };
        }
        let x = cnn.fc1.forward(&x.flatten_from(1)?)?.relu()?;
        Ok(cnn.fc2.forward(&x)?)
    };
    let gap = |a: &Tensor, b: &Tensor| -> Result<f32> {
        Ok((a - b)?.abs()?.max_all()?.to_scalar::<f32>()?)
    };
    let reference = logits(false, false)?;
    println!(
        "largest logit difference: pool first {:e}, candle's conv2d {:e}",
        gap(&reference, &logits(false, true)?)?,
        gap(&reference, &logits(true, false)?)?
    );
    let x2 = Var::from_tensor(&Tensor::randn(0f32, 1.0, (64, 32, 14, 14), &dev)?)?;
    for round in 1..=2 {
        for (candle, pool_first) in [(false, false), (false, true), (true, false), (true, true)] {
            let ms = median_ms(3, 25, || -> Result<()> {
                let loss = candle_nn::loss::cross_entropy(&logits(candle, pool_first)?, &labels)?;
                loss.backward()?;
                Ok(())
            })?;
            println!(
                "round {round}: step with {}, {}: {ms:.1} ms",
                if candle { "candle's conv2d" } else { "im2col" },
                if pool_first {
                    "conv → pool → bias → ReLU"
                } else {
                    "conv → bias → ReLU → pool"
                }
            );
        }
        for (name, x) in [("layer 1 (images)", &images), ("layer 2", x2.as_tensor())] {
            let layer = if name == "layer 2" {
                &cnn.conv2
            } else {
                &cnn.conv1
            };
            let c = median_ms(3, 25, || -> Result<()> {
                conv(layer, x, true)?.sum_all()?.backward()?;
                Ok(())
            })?;
            let u = median_ms(3, 25, || -> Result<()> {
                conv(layer, x, false)?.sum_all()?.backward()?;
                Ok(())
            })?;
            println!(
                "round {round}: {name} forward + backward: candle's conv2d {c:.1} ms, im2col {u:.1} ms"
            );
        }
    }
    Ok(())
}
