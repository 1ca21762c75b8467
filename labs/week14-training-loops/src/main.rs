//! Runs the week 14 lab end to end: `cargo run -p week14-training-loops -- --help`.

mod plots;
mod report;

use anyhow::{Context, Result};
use candle_core::Device;
use clap::Parser;
use report::*;
use std::path::{Path, PathBuf};
use wb_lab::{Lab, LabArgs};
use wb_train::LrSchedule;
use week14_training_loops::early::{Goal, stop_epoch};
use week14_training_loops::gflops::{matmul_gflops, round_trip_ms};
use week14_training_loops::mlp::{
    self, RunConfig, accuracy, train_interrupted, train_run, weights,
};
use week14_training_loops::schedules::{cosine_lr, step_lr, warmup_cosine_lr};
use week14_training_loops::tracking::compare_runs;

/// Week 14: the training loop's parts from scratch, an MLP on Fashion-MNIST trained with all of
/// them, a run interrupted and resumed bit for bit, three runs compared from their logs, and
/// matrix-product speed over sizes.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Args {
    /// Folder for the runs (config, metrics log, checkpoint of each) [default: PLOTS/runs]
    #[arg(long, value_name = "DIR")]
    runs: Option<PathBuf>,
    /// Largest matrix size of the GFLOP/s measurement (powers of two from 64)
    #[arg(long, default_value_t = 1024)]
    max_n: usize,
    #[command(flatten)]
    lab: LabArgs,
}

/// The runs this lab writes: the only folders it ever removes from its runs folder.
const RUN_NAMES: [&str; 4] = ["lr-2e-3", "interrupted", "lr-5e-4", "lr-1e-2"];

/// Makes `dir` ready for this lab's runs without ever deleting a learner's files: the folder
/// must be new, empty, or hold nothing but this lab's earlier runs, which are removed.
fn prepare_runs_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let listing =
            std::fs::read_dir(dir).with_context(|| format!("--runs {}", dir.display()))?;
        for entry in listing {
            let name = entry?.file_name();
            if !RUN_NAMES.iter().any(|r| name == *r) {
                anyhow::bail!(
                    "--runs {}: the folder holds {:?}, which this lab did not write; give a new or empty folder (the lab clears only its own runs: {})",
                    dir.display(),
                    name,
                    RUN_NAMES.join(", ")
                );
            }
        }
        for name in RUN_NAMES {
            let run = dir.join(name);
            if run.exists() {
                std::fs::remove_dir_all(&run)
                    .with_context(|| format!("clearing the earlier run {}", run.display()))?;
            }
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("--runs {}", dir.display()))?;
    Ok(())
}

