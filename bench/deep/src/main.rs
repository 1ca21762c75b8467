//! Times forward + backward of (1) one pre-LN transformer block (`wb_models::gpt::Block`:
//! batch 32, sequence 64, width 64, 4 heads, MLP 256, causal) and (2) one training step of week
//! 11's CNN (batch 64 of 28 × 28 images, cross-entropy), at fixed shapes and seeded inputs.
//! Prints JSON (median of repeats, after warm-ups); `bench/compare_deep.sh` runs the numpy
//! version of the same computations after it and prints the ratios.

use wb_core::lab::median_ms;

use anyhow::Result;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

fn main() -> Result<()> {
    let dev = Device::Cpu;
    // 1. A transformer block, loss = sum of its output.
    let varmap = VarMap::new();
    let vb = wb_train::init::seeded(&varmap, 1, DType::F32, &dev);
    let cfg = wb_models::GptConfig {
        vocab: 83,
        ctx: 64,
        d_model: 64,
        n_heads: 4,
        n_layers: 1,
        d_ff: 256,
    };
    let gpt = wb_models::Gpt::new(cfg, vb).map_err(|e| anyhow::anyhow!("{e}"))?;
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (32, 64, 64), &dev)?)?;
    let block_fwd = median_ms(3, 20, || -> Result<()> {
        let (y, _) = gpt.blocks[0].forward(x.as_tensor())?;
        y.sum_all()?.to_scalar::<f32>()?;
        Ok(())
    })?;
    let block_fwd_bwd = median_ms(3, 20, || -> Result<()> {
        let (y, _) = gpt.blocks[0].forward(x.as_tensor())?;
        let _grads = y.sum_all()?.backward()?;
        Ok(())
    })?;
    // 2. A CNN training step (forward, cross-entropy, backward; no optimiser update).
    let varmap = VarMap::new();
    let cnn = week11_cnn::model::Cnn::new(&varmap, 1, &dev)?;
    let images = Tensor::rand(0f32, 1.0, (64, 1, 28, 28), &dev)?;
    let labels = Tensor::from_vec((0..64u32).map(|i| i % 10).collect::<Vec<_>>(), 64, &dev)?;
    let cnn_fwd_bwd = median_ms(3, 20, || -> Result<()> {
        let loss = candle_nn::loss::cross_entropy(&cnn.forward(&images)?, &labels)?;
        let _grads = loss.backward()?;
        Ok(())
    })?;
    println!(
        "{}",
        serde_json::json!({
            "block_forward_ms": block_fwd,
            "block_forward_backward_ms": block_fwd_bwd,
            "cnn_step_ms": cnn_fwd_bwd,
        })
    );
    Ok(())
}
