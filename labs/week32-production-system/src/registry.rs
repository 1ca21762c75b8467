//! The models the service serves: two versions of week 28's classifier in week 26's registry
//! (the production version and the one it replaced, so that there is something to roll back
//! to), loaded by version, and the model card written from what the registry records.

use crate::{ProdError, Result};
use std::fmt::Write as _;
use std::path::Path;
use week26_tracking_registry::Tracker;
use week26_tracking_registry::registry::{PRODUCTION, STAGING};
use week26_tracking_registry::sweep::Model;
use week28_cicd_canary::pipeline::{self, MODEL};

fn reg(e: impl std::fmt::Display) -> ProdError {
    ProdError::Registry(e.to_string())
}

/// The versions [`setup`] found or made: `current` (in production) and `previous` (the one it
/// replaced, what a rollback goes back to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Versions {
    pub previous: i64,
    pub current: i64,
}

/// Opens the registry in `dir` and, the first time (no version of the model yet), trains and
/// registers two versions with week 28's pipeline: the bootstrap model, then one trained for
/// more epochs under another seed, staged and promoted over it. Later openings change nothing.
pub fn setup(dir: &Path) -> Result<(Tracker, Versions)> {
    let mut t = Tracker::open(dir).map_err(reg)?;
    if t.versions(MODEL).map_err(reg)?.is_empty() {
        pipeline::bootstrap(&mut t).map_err(reg)?;
        let cfg = week26_tracking_registry::sweep::Config {
            epochs: 60,
            ..pipeline::production_config(7)
        };
        let data = pipeline::data(0.0, 7).map_err(reg)?;
        let candidate = pipeline::train(&mut t, &data, cfg).map_err(reg)?;
        let v = pipeline::register(&mut t, &candidate).map_err(reg)?;
        t.promote(
            MODEL,
            v,
            "week 32: a retrained model, promoted for the capstone",
        )
        .map_err(reg)?;
    }
    let current = t.resolve(MODEL, PRODUCTION).map_err(reg)?.version;
    let previous = t
        .alias_history(MODEL)
        .map_err(reg)?
        .iter()
        .rev()
        .find(|m| m.alias == PRODUCTION && m.kind == "promote" && m.to_version == current)
        .and_then(|m| m.from_version)
        .unwrap_or(current);
    Ok((t, Versions { previous, current }))
}

/// The model of `version` (its run's `model.json`).
pub fn load(t: &Tracker, version: i64) -> Result<Model> {
    let v = t.version(MODEL, version).map_err(reg)?;
    pipeline::load_model(t, &v.run_id).map_err(reg)
}

/// The last logged value of `key` in `run`, if any.
fn last_metric(t: &Tracker, run: &str, key: &str) -> Option<f64> {
    t.history(run, key).ok()?.last().map(|p| p.value)
}

// ANCHOR: card
/// The model card of the version in production, in Markdown, from the registry alone: what the
/// model is, where it came from (run, parameters, data hash, code version), how it scored, how
/// it got to production (the alias history), and what it must not be used for.
pub fn model_card(t: &Tracker) -> Result<String> {
    let prod = t.resolve(MODEL, PRODUCTION).map_err(reg)?;
    let lineage = t.lineage(MODEL, prod.version).map_err(reg)?;
    let run = &lineage.version.run_id;
    // BEGIN SOLUTION card
    let mut card = String::new();
    let w = &mut card;
    let _ = writeln!(w, "# Model card: {MODEL} version {}\n", prod.version);
    let _ = writeln!(w, "## Model\n");
    let _ = writeln!(
        w,
        "Logistic regression on 30 standardised measurements of a breast mass (the Wisconsin \
         diagnostic data set); answers P(malignant)."
    );
    let _ = writeln!(w, "\n## Lineage\n");
    let _ = writeln!(
        w,
        "- artifact: `{}`, SHA-256 `{}`",
        prod.artifact, prod.sha256
    );
    let _ = writeln!(
        w,
        "- run: `{run}` ({}, experiment `{}`)",
        lineage.run_name, lineage.experiment
    );
    let params: Vec<String> = lineage
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(w, "- parameters: {}", params.join(", "));
    let _ = writeln!(
        w,
        "- data SHA-256: `{}`",
        lineage.data_hash.as_deref().unwrap_or("not recorded")
    );
    let _ = writeln!(
        w,
        "- code version: `{}`",
        lineage.code_version.as_deref().unwrap_or("not recorded")
    );
    let _ = writeln!(w, "\n## Evaluation (validation rows, fixed split)\n");
    for key in ["valid_loss", "valid_accuracy"] {
        match last_metric(t, run, key) {
            Some(v) => {
                let _ = writeln!(w, "- {key}: {v:.4}");
            }
            None => {
                let _ = writeln!(w, "- {key}: not logged");
            }
        }
    }
    let _ = writeln!(w, "\n## How it reached production\n");
    for m in t.alias_history(MODEL).map_err(reg)? {
        if m.alias == PRODUCTION || m.alias == STAGING {
            let from = m.from_version.map_or("none".to_string(), |v| v.to_string());
            let _ = writeln!(
                w,
                "- {} `{}`: {from} → {} ({})",
                m.kind, m.alias, m.to_version, m.reason
            );
        }
    }
    let _ = writeln!(w, "\n## Intended use and limits\n");
    let _ = writeln!(
        w,
        "A teaching model. Not a medical device: never to be used for a diagnosis. Trained on \
         569 cases from one clinic; its probabilities are not calibrated for other populations."
    );
    Ok(card)
    // END SOLUTION
}
// ANCHOR_END: card