wb_lab::main!(
    "Week 14 — training loops, experiment tracking, GPU vs CPU",
    run
);

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    let runs_dir = args
        .runs
        .clone()
        .unwrap_or_else(|| lab.plots_dir().join("runs"));
    prepare_runs_dir(&runs_dir)?;
    let show = lab.progress();

    // 1. The parts against wb_train. -------------------------------------------------------------
    let total = 1000;
    let sched = [
        ("step (×0.5 every 250)", LrSchedule::step(1e-3, 250, 0.5)?),
        ("cosine to 1e-5", LrSchedule::cosine(1e-3, 1e-5, total)?),
        (
            "warm-up 100 + cosine",
            LrSchedule::warmup_cosine(1e-3, 100, total)?,
        ),
    ];
    let ours = |k: usize, s: usize| match k {
        0 => step_lr(1e-3, 250, 0.5, s),
        1 => cosine_lr(1e-3, 1e-5, total, s),
        _ => warmup_cosine_lr(1e-3, 100, total, s),
    };
    let mut sched_gap = 0f64;
    for (k, (_, s)) in sched.iter().enumerate() {
        for step in 0..=total + 10 {
            sched_gap = sched_gap.max((ours(k, step) - s.lr_at(step)).abs());
        }
    }
    let history = [0.80, 0.84, 0.85, 0.851, 0.849, 0.85, 0.86];
    let ours_stop = stop_epoch(&history, Goal::Maximise, 3, 0.005);

    // 2. One run with the whole loop, 3. the same run interrupted and resumed. ----------------
    let data = mlp::load()?;
    let base = RunConfig::new("lr-2e-3");
    let (full, report) = train_run(&data, &base, &runs_dir.join(&base.name), show)?;
    let test_acc = accuracy(&full.model, &data.test)?;
    let stop_after = 250;
    let resumed_dir = runs_dir.join("interrupted");
    let (resumed, before, after) = train_interrupted(&data, &base, &resumed_dir, stop_after)?;
    let (wa, wb) = (weights(&full.vars)?, weights(&resumed.vars)?);
    let identical = wa == wb;
    let max_diff = wa
        .iter()
        .flatten()
        .zip(wb.iter().flatten())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    std::fs::remove_dir_all(&resumed_dir)?;

    // 4. Experiment tracking: two more runs, compared from their files. ---------------------------
    for (name, lr) in [("lr-5e-4", 5e-4), ("lr-1e-2", 1e-2)] {
        let cfg = RunConfig {
            name: name.to_string(),
            lr,
            ..base.clone()
        };
        train_run(&data, &cfg, &runs_dir.join(name), show)?;
    }
    let runs = compare_runs(&runs_dir)?;

    // 5. GPU vs CPU: matrix-product speed over sizes. ----------------------------------------------
    let mut sizes = vec![];
    let mut n = 64;
    while n <= args.max_n {
        sizes.push(n);
        n *= 2;
    }
    let cpu: Vec<Speed> = sizes
        .iter()
        .map(|&n| {
            let gflops = matmul_gflops(n, &Device::Cpu, if n <= 256 { 20 } else { 5 })?;
            Ok(Speed {
                n,
                gflops,
                round_trip_ms: None,
            })
        })
        .collect::<Result<_>>()?;
    let gpu_device = wb_train::device();
    let gpu: Vec<Speed> = if gpu_device.is_cuda() {
        sizes
            .iter()
            .map(|&n| {
                Ok(Speed {
                    n,
                    gflops: matmul_gflops(n, &gpu_device, 20)?,
                    round_trip_ms: Some(round_trip_ms(n, &gpu_device)?),
                })
            })
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };

    // 6. Plots: the schedules, the three runs, the matrix-product speed.
    plots::save(lab, &sched, total, &runs, &cpu, &gpu)?;

    lab.record_ms("first_run", 1000.0 * report.seconds);
    Ok(Report {
        schedules_max_abs_diff_vs_wb_train: sched_gap,
        early_stopping_example: EarlyStopping {
            history: history.to_vec(),
            stops_after_epoch: ours_stop,
        },
        run: Run {
            epochs_run: report.epochs.len(),
            stopped_early: report.stopped_early,
            steps: report.steps,
            valid_accuracy: report.history.clone(),
            test_accuracy: test_acc,
            last_lr: report.epochs.last().map_or(f64::NAN, |e| e.last_lr),
            seconds: report.seconds,
        },
        resume: Resume {
            interrupt_after: stop_after,
            stopped_after_steps: before.steps,
            resumed_at_step: after.resumed_at_step,
            final_steps: after.steps,
            bit_identical: identical,
            max_abs_diff: max_diff,
        },
        runs_dir: wb_lab::display_path(&runs_dir),
        runs: runs
            .iter()
            .map(|r| TrackedRun {
                name: r.config.name.clone(),
                lr: r.config.lr,
                best_valid_accuracy: r.best,
                best_epoch: r.best_epoch + 1,
                epochs: r.valid_accuracy.len(),
            })
            .collect(),
        matmul_gflops_cpu: cpu,
        matmul_gflops_gpu: gpu,
    })
}
