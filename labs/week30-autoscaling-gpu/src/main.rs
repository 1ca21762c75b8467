//! Week 30: `cargo run -p week30-autoscaling-gpu` runs the whole lab: the simulator checked
//! against Erlang C, service times measured, a traffic day under six scaling policies, GPU jobs
//! packed whole and in MIG slices. `-- measure-llm` and `-- size` are its tools.

mod commands;
mod demo;
mod plots;
mod report;

use clap::Parser;
use wb_lab::LabArgs;

/// Week 30: Autoscaling inference and GPU scheduling — a discrete-event simulation of an
/// inference service (checked against M/M/c), the Kubernetes HPA's algorithm over a traffic day,
/// and jobs packed onto GPUs (first fit, best fit, exact, MIG).
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    #[command(subcommand)]
    command: Option<commands::Command>,
    #[command(flatten)]
    lab: LabArgs,
}

// fn main: the report without a subcommand, a tool with one.
wb_lab::main!(
    "Week 30 — Autoscaling inference and GPU scheduling",
    demo::run,
    commands = commands::run
);
