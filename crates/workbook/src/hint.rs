//! `workbook hint`: the next hint of an exercise.

use crate::lab::Lab;
use crate::progress::Progress;
use anyhow::{Context, Result};
use std::path::Path;

pub fn hint(root: &Path, lab: &Lab, exercise: Option<&str>) -> Result<()> {
    let mut progress = Progress::load(root)?;
    let ex = match exercise {
        Some(id) => lab.exercise(id).with_context(|| {
            let ids: Vec<&str> = lab.meta.exercise.iter().map(|e| e.id.as_str()).collect();
            format!(
                "{} has no exercise `{id}`; its exercises are: {}",
                lab.week_id(),
                ids.join(", ")
            )
        })?,
        None => {
            // The first exercise still short of its last hint.
            let shown = &progress.lab(&lab.week_id()).hints_shown;
            lab.meta
                .exercise
                .iter()
                .find(|e| shown.get(&e.id).copied().unwrap_or(0) < e.hints.len())
                .unwrap_or(&lab.meta.exercise[0])
        }
    };
    let entry = progress
        .lab(&lab.week_id())
        .hints_shown
        .entry(ex.id.clone())
        .or_insert(0);
    let level = (*entry + 1).min(ex.hints.len());
    *entry = level;
    println!(
        "{} · {} ({}) — hint {level} of {}:\n",
        lab.week_id(),
        ex.title,
        ex.file,
        ex.hints.len()
    );
    println!("  {}\n", ex.hints[level - 1]);
    if level < ex.hints.len() {
        println!("Run the same command again for the next hint.");
    } else {
        println!(
            "That was the last hint for `{}`. The chapter ({}) walks through it too.",
            ex.id, lab.meta.lab.chapter
        );
    }
    progress.save(root)
}
