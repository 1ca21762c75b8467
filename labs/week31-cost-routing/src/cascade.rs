//! A model cascade: the cheapest model answers first, and a request goes on to the next, dearer
//! one only when the answer's confidence is below that stage's threshold. The last stage always
//! answers. What it buys is measured, not assumed: each stage scores every item once, and any
//! set of thresholds is then replayed exactly.

use crate::classify::Scored;
use crate::week22::email::Label;
use anyhow::{Result, ensure};
use serde::Serialize;

/// One stage's answers on every item, with what each cost (nano-dollars) and took (ms).
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: String,
    pub scores: Vec<Scored>,
    pub cost: Vec<u64>,
    pub ms: Vec<f64>,
}

/// What a cascade did over the items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub items: usize,
    pub correct: usize,
    /// Nano-dollars paid: every stage a request passed through.
    pub cost: u64,
    /// Milliseconds of model time, summed.
    pub ms: f64,
    /// How many items each stage answered.
    pub answered: Vec<usize>,
}

impl Outcome {
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.items.max(1) as f64
    }
    /// Items that went past the first stage.
    pub fn escalated(&self) -> usize {
        self.items - self.answered.first().copied().unwrap_or(0)
    }
}

fn check(stages: &[Stage], thresholds: &[f64], gold: &[Label]) -> Result<()> {
    ensure!(!stages.is_empty(), "invalid `stages`: none given");
    ensure!(
        thresholds.len() + 1 == stages.len(),
        "invalid `thresholds`: {} stages need {} thresholds (the last stage always answers), got {}",
        stages.len(),
        stages.len() - 1,
        thresholds.len()
    );
    for (i, t) in thresholds.iter().enumerate() {
        ensure!(
            *t >= 0.0,
            "invalid `thresholds[{i}]`: a confidence ≥ 0 (above 1 sends every item on), got {t}"
        );
    }
    for s in stages {
        ensure!(
            s.scores.len() == gold.len() && s.cost.len() == gold.len() && s.ms.len() == gold.len(),
            "invalid `stages`: stage {:?} has {} scores, {} costs and {} times for {} items",
            s.name,
            s.scores.len(),
            s.cost.len(),
            s.ms.len(),
            gold.len()
        );
    }
    Ok(())
}

// ANCHOR: cascade
/// Runs each item through the stages in order: stage k answers when its confidence is at least
/// `thresholds[k]` (the last stage always answers); every stage the item reached is paid for.
pub fn cascade(stages: &[Stage], thresholds: &[f64], gold: &[Label]) -> Result<Outcome> {
    check(stages, thresholds, gold)?;
    let mut out = Outcome {
        items: gold.len(),
        correct: 0,
        cost: 0,
        ms: 0.0,
        answered: vec![0; stages.len()],
    };
    // BEGIN SOLUTION cascade
    for (i, &label) in gold.iter().enumerate() {
        for (k, s) in stages.iter().enumerate() {
            out.cost += s.cost[i];
            out.ms += s.ms[i];
            let last = k + 1 == stages.len();
            if last || s.scores[i].confidence() >= thresholds[k] {
                out.answered[k] += 1;
                if s.scores[i].label() == label {
                    out.correct += 1;
                }
                break;
            }
        }
    }
    // END SOLUTION
    Ok(out)
}
// ANCHOR_END: cascade

/// Thresholds for a two-stage cascade that send 0 %, …, 100 % of `first`'s items on (its
/// confidences, sorted, cut at each fraction): a threshold just above the k-th lowest
/// confidence escalates the k least confident items (fewer where confidences tie).
pub fn thresholds_for_fractions(first: &Stage, fractions: &[f64]) -> Result<Vec<f64>> {
    for (i, f) in fractions.iter().enumerate() {
        ensure!(
            (0.0..=1.0).contains(f),
            "invalid `fractions[{i}]`: a share between 0 and 1, got {f}"
        );
    }
    let mut conf: Vec<f64> = first.scores.iter().map(Scored::confidence).collect();
    conf.sort_by(f64::total_cmp);
    Ok(fractions
        .iter()
        .map(|&f| {
            let k = ((f * conf.len() as f64).round() as usize).min(conf.len());
            if k == 0 {
                0.0
            } else if k == conf.len() {
                f64::INFINITY
            } else {
                // Midway between the k-th lowest and the next: k items fall below.
                0.5 * (conf[k - 1] + conf[k])
            }
        })
        .collect())
}
