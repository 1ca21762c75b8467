//! Runs the week 27 lab end to end: `cargo run -p week27-llm-monitoring -- --help`.

mod report;

use anyhow::Result;
use clap::Parser;
use report::Report;
use wb_lab::{Lab, LabArgs};

/// Week 27: Monitoring LLMs: drift, hallucination and quality metrics.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    lab: LabArgs,
}

// fn main: parses Args and runs `run` on the harness, under the package's name.
wb_lab::main!(
    "Week 27 — Monitoring LLMs: drift, hallucination and quality metrics",
    run
);

fn run(_args: &Args, lab: &mut Lab) -> Result<Report> {
    let mean = lab.timed("mean", || -> wb_core::Result<f64> {
        Ok(week27_llm_monitoring::quality::token_f1("a b", "a b c"))
    })?;
    Ok(Report {
        mean,
        mean_ms: lab.ms("mean"),
    })
}
