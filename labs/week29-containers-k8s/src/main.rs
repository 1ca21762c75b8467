//! Week 29: `cargo run -p week29-containers-k8s` runs the whole lab: the Containerfiles linted
//! and the images' measurements shown, the manifests rendered and checked, breaks planted and
//! found, the probes run against the real service. `-- render`, `-- lint`, `-- containerfile`
//! and `-- plant` are the tools one by one.

mod commands;
mod demo;
mod plots;
mod report;

use clap::Parser;
use wb_lab::LabArgs;

/// Week 29: Containers and Kubernetes for ML — images built three ways and measured, and the
/// scorer's Deployment, Service, HPA, PodDisruptionBudget and ConfigMap from Rust types, as a
/// kustomize base with dev and prod overlays, checked for what a schema cannot see.
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
    "Week 29 — Containers and Kubernetes for ML",
    demo::run,
    commands = commands::run
);
