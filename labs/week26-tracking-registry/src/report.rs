//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`),
//! and its plots, drawn from the store's metric histories.

use anyhow::Result;
use serde::Serialize;
use std::fmt;
use wb_lab::Lab;
use wb_plot::{LegendPosition, LinePlot, Series};
use week26_tracking_registry::registry::{AliasMove, Lineage};

#[derive(Serialize)]
pub struct Report {
    pub experiment: String,
    pub sweep: Vec<SweepRow>,
    /// The parameters that differ between the sweep's runs (`Tracker::compare`).
    pub differing: Vec<String>,
    pub best_tags: Vec<(String, String)>,
    /// The best run's name and its latest validation loss.
    pub best: (String, f64),
    pub imported: Vec<Imported>,
    pub week14_best: Option<(String, f64)>,
    pub refusals: Vec<Refusal>,
    pub store_unchanged_by_refusals: bool,
    pub tamper_found: usize,
    pub registry: RegistryReport,
    pub kills: Kills,
    pub speed: Speed,
    /// (experiments, runs, metric points, artifacts) in the store at the end.
    pub totals: (i64, i64, i64, i64),
    pub problems: usize,
}

#[derive(Serialize)]
pub struct SweepRow {
    pub run: String,
    pub name: String,
    pub train_loss: f64,
    pub valid_loss: f64,
    pub valid_accuracy: f64,
    pub best_epoch: i64,
    #[serde(skip)]
    pub curve: Vec<(f64, f64)>,
}

#[derive(Serialize)]
pub struct Imported {
    pub name: String,
    pub points: usize,
    pub epochs: usize,
    pub best_valid_accuracy: f64,
    #[serde(skip)]
    pub curve: Vec<(f64, f64)>,
}

#[derive(Serialize)]
pub struct Refusal {
    pub what: String,
    pub message: String,
}

#[derive(Serialize)]
pub struct RegistryReport {
    pub model: String,
    pub versions: usize,
    pub production: i64,
    pub rolled_back_to: i64,
    pub served_accuracy: f64,
    pub history: Vec<AliasMove>,
    pub lineage: Lineage,
    /// The name of the lineage's parent run.
    pub parent_name: Option<String>,
    pub audit_problems: usize,
}

#[derive(Serialize)]
pub struct Kills {
    pub kills: usize,
    /// Runs the writers said were finished before they died.
    pub reported: usize,
    /// Runs found finished and whole: every parameter, 20 steps of 3 metrics, the artifact.
    pub finished: usize,
    /// Runs found running (killed mid-run) with whole steps.
    pub unfinished: usize,
    pub half_written: usize,
    /// Reported runs missing or not finished.
    pub lost: usize,
    pub problems: usize,
    pub leftover_tmp: usize,
}

