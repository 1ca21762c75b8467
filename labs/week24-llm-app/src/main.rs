//! Week 24: `cargo run -p week24-llm-app` runs the whole lab: SmolLM2 behind an API with keys,
//! rate limits, budgets and a usage ledger on SQLite, exercised on loopback — every refusal
//! (401, 403, 429, 402), metered answers (whole and streamed), hundreds of concurrent requests
//! at a nearly spent budget, the ledger audited, the limiter and the API's overhead measured.
//! `cargo run -p week24-llm-app -- serve` serves it for real.

mod commands;
mod demo;
mod report;

use clap::Parser;
use wb_lab::LabArgs;

/// Week 24: a full LLM API — SmolLM2 behind API keys, per-key rate limits, per-user budgets and
/// a usage ledger on SQLite, with streaming and OpenAPI.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    #[command(subcommand)]
    command: Option<commands::Command>,
    /// Concurrent requests fired at the nearly spent budget
    #[arg(long, default_value_t = 200, value_parser = wb_lab::at_least_one)]
    concurrent: usize,
    /// Requests timed each way (bare model, through the API) for the overhead
    #[arg(long, default_value_t = 12, value_parser = wb_lab::at_least_one)]
    overhead_requests: usize,
    #[command(flatten)]
    lab: LabArgs,
}

// fn main: the report without a subcommand, a tool with one.
wb_lab::main!(
    "Week 24 — a full LLM API: keys, rate limits, budgets and a usage ledger",
    demo::run,
    commands = commands::run
);
