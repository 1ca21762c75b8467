//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub schedules_max_abs_diff_vs_wb_train: f64,
    pub early_stopping_example: EarlyStopping,
    pub run: Run,
    pub resume: Resume,
    pub runs_dir: String,
    pub runs: Vec<TrackedRun>,
    pub matmul_gflops_cpu: Vec<Speed>,
    pub matmul_gflops_gpu: Vec<Speed>,
}

#[derive(Serialize)]
pub struct EarlyStopping {
    pub history: Vec<f64>,
    /// The epoch (0-based) after which training stops, if it does.
    pub stops_after_epoch: Option<usize>,
}

#[derive(Serialize)]
pub struct Run {
    pub epochs_run: usize,
    pub stopped_early: bool,
    pub steps: u64,
    pub valid_accuracy: Vec<f64>,
    pub test_accuracy: f64,
    pub last_lr: f64,
    pub seconds: f64,
}

#[derive(Serialize)]
pub struct Resume {
    pub interrupt_after: u64,
    pub stopped_after_steps: u64,
    pub resumed_at_step: Option<u64>,
    pub final_steps: u64,
    pub bit_identical: bool,
    pub max_abs_diff: f32,
}

#[derive(Serialize)]
pub struct TrackedRun {
    pub name: String,
    pub lr: f64,
    pub best_valid_accuracy: f64,
    /// 1-based.
    pub best_epoch: usize,
    pub epochs: usize,
}

#[derive(Serialize)]
pub struct Speed {
    pub n: usize,
    pub gflops: f64,
    /// Host → GPU → host copy of an n × n matrix (GPU only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_trip_ms: Option<f64>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "1. The parts from scratch against wb_train")?;
        writeln!(
            f,
            "   step, cosine and warm-up + cosine schedules at 1,011 steps each: largest difference {:.1e}",
            self.schedules_max_abs_diff_vs_wb_train
        )?;
        let early = &self.early_stopping_example;
        writeln!(
            f,
            "   early stopping, patience 3, min_delta 0.005, on validation accuracy {:?}: stops after epoch {}\n",
            early.history,
            early
                .stops_after_epoch
                .map_or("never".to_string(), |e| (e + 1).to_string())
        )?;
        let run = &self.run;
        writeln!(
            f,
            "2. MLP 784-256-10 on Fashion-MNIST (7,000 train, 1,000 validation), AdamW 2e-3, warm-up 100 + cosine, clip 1.0, patience 3 ({:.0} ms)",
            1000.0 * run.seconds
        )?;
        let per_epoch: Vec<String> = run
            .valid_accuracy
            .iter()
            .map(|a| format!("{:.1}%", 100.0 * a))
            .collect();
        writeln!(
            f,
            "   validation accuracy per epoch: {}",
            per_epoch.join(", ")
        )?;
        writeln!(
            f,
            "   {} epochs, {} steps{}; test accuracy {:.2}% on 2,000 images\n",
            run.epochs_run,
            run.steps,
            if run.stopped_early {
                ", stopped early"
            } else {
                ""
            },
            100.0 * run.test_accuracy
        )?;
        let r = &self.resume;
        writeln!(
            f,
            "3. The same run, interrupted after {} steps and resumed from its checkpoint in a fresh model",
            r.interrupt_after
        )?;
        writeln!(
            f,
            "   stopped at step {}, resumed at step {}, ended at step {}: weights bit-identical to the uninterrupted run: {} (largest difference {:e})\n",
            r.stopped_after_steps,
            r.resumed_at_step.unwrap_or(0),
            r.final_steps,
            if r.bit_identical { "yes" } else { "NO" },
            r.max_abs_diff
        )?;
        writeln!(
            f,
            "4. Experiment tracking: the runs under {}, ranked by their logs",
            self.runs_dir
        )?;
        writeln!(
            f,
            "   {:<10} {:>8} {:>8} {:>12} {:>16}",
            "run", "lr", "epochs", "best epoch", "best validation"
        )?;
        for r in &self.runs {
            writeln!(
                f,
                "   {:<10} {:>8} {:>8} {:>12} {:>15.2}%",
                r.name,
                r.lr,
                r.epochs,
                r.best_epoch,
                100.0 * r.best_valid_accuracy
            )?;
        }
        writeln!(
            f,
            "\n5. f32 matrix products on this machine (candle, median of repeats)"
        )?;
        for s in &self.matmul_gflops_cpu {
            writeln!(f, "   n = {:>5}: CPU {:>8.1} GFLOP/s", s.n, s.gflops)?;
        }
        if self.matmul_gflops_gpu.is_empty() {
            writeln!(
                f,
                "   (no GPU: build with --features cuda on a machine with an NVIDIA GPU to measure one)"
            )?;
        }
        for s in &self.matmul_gflops_gpu {
            writeln!(
                f,
                "   n = {:>5}: GPU {:>10.1} GFLOP/s, host → GPU → host copy {:.3} ms",
                s.n,
                s.gflops,
                s.round_trip_ms.unwrap_or(f64::NAN)
            )?;
        }
        Ok(())
    }
}
