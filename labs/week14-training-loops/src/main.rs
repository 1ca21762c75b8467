//! Runs the week 14 lab end to end: `cargo run -p week14-training-loops -- --help`.

use anyhow::Result;
use candle_core::Device;
use clap::Parser;
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;
use wb_core::lab::elapsed_ms;
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
#[command(version)]
struct Args {
    /// Folder for the runs (config, metrics log, checkpoint of each) [default: PLOTS/runs]
    #[arg(long, value_name = "DIR")]
    runs: Option<PathBuf>,
    /// Folder for the plots (PNG and SVG)
    #[arg(
        long,
        value_name = "DIR",
        default_value = "output/week14-training-loops"
    )]
    plots: PathBuf,
    /// Largest matrix size of the GFLOP/s measurement (powers of two from 64)
    #[arg(long, default_value_t = 1024)]
    max_n: usize,
    /// Print the key results as one JSON object instead of the report
    #[arg(long)]
    json: bool,
    /// Also write the JSON results to FILE, and print the report as usual
    #[arg(long, value_name = "FILE", value_parser = wb_core::lab::writable_file)]
    json_out: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runs_dir = args.runs.clone().unwrap_or_else(|| args.plots.join("runs"));
    let t0 = Instant::now();
    let show = !args.json && std::io::stderr().is_terminal();

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
    let _ = std::fs::remove_dir_all(&runs_dir);
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
    let cpu: Vec<(usize, f64)> = sizes
        .iter()
        .map(|&n| {
            Ok((
                n,
                matmul_gflops(n, &Device::Cpu, if n <= 256 { 20 } else { 5 })?,
            ))
        })
        .collect::<Result<_>>()?;
    let gpu_device = wb_train::device();
    let gpu: Vec<(usize, f64, f64)> = if gpu_device.is_cuda() {
        sizes
            .iter()
            .map(|&n| {
                Ok((
                    n,
                    matmul_gflops(n, &gpu_device, 20)?,
                    round_trip_ms(n, &gpu_device)?,
                ))
            })
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };

    // 6. Plots. ----------------------------------------------------------------------------------
    let mut plots = Vec::new();
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
    plots.extend(
        sp.legend(LegendPosition::UpperRight)
            .save(&args.plots, "schedules")?,
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
    plots.extend(
        tp.legend(LegendPosition::LowerRight)
            .save(&args.plots, "runs")?,
    );
    let mut gp = LinePlot::new(
        "f32 matrix product speed on this machine's CPU (candle)",
        "matrix size n (n × n times n × n)",
        "GFLOP/s",
    )
    .series(Series::new(
        "CPU",
        cpu.iter().map(|&(n, g)| (n as f64, g)).collect(),
    ));
    if !gpu.is_empty() {
        gp = gp.series(Series::new(
            "GPU",
            gpu.iter().map(|&(n, g, _)| (n as f64, g)).collect(),
        ));
    }
    plots.extend(
        gp.markers(true)
            .legend(LegendPosition::LowerRight)
            .save(&args.plots, "gflops")?,
    );

    let lr_at_end = report.epochs.last().map(|e| e.last_lr).unwrap_or(f64::NAN);
    if args.json || args.json_out.is_some() {
        let out = json!({
            "lab": "week14-training-loops",
            "schedules_max_abs_diff_vs_wb_train": sched_gap,
            "early_stopping_example": {"history": history, "stops_after_epoch": ours_stop},
            "run": {"epochs_run": report.epochs.len(), "stopped_early": report.stopped_early, "steps": report.steps, "valid_accuracy": report.history, "test_accuracy": test_acc, "last_lr": lr_at_end},
            "resume": {"stopped_after_steps": before.steps, "resumed_at_step": after.resumed_at_step, "final_steps": after.steps, "bit_identical": identical, "max_abs_diff": max_diff},
            "runs": runs.iter().map(|r| json!({"name": r.config.name, "lr": r.config.lr, "best_valid_accuracy": r.best, "best_epoch": r.best_epoch + 1, "epochs": r.valid_accuracy.len()})).collect::<Vec<_>>(),
            "matmul_gflops_cpu": cpu.iter().map(|&(n, g)| json!({"n": n, "gflops": g})).collect::<Vec<_>>(),
            "matmul_gflops_gpu": gpu.iter().map(|&(n, g, ms)| json!({"n": n, "gflops": g, "round_trip_ms": ms})).collect::<Vec<_>>(),
            "timings_ms": {"total": elapsed_ms(t0), "first_run": 1000.0 * report.seconds},
            "plots": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&out)?;
        if wb_core::lab::emit_json(&text, args.json, args.json_out.as_deref())? {
            return Ok(());
        }
    }

    println!("Week 14 — training loops, experiment tracking, GPU vs CPU");
    println!("==========================================================\n");
    println!("1. The parts from scratch against wb_train");
    println!(
        "   step, cosine and warm-up + cosine schedules at 1,011 steps each: largest difference {sched_gap:.1e}"
    );
    println!(
        "   early stopping, patience 3, min_delta 0.005, on validation accuracy {history:?}: stops after epoch {}\n",
        ours_stop.map_or("never".to_string(), |e| (e + 1).to_string())
    );
    println!(
        "2. MLP 784-256-10 on Fashion-MNIST (7,000 train, 1,000 validation), AdamW 2e-3, warm-up 100 + cosine, clip 1.0, patience 3 ({:.0} ms)",
        1000.0 * report.seconds
    );
    println!(
        "   validation accuracy per epoch: {}",
        report
            .history
            .iter()
            .map(|a| format!("{:.1}%", 100.0 * a))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "   {} epochs, {} steps{}; test accuracy {:.2}% on 2,000 images\n",
        report.epochs.len(),
        report.steps,
        if report.stopped_early {
            ", stopped early"
        } else {
            ""
        },
        100.0 * test_acc
    );
    println!(
        "3. The same run, interrupted after {stop_after} steps and resumed from its checkpoint in a fresh model"
    );
    println!(
        "   stopped at step {}, resumed at step {}, ended at step {}: weights bit-identical to the uninterrupted run: {} (largest difference {max_diff:e})\n",
        before.steps,
        after.resumed_at_step.unwrap_or(0),
        after.steps,
        if identical { "yes" } else { "NO" }
    );
    println!(
        "4. Experiment tracking: the runs under {}, ranked by their logs",
        runs_dir.display()
    );
    println!(
        "   {:<10} {:>8} {:>8} {:>12} {:>16}",
        "run", "lr", "epochs", "best epoch", "best validation"
    );
    for r in &runs {
        println!(
            "   {:<10} {:>8} {:>8} {:>12} {:>15.2}%",
            r.config.name,
            r.config.lr,
            r.valid_accuracy.len(),
            r.best_epoch + 1,
            100.0 * r.best
        );
    }
    println!("\n5. f32 matrix products on this machine (candle, median of repeats)");
    for &(n, g) in &cpu {
        println!("   n = {n:>5}: CPU {g:>8.1} GFLOP/s");
    }
    if gpu.is_empty() {
        println!(
            "   (no GPU: build with --features cuda on a machine with an NVIDIA GPU to measure one)"
        );
    }
    for &(n, g, ms) in &gpu {
        println!("   n = {n:>5}: GPU {g:>10.1} GFLOP/s, host → GPU → host copy {ms:.3} ms");
    }
    println!("\nPlots:");
    for p in &plots {
        println!("   {}", p.display());
    }
    Ok(())
}
