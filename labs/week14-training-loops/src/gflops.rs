//! How fast is a matrix product? GFLOP/s over sizes, on the CPU and, when built with the `cuda`
//! feature on a machine with an NVIDIA GPU, on the GPU.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use crate::Result;

/// Floating-point operations of an `n × n` by `n × n` product: n² dot products of n
/// multiply-adds each, 2n³.
pub fn matmul_flops(n: usize) -> f64 {
    2.0 * (n as f64).powi(3)
}

/// The median speed, in GFLOP/s, of `repeats` products of two `n × n` f32 matrices on `device`
/// (after one warm-up). On a GPU each product is followed by a synchronisation, so the time
/// covers the work and not only its launch.
pub fn matmul_gflops(n: usize, device: &Device, repeats: usize) -> Result<f64> {
    let a = Tensor::randn(0f32, 1.0, (n, n), device)?;
    let b = Tensor::randn(0f32, 1.0, (n, n), device)?;
    let _ = a.matmul(&b)?;
    device.synchronize()?;
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let c = a.matmul(&b)?;
        device.synchronize()?;
        times.push(t.elapsed().as_secs_f64());
        drop(c);
    }
    times.sort_by(f64::total_cmp);
    Ok(matmul_flops(n) / times[times.len() / 2] / 1e9)
}

/// The time, in milliseconds, to copy an `n × n` f32 matrix from the host to `device` and back.
pub fn round_trip_ms(n: usize, device: &Device) -> Result<f64> {
    let a = Tensor::zeros((n, n), DType::F32, &Device::Cpu)?;
    let t = Instant::now();
    let d = a.to_device(device)?;
    device.synchronize()?;
    let _back = d.to_device(&Device::Cpu)?;
    Ok(1e3 * t.elapsed().as_secs_f64())
}
