//! Runs the week 14 lab end to end: `cargo run -p week14-training-loops -- --help`.

use anyhow::{Context, Result};
use candle_core::Device;
use clap::Parser;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use wb_lab::{Lab, LabArgs};
use wb_plot::{LegendPosition, LinePlot, Series};
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

#[derive(Serialize)]
struct Report {
    schedules_max_abs_diff_vs_wb_train: f64,
    early_stopping_example: EarlyStopping,
    run: Run,
    resume: Resume,
    runs_dir: String,
    runs: Vec<TrackedRun>,
    matmul_gflops_cpu: Vec<Speed>,
    matmul_gflops_gpu: Vec<Speed>,
}

#[derive(Serialize)]
struct EarlyStopping {
    history: Vec<f64>,
    /// The epoch (0-based) after which training stops, if it does.
    stops_after_epoch: Option<usize>,
}

#[derive(Serialize)]
struct Run {
    epochs_run: usize,
    stopped_early: bool,
    steps: u64,
    valid_accuracy: Vec<f64>,
    test_accuracy: f64,
    last_lr: f64,
    seconds: f64,
}

#[derive(Serialize)]
struct Resume {
    interrupt_after: u64,
    stopped_after_steps: u64,
    resumed_at_step: Option<u64>,
    final_steps: u64,
    bit_identical: bool,
    max_abs_diff: f32,
}

#[derive(Serialize)]
struct TrackedRun {
    name: String,
    lr: f64,
    best_valid_accuracy: f64,
    /// 1-based.
    best_epoch: usize,
    epochs: usize,
}

#[derive(Serialize)]
struct Speed {
    n: usize,
    gflops: f64,
    /// Host → GPU → host copy of an n × n matrix (GPU only).
    #[serde(skip_serializing_if = "Option::is_none")]
    round_trip_ms: Option<f64>,
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

fn main() -> ExitCode {
    let args = Args::parse();
    wb_lab::run(
        "week14-training-loops",
        "Week 14 — training loops, experiment tracking, GPU vs CPU",
        &args.lab,
        |lab| run(&args, lab),
    )
}

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

    // 6. Plots. ----------------------------------------------------------------------------------
    let mut sp = LinePlot::new(
        "Learning-rate schedules over 1,000 steps (wb_train::LrSchedule)",
        "optimiser step",
        "learning rate",
    );
    for (name, s) in &sched {
        sp = sp.series(Series::new(
            *name,
            (0..=total)
                .step_by(5)
                .map(|t| (t as f64, s.lr_at(t)))
                .collect(),
        ));
    }
    lab.saved(
        sp.legend(LegendPosition::UpperRight)
            .save(lab.plots_dir(), "schedules")?,
    );
    let mut tp = LinePlot::new(
        "Three runs compared from their metrics logs",
        "epoch",
        "validation accuracy (%)",
    );
    for r in &runs {
        tp = tp.series(Series::new(
            format!("{} (best {:.1} %)", r.config.name, 100.0 * r.best),
            r.valid_accuracy
                .iter()
                .enumerate()
                .map(|(i, &a)| ((i + 1) as f64, 100.0 * a))
                .collect(),
        ));
    }
    lab.saved(
        tp.legend(LegendPosition::LowerRight)
            .save(lab.plots_dir(), "runs")?,
    );
    let mut gp = LinePlot::new(
        "f32 matrix product speed on this machine's CPU (candle)",
        "matrix size n (n × n times n × n)",
        "GFLOP/s",
    )
    .series(Series::new(
        "CPU",
        cpu.iter().map(|s| (s.n as f64, s.gflops)).collect(),
    ));
    if !gpu.is_empty() {
        gp = gp.series(Series::new(
            "GPU",
            gpu.iter().map(|s| (s.n as f64, s.gflops)).collect(),
        ));
    }
    lab.saved(
        gp.markers(true)
            .legend(LegendPosition::LowerRight)
            .save(lab.plots_dir(), "gflops")?,
    );

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