#[derive(Serialize)]
pub struct Speed {
    pub points: usize,
    pub batched_per_second: f64,
    pub singles: usize,
    pub single_per_second: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "1. A sweep tracked live: experiment {:?}, logistic regression on breast cancer, 30 epochs each",
            self.experiment
        )?;
        writeln!(
            f,
            "   {:<16} {:>10} {:>10} {:>9} {:>10}",
            "run", "train loss", "valid loss", "accuracy", "best epoch"
        )?;
        for r in &self.sweep {
            writeln!(
                f,
                "   {:<16} {:>10.4} {:>10.4} {:>9.4} {:>10}",
                r.name, r.train_loss, r.valid_loss, r.valid_accuracy, r.best_epoch
            )?;
        }
        writeln!(
            f,
            "   compared: the runs differ in {} (every other parameter equal)",
            self.differing.join(" and ")
        )?;
        let tags: Vec<String> = self
            .best_tags
            .iter()
            .map(|(k, v)| format!("{k} = {v:?}"))
            .collect();
        writeln!(
            f,
            "   best by latest valid_loss (one SQL query): {} ({:.4}), tagged {}",
            self.best.0,
            self.best.1,
            tags.join(", ")
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "2. Week 14's runs imported from their folders (config.json → parameters, metrics.jsonl → metrics)"
        )?;
        for i in &self.imported {
            writeln!(
                f,
                "   {:<8} {:>5} metric points, {:>2} epochs, best valid_accuracy {:.4}",
                i.name, i.points, i.epochs, i.best_valid_accuracy
            )?;
        }
        if let Some((name, v)) = &self.week14_best {
            writeln!(f, "   best by latest valid_accuracy: {name} ({v:.4})")?;
        }
        writeln!(f)?;
        writeln!(f, "3. Refused, with the store left as it was:")?;
        for r in &self.refusals {
            writeln!(f, "   {}: {}", r.what, r.message)?;
        }
        writeln!(
            f,
            "   store unchanged by the refusals: {}; the changed blob found by verify: {} problem(s)",
            if self.store_unchanged_by_refusals {
                "yes"
            } else {
                "NO"
            },
            self.tamper_found
        )?;
        writeln!(f)?;
        let g = &self.registry;
        writeln!(f, "4. The registry: {} ({} versions)", g.model, g.versions)?;
        for m in &g.history {
            let from = m.from_version.map_or("—".to_string(), |v| format!("v{v}"));
            writeln!(
                f,
                "   {:<10} {:<8} {:>2} → v{}  {}",
                m.alias, m.kind, from, m.to_version, m.reason
            )?;
        }
        writeln!(
            f,
            "   production now: v{} (the rollback returned v{}); the model it serves, read back by its hash, scores {:.4} on the validation rows",
            g.production, g.rolled_back_to, g.served_accuracy
        )?;
        let l = &g.lineage;
        writeln!(
            f,
            "   lineage of v{}: run \"{}\" of {:?}, a child of run \"{}\", data sha256 {}…, code {}",
            l.version.version,
            l.run_name,
            l.experiment,
            g.parent_name.as_deref().unwrap_or("none"),
            l.data_hash.as_deref().map_or("?", |h| &h[..12]),
            l.code_version.as_deref().unwrap_or("?")
        )?;
        let params: Vec<String> = l.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(f, "   its parameters: {}", params.join(", "))?;
        writeln!(
            f,
            "   the alias log replayed against the aliases: {} problem(s)",
            g.audit_problems
        )?;
        writeln!(f)?;
        let k = &self.kills;
        writeln!(
            f,
            "5. A writer SIGKILLed {} times mid-run (each run: its parameters, 20 steps × 3 metrics, a 64 KiB artifact):",
            k.kills
        )?;
        writeln!(
            f,
            "   runs reported finished {}, lost {}; found finished and whole {}, killed mid-run with whole steps {}, half-written {}",
            k.reported, k.lost, k.finished, k.unfinished, k.half_written
        )?;
        writeln!(
            f,
            "   integrity and artifact hashes: {} problem(s); temporary blobs left by the kills: {}",
            k.problems, k.leftover_tmp
        )?;
        writeln!(f)?;
        let s = &self.speed;
        writeln!(
            f,
            "6. Logging speed (synchronous = FULL): {} points in batches of 1,000: {:.0} points/s; {} points one transaction each: {:.0} points/s",
            s.points, s.batched_per_second, s.singles, s.single_per_second
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "The store: {} experiments, {} runs, {} metric points, {} artifacts; verify: {} problem(s)",
            self.totals.0, self.totals.1, self.totals.2, self.totals.3, self.problems
        )
    }
}

/// The sweep's validation loss by epoch, and week 14's validation accuracy by step.
pub fn plots(lab: &mut Lab, report: &Report) -> Result<()> {
    let mut sweep = LinePlot::new(
        "The sweep, read back from the store: validation loss by epoch",
        "epoch",
        "validation log loss",
    )
    .log_y(true)
    .y_range(0.08, 0.6)
    .legend(LegendPosition::UpperRight);
    for r in &report.sweep {
        sweep = sweep.series(Series::new(r.name.clone(), r.curve.clone()));
    }
    lab.saved(sweep.save(lab.plots_dir(), "sweep")?);
    let mut imported = LinePlot::new(
        "Week 14's runs, imported from their metrics logs",
        "training step",
        "validation accuracy",
    )
    .markers(true)
    .legend(LegendPosition::LowerRight);
    for i in &report.imported {
        imported = imported.series(Series::new(format!("week 14, {}", i.name), i.curve.clone()));
    }
    lab.saved(imported.save(lab.plots_dir(), "week14")?);
    Ok(())
}
