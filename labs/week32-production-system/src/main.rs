//! Week 32: `cargo run -p week32-production-system` runs the capstone end to end on loopback: the
//! service started with its audit key from a file, one request traced, bad requests refused, a
//! load test, a rollback under load, the audit log verified and tampered with, the retention
//! job, the model card, the dependency audit and the manifests. `-- serve` runs the service for
//! real (what the container runs); `-- key`, `-- audit` and `-- advisories` are its tools.

mod commands;
mod demo;
mod plots;
mod report;

use clap::Parser;
use wb_lab::LabArgs;

/// Week 32: the production AI system — observability (OpenTelemetry-named spans, JSON logs by
/// request id with personal data redacted, Prometheus metrics), rollback through the registry
/// under load, security (API keys and scopes, secrets from the environment or mounted files,
/// input limits, a dependency audit) and compliance (a hash-chained audit log, retention, a
/// model card).
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    #[command(subcommand)]
    command: Option<commands::Command>,
    /// Requests of each load test
    #[arg(long, default_value_t = 4_000, value_parser = wb_lab::at_least_one)]
    requests: usize,
    /// Concurrent clients of each load test
    #[arg(long, default_value_t = 16, value_parser = wb_lab::at_least_one)]
    concurrency: usize,
    #[command(flatten)]
    lab: LabArgs,
}

// fn main: the report without a subcommand, a tool with one.
wb_lab::main!(
    "Week 32 — the production AI system: observability, rollback, security, compliance",
    demo::run,
    commands = commands::run
);
