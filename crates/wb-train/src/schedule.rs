//! Learning-rate schedules: the learning rate as a function of the optimiser step (0-based).

use wb_core::{MlError, Result};

/// A learning-rate schedule. Build one with the constructors, which check their arguments, then
/// ask [`LrSchedule::lr_at`] for the rate of each optimiser step.
#[derive(Debug, Clone, PartialEq)]
pub enum LrSchedule {
    /// The same rate at every step.
    Constant { lr: f64 },
    /// PyTorch's `StepLR`: `lr * gamma^(step / step_size)` (integer division).
    Step {
        lr: f64,
        step_size: usize,
        gamma: f64,
    },
    /// PyTorch's `CosineAnnealingLR` in closed form: from `lr` at step 0 down to `min_lr` at
    /// `total_steps`, along half a cosine; `min_lr` after that.
    Cosine {
        lr: f64,
        min_lr: f64,
        total_steps: usize,
    },
    /// Linear warm-up then cosine decay to 0, as Hugging Face's
    /// `get_cosine_schedule_with_warmup`: `lr * step / warmup_steps` during the warm-up, then
    /// `lr * (1 + cos(pi * progress)) / 2` with `progress = (step - warmup) / (total - warmup)`.
    /// Held at 0 after `total_steps` (Hugging Face's formula would climb again there).
    WarmupCosine {
        lr: f64,
        warmup_steps: usize,
        total_steps: usize,
    },
    /// Linear warm-up then constant, as Hugging Face's `get_constant_schedule_with_warmup`.
    WarmupConstant { lr: f64, warmup_steps: usize },
}

fn check_lr(arg: &str, lr: f64) -> Result<()> {
    if !lr.is_finite() || lr < 0.0 {
        return Err(MlError::InvalidArgument {
            arg: arg.to_string(),
            detail: format!("expected a finite learning rate >= 0, got {lr}"),
        });
    }
    Ok(())
}

fn check_positive(arg: &str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(MlError::InvalidArgument {
            arg: arg.to_string(),
            detail: "expected at least 1 step, got 0".to_string(),
        });
    }
    Ok(())
}

impl LrSchedule {
    pub fn constant(lr: f64) -> Result<Self> {
        check_lr("lr", lr)?;
        Ok(Self::Constant { lr })
    }

    pub fn step(lr: f64, step_size: usize, gamma: f64) -> Result<Self> {
        check_lr("lr", lr)?;
        check_positive("step_size", step_size)?;
        if !gamma.is_finite() || gamma <= 0.0 {
            return Err(MlError::InvalidArgument {
                arg: "gamma".to_string(),
                detail: format!("expected a finite factor > 0, got {gamma}"),
            });
        }
        Ok(Self::Step {
            lr,
            step_size,
            gamma,
        })
    }

    pub fn cosine(lr: f64, min_lr: f64, total_steps: usize) -> Result<Self> {
        check_lr("lr", lr)?;
        check_lr("min_lr", min_lr)?;
        check_positive("total_steps", total_steps)?;
        Ok(Self::Cosine {
            lr,
            min_lr,
            total_steps,
        })
    }

    pub fn warmup_cosine(lr: f64, warmup_steps: usize, total_steps: usize) -> Result<Self> {
        check_lr("lr", lr)?;
        check_positive("total_steps", total_steps)?;
        if warmup_steps >= total_steps {
            return Err(MlError::InvalidArgument {
                arg: "warmup_steps".to_string(),
                detail: format!(
                    "expected fewer warm-up steps than total_steps ({total_steps}), got {warmup_steps}"
                ),
            });
        }
        Ok(Self::WarmupCosine {
            lr,
            warmup_steps,
            total_steps,
        })
    }

    pub fn warmup_constant(lr: f64, warmup_steps: usize) -> Result<Self> {
        check_lr("lr", lr)?;
        Ok(Self::WarmupConstant { lr, warmup_steps })
    }

    /// The learning rate for optimiser step `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f64 {
        use std::f64::consts::PI;
        let warm = |lr: f64, warmup: usize| lr * step as f64 / warmup as f64;
        match *self {
            Self::Constant { lr } => lr,
            Self::Step {
                lr,
                step_size,
                gamma,
            } => lr * gamma.powi((step / step_size) as i32),
            Self::Cosine {
                lr,
                min_lr,
                total_steps,
            } => {
                if step >= total_steps {
                    min_lr
                } else {
                    let t = step as f64 / total_steps as f64;
                    min_lr + (lr - min_lr) * (1.0 + (PI * t).cos()) / 2.0
                }
            }
            Self::WarmupCosine {
                lr,
                warmup_steps,
                total_steps,
            } => {
                if step < warmup_steps {
                    warm(lr, warmup_steps)
                } else {
                    let progress = ((step - warmup_steps) as f64
                        / (total_steps - warmup_steps) as f64)
                        .min(1.0);
                    lr * (1.0 + (PI * progress).cos()) / 2.0
                }
            }
            Self::WarmupConstant { lr, warmup_steps } => {
                if step < warmup_steps {
                    warm(lr, warmup_steps)
                } else {
                    lr
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn step_halves_every_step_size_steps() {
        let s = LrSchedule::step(0.1, 3, 0.5).unwrap();
        let got: Vec<f64> = (0..7).map(|t| s.lr_at(t)).collect();
        let want = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025];
        assert!(got.iter().zip(want).all(|(g, w)| close(*g, w)), "{got:?}");
    }

    #[test]
    fn cosine_hits_its_hand_worked_points() {
        let s = LrSchedule::cosine(1.0, 0.1, 100).unwrap();
        assert!(close(s.lr_at(0), 1.0));
        // Halfway: cos(pi/2) = 0, so the mean of lr and min_lr.
        assert!(close(s.lr_at(50), 0.55));
        // A quarter of the way: (1 + cos(pi/4)) / 2 = 0.853553…
        assert!(close(s.lr_at(25), 0.1 + 0.9 * (1.0 + 0.5f64.sqrt()) / 2.0));
        assert!(close(s.lr_at(100), 0.1));
        assert!(close(s.lr_at(1000), 0.1));
    }

    #[test]
    fn warmup_rises_linearly_then_decays() {
        let s = LrSchedule::warmup_cosine(2.0, 10, 110).unwrap();
        assert_eq!(s.lr_at(0), 0.0);
        assert!(close(s.lr_at(5), 1.0));
        assert!(close(s.lr_at(10), 2.0));
        assert!(close(s.lr_at(60), 1.0)); // halfway through the decay
        assert!(close(s.lr_at(110), 0.0));
        let c = LrSchedule::warmup_constant(0.3, 4).unwrap();
        let got: Vec<f64> = (0..6).map(|t| c.lr_at(t)).collect();
        let want = [0.0, 0.075, 0.15, 0.225, 0.3, 0.3];
        assert!(got.iter().zip(want).all(|(g, w)| close(*g, w)), "{got:?}");
    }

    #[test]
    fn bad_arguments_are_named() {
        let e = LrSchedule::step(0.1, 0, 0.5).unwrap_err().to_string();
        assert!(e.contains("step_size"), "{e}");
        let e = LrSchedule::cosine(f64::NAN, 0.0, 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`lr`"), "{e}");
        let e = LrSchedule::warmup_cosine(0.1, 10, 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("warmup_steps"), "{e}");
    }
}
