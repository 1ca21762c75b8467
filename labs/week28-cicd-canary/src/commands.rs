//! The pipeline's steps as commands (what the workflow calls), and `ci`, which runs the workflow
//! locally.

use anyhow::{Result, bail};
use clap::Subcommand;
use std::path::PathBuf;
use week26_tracking_registry::Tracker;
use week28_cicd_canary::pipeline::{self, Candidate, Gate, Noise};
use week28_cicd_canary::workflow;

/// The workflow file, relative to the workspace root.
pub const WORKFLOW: &str = "labs/week28-cicd-canary/workflows/ml-pipeline.yml";

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// One step of the training pipeline, on a tracking store
    Pipeline {
        /// The store (created if missing); each step leaves its result there as JSON
        #[arg(long, default_value = "output/week28-cicd-canary/ci-store")]
        store: PathBuf,
        #[command(subcommand)]
        step: Step,
    },
    /// Runs the workflow's steps here, in order, as a CI runner would
    Ci {
        #[arg(long, default_value = WORKFLOW)]
        workflow: PathBuf,
        /// Run as on the main branch (the register step too)
        #[arg(long)]
        main: bool,
        /// The share of training labels flipped in the candidate (a planted bug)
        #[arg(long, default_value_t = 0.0)]
        plant: f64,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum Step {
    /// Trains and registers a first production model if the store has none
    Bootstrap,
    /// Retrains the production configuration under `runs` seeds: the metric's noise
    Noise {
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Trains the candidate (with `plant` of its training labels flipped, to see the gate fail)
    Train {
        #[arg(long, default_value_t = 101)]
        seed: u64,
        #[arg(long, default_value_t = 0.0)]
        plant: f64,
    },
    /// Compares the candidate with production; fails on a regression beyond the noise
    Gate,
    /// Registers the candidate as the next version and stages it
    Register,
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Pipeline { store, step } => {
            let mut t = Tracker::open(&store)?;
            let file = |name: &str| store.join(name);
            match step {
                Step::Bootstrap => {
                    let v = pipeline::bootstrap(&mut t)?;
                    println!("production is version {v} of {}", pipeline::MODEL);
                }
                Step::Noise { runs } => {
                    let losses = (1..=runs as u64)
                        .map(|s| {
                            let c = pipeline::train(
                                &mut t,
                                &pipeline::data(0.0, s)?,
                                pipeline::production_config(s),
                            )?;
                            Ok(c.valid_loss)
                        })
                        .collect::<wb_core::Result<Vec<f64>>>()?;
                    let n = pipeline::noise(&losses)?;
                    pipeline::write_json(&file("noise.json"), &n)?;
                    println!(
                        "noise over {runs} seeds: loss {:.4} ± {:.4}; the gate tolerates {:.4}",
                        n.mean, n.sd, n.threshold
                    );
                }
                Step::Train { seed, plant } => {
                    let c = pipeline::train(
                        &mut t,
                        &pipeline::data(plant, seed)?,
                        pipeline::production_config(seed),
                    )?;
                    pipeline::write_json(&file("candidate.json"), &c)?;
                    println!(
                        "candidate run {}: valid loss {:.4}, accuracy {:.4}",
                        c.run, c.valid_loss, c.valid_accuracy
                    );
                }
                Step::Gate => {
                    let c: Candidate = pipeline::read_json(&file("candidate.json"))?;
                    let n: Noise = pipeline::read_json(&file("noise.json"))?;
                    let g: Gate = pipeline::gate(&t, &c, &n)?;
                    pipeline::write_json(&file("gate.json"), &g)?;
                    let delta = g.candidate_loss - g.production_loss;
                    if !g.passed {
                        bail!(
                            "gate failed: the candidate's loss {:.4} is worse than production v{}'s {:.4} by {delta:.4}, beyond the noise threshold {:.4}",
                            g.candidate_loss,
                            g.production_version,
                            g.production_loss,
                            g.threshold
                        );
                    }
                    println!(
                        "gate passed: candidate {:.4} against production v{} {:.4} (difference {delta:+.4}, threshold {:.4})",
                        g.candidate_loss, g.production_version, g.production_loss, g.threshold
                    );
                }
                Step::Register => {
                    let g: Gate = pipeline::read_json(&file("gate.json"))?;
                    if !g.passed {
                        bail!("the candidate did not pass the gate: nothing registered");
                    }
                    let c: Candidate = pipeline::read_json(&file("candidate.json"))?;
                    let v = pipeline::register(&mut t, &c)?;
                    println!(
                        "registered version {v} of {} and staged it",
                        pipeline::MODEL
                    );
                }
            }
            Ok(())
        }
        Command::Ci {
            workflow: path,
            main,
            plant,
        } => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let wf = workflow::parse(&text)?;
            let root = std::env::current_dir()?;
            println!(
                "running {} ({} steps) here, as on {}",
                wf.name,
                wf.steps.len(),
                if main { "main" } else { "a pull request" }
            );
            let (ok, ran) =
                workflow::run_locally(&wf, &root, main, &[("PLANT".into(), plant.to_string())])?;
            for r in &ran {
                println!("  {:<70} {} ({:.1} s)", r.name, r.outcome, r.seconds);
            }
            if !ok {
                bail!("the pipeline failed");
            }
            println!("the pipeline passed");
            Ok(())
        }
    }
}
