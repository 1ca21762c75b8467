//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;
use week28_cicd_canary::canary::{Policy, StepVerdict};
use week28_cicd_canary::pipeline::Noise;

/// A candidate through the gate.
#[derive(Debug, Clone, Serialize)]
pub struct GateRow {
    /// The share of training labels flipped (0: an honest retrain).
    pub plant: f64,
    pub seed: u64,
    pub loss: f64,
    pub accuracy: f64,
    /// The candidate's loss minus production's.
    pub delta: f64,
    pub passed: bool,
    pub run: String,
}

#[derive(Serialize)]
pub struct WorkflowStep {
    pub name: String,
    pub kind: String,
    /// Whether a lab command in the step parses (None: the step runs no lab command).
    pub lab_command: Option<bool>,
    pub condition: Option<String>,
}

/// Users in the canary at one weight, out of 100,000.
#[derive(Serialize)]
pub struct ShareRow {
    pub canary_bp: u64,
    pub canary_users: usize,
    pub expected: f64,
    pub sd: f64,
}

/// One scenario of the simulation study.
#[derive(Serialize)]
pub struct Scenario {
    /// "identical", "errors" (size: percentage points added) or "latency" (size: ms added).
    pub kind: String,
    pub size: f64,
    pub rollouts: usize,
    pub rolled_back: f64,
    pub at_first_step: usize,
    pub mean_canary_requests: f64,
}

/// One rollout over HTTP.
#[derive(Serialize)]
pub struct CanaryRun {
    pub name: String,
    pub promoted: bool,
    pub final_bp: u64,
    pub requests: u64,
    pub failed: u64,
    pub seconds: f64,
    pub verdicts: Vec<StepVerdict>,
}

#[derive(Serialize)]
pub struct Report {
    pub production_version: i64,
    pub noise: Noise,
    pub gates: Vec<GateRow>,
    pub staged_version: i64,
    pub production_after: i64,
    pub workflow: String,
    pub steps: Vec<WorkflowStep>,
    pub policy: Policy,
    pub shares: Vec<ShareRow>,
    pub scenarios: Vec<Scenario>,
    pub runs: Vec<CanaryRun>,
    #[serde(skip)]
    pub pipeline_ms: f64,
    #[serde(skip)]
    pub simulation_ms: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = &self.noise;
        writeln!(
            f,
            "The pipeline (a fresh store; production is version {}):",
            self.production_version
        )?;
        writeln!(
            f,
            "  noise: the production configuration under {} seeds, valid loss {:.4} ± {:.4} (min {:.4}, max {:.4}); the gate tolerates +{:.4}",
            n.losses.len(),
            n.mean,
            n.sd,
            n.losses.iter().copied().fold(f64::INFINITY, f64::min),
            n.losses.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n.threshold
        )?;
        writeln!(
            f,
            "  {:<28} {:>10} {:>10} {:>12}  gate",
            "candidate", "loss", "accuracy", "vs prod"
        )?;
        for g in &self.gates {
            let name = if g.plant == 0.0 {
                format!("retrain (seed {})", g.seed)
            } else {
                format!("{:.0} % of labels flipped", 100.0 * g.plant)
            };
            writeln!(
                f,
                "  {:<28} {:>10.4} {:>10.4} {:>+12.4}  {}",
                name,
                g.loss,
                g.accuracy,
                g.delta,
                if g.passed { "passed" } else { "FAILED" }
            )?;
        }
        writeln!(
            f,
            "  the retrain is registered as version {} and staged ({:.0} ms for the pipeline)",
            self.staged_version, self.pipeline_ms
        )?;
        writeln!(
            f,
            "\nThe workflow {:?}: {} steps",
            self.workflow,
            self.steps.len()
        )?;
        for s in &self.steps {
            let note = match s.lab_command {
                Some(true) => "a lab command, parsed by the lab's CLI",
                Some(false) => "a lab command the CLI REFUSES",
                None if s.kind == "uses" => "an action (GitHub only)",
                None => "a command",
            };
            let cond = s
                .condition
                .as_deref()
                .map(|c| format!(" [if: {c}]"))
                .unwrap_or_default();
            writeln!(f, "  {:<72} {note}{cond}", s.name)?;
        }
        writeln!(
            f,
            "\nThe split (SHA-256 of \"week28:user-N\", 100,000 users):"
        )?;
        for s in &self.shares {
            writeln!(
                f,
                "  {:>5.1} %: {} users in the canary (expected {:.0} ± {:.0})",
                s.canary_bp as f64 / 100.0,
                s.canary_users,
                s.expected,
                s.sd
            )?;
        }
        let p = &self.policy;
        writeln!(
            f,
            "\nRollouts simulated: steps 1 → 5 → 25 → 100 %, {} canary requests judged per step, one-sided tests at α = {} (errors: Fisher's exact test, margin {} points; latency: Mann–Whitney U, median margin {} ms); stable: 1 % errors, 20 ms median",
            p.min_canary_requests,
            p.alpha,
            100.0 * p.error_margin,
            p.latency_margin_ms
        )?;
        writeln!(
            f,
            "  {:<34} {:>9} {:>12} {:>13} {:>16}",
            "canary", "rollouts", "rolled back", "at 1 % step", "canary requests"
        )?;
        for s in &self.scenarios {
            let name = match s.kind.as_str() {
                "identical" => "identical to stable (noise only)".to_string(),
                "errors" => format!("+{:.1} points of errors", s.size),
                _ => format!("+{:.0} ms latency", s.size),
            };
            writeln!(
                f,
                "  {:<34} {:>9} {:>11.1} % {:>13} {:>16.0}",
                name,
                s.rollouts,
                100.0 * s.rolled_back,
                s.at_first_step,
                s.mean_canary_requests
            )?;
        }
        writeln!(f, "  (simulated in {:.1} s)", self.simulation_ms / 1e3)?;
        writeln!(
            f,
            "\nRollouts over HTTP (loopback: two model servers, the router, 16 clients):"
        )?;
        for r in &self.runs {
            let outcome = if r.promoted {
                "promoted to 100 %".to_string()
            } else {
                format!("ROLLED BACK to {} %", r.final_bp / 100)
            };
            writeln!(
                f,
                "  {}: {outcome} after {} requests ({} failed) in {:.1} s",
                r.name, r.requests, r.failed, r.seconds
            )?;
            for v in &r.verdicts {
                writeln!(
                    f,
                    "    at {:>4.1} %: errors {}/{} vs {}/{} (p = {:.3}), median {:.2} vs {:.2} ms (p = {:.3}){}",
                    v.canary_bp as f64 / 100.0,
                    v.canary.1,
                    v.canary.0,
                    v.stable.1,
                    v.stable.0,
                    v.errors.p_value,
                    v.canary_median_ms,
                    v.stable_median_ms,
                    v.latency.p_value,
                    v.rollback
                        .as_deref()
                        .map(|r| format!(" → roll back ({r})"))
                        .unwrap_or_default()
                )?;
            }
        }
        writeln!(
            f,
            "  production is now version {} (the healthy canary promoted through the registry)",
            self.production_after
        )
    }
}
