//! Week 28: `cargo run -p week28-cicd-canary` runs the whole lab: the training pipeline gated
//! against production (a retrain passes, planted bugs fail), the workflow checked, canary
//! rollouts simulated (false rollbacks and detection measured) and run over real HTTP.
//! `-- pipeline --help` and `-- ci` are the pipeline's steps, as the workflow calls them.

mod commands;
mod demo;
mod plots;
mod report;

use clap::Parser;
use wb_lab::LabArgs;

/// Week 28: CI/CD for ML and canary deployments — a pipeline that trains, evaluates against the
/// registry's production model and gates on a regression beyond the noise; a canary router with
/// a sticky hashed split, statistical analysis of errors and latency, progressive steps and
/// automatic rollback.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    #[command(subcommand)]
    command: Option<commands::Command>,
    /// Seeded rollouts per scenario in the simulation study
    #[arg(long, default_value_t = 200, value_parser = wb_lab::at_least_one)]
    rollouts: usize,
    #[command(flatten)]
    lab: LabArgs,
}

// fn main: the report without a subcommand, a tool with one.
wb_lab::main!(
    "Week 28 — CI/CD for ML and canary deployments",
    demo::run,
    commands = commands::run
);
