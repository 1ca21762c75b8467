//! Learning-rate schedules, from scratch: the rate of optimiser step `step` (0-based).
//!
//! The formulas are PyTorch's `StepLR` and `CosineAnnealingLR` (in closed form) and Hugging
//! Face's `get_cosine_schedule_with_warmup`; `wb_train::LrSchedule` implements the same, and the
//! grader compares the two.

// ANCHOR: schedules
/// `StepLR`: the rate is multiplied by `gamma` every `step_size` steps:
/// `lr · gamma^⌊step / step_size⌋`.
pub fn step_lr(lr: f64, step_size: usize, gamma: f64, step: usize) -> f64 {
    // BEGIN SOLUTION schedules
    lr * gamma.powi((step / step_size.max(1)) as i32)
    // END SOLUTION
}

/// Cosine annealing from `lr` at step 0 to `min_lr` at `total` (and after):
/// `min_lr + (lr − min_lr) · (1 + cos(π · step / total)) / 2`.
pub fn cosine_lr(lr: f64, min_lr: f64, total: usize, step: usize) -> f64 {
    // BEGIN SOLUTION schedules
    if step >= total {
        return min_lr;
    }
    let t = step as f64 / total as f64;
    min_lr + (lr - min_lr) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
    // END SOLUTION
}

/// Linear warm-up from 0 to `lr` over `warmup` steps, then cosine decay to 0 at `total`
/// (held at 0 after it).
pub fn warmup_cosine_lr(lr: f64, warmup: usize, total: usize, step: usize) -> f64 {
    // BEGIN SOLUTION schedules
    if step < warmup {
        return lr * step as f64 / warmup as f64;
    }
    if step >= total {
        return 0.0;
    }
    let progress = (step - warmup) as f64 / (total - warmup) as f64;
    lr * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
    // END SOLUTION
}
// ANCHOR_END: schedules
