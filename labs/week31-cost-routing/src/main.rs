//! Week 31: `cargo run -p week31-cost-routing` runs the whole lab: response caches on a replayed
//! trace, batching, a cascade from naive Bayes to SmolLM2 on real e-mails, routing by task and
//! requirement, a fallback chain through an outage, and each strategy's bill from week 24's
//! ledger.

mod demo;
mod plots;
mod report;

use clap::Parser;
use wb_lab::{LabArgs, at_least_one};

/// Week 31: Cost, routing and fallbacks — exact and semantic caches, a model cascade, routing by
/// task, cost and latency, fallback chains behind circuit breakers, and the bill.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    /// Requests in the replayed trace of support questions.
    #[arg(long, default_value_t = 400, value_parser = at_least_one)]
    trace: usize,
    /// Support questions SmolLM2 answers to price a cache miss.
    #[arg(long, default_value_t = 4, value_parser = at_least_one)]
    answers: usize,
    /// Spam and ham e-mails each in the task set.
    #[arg(long, default_value_t = 25, value_parser = at_least_one)]
    per_class: usize,
    /// Characters of each e-mail's body the classifiers see.
    #[arg(long, default_value_t = 200, value_parser = at_least_one)]
    body_chars: usize,
    /// Arithmetic questions in the task set.
    #[arg(long, default_value_t = 12, value_parser = at_least_one)]
    arithmetic: usize,
    #[command(flatten)]
    lab: LabArgs,
}

// fn main: parses Args and runs `demo::run` on the harness, under the package's name.
wb_lab::main!("Week 31 — Cost, routing and fallbacks", demo::run);
