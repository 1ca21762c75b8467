//! Week 26: `cargo run -p week26-tracking-registry` runs the whole lab: a sweep tracked live,
//! week 14's runs imported, the best run registered, promoted and rolled back, the store's
//! refusals, a writer killed again and again, and the logging speed measured.
//! `-- track --help` and `-- registry --help` use the store for real.

mod commands;
mod demo;
mod report;

use clap::Parser;
use wb_lab::LabArgs;

/// Week 26: experiment tracking on SQLite and a model registry — runs, parameters, step-wise
/// metrics, tags and content-addressed artifacts that a killed process cannot corrupt; model
/// versions, aliases, lineage, promotion and rollback in one transaction each.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    #[command(subcommand)]
    command: Option<commands::Command>,
    /// Times the demo kills a writer mid-run
    #[arg(long, default_value_t = 12, value_parser = wb_lab::at_least_one)]
    kills: usize,
    /// Metric points logged in the speed measurement
    #[arg(long, default_value_t = 100_000, value_parser = wb_lab::at_least_one)]
    points: usize,
    #[command(flatten)]
    lab: LabArgs,
}

// fn main: the report without a subcommand, a tool with one.
wb_lab::main!(
    "Week 26 — experiment tracking and a model registry",
    demo::run,
    commands = commands::run
);
