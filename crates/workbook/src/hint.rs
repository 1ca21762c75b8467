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
            // The first exercise not solved yet: its region still holds the todo!().
            let unsolved = lab
                .meta
                .exercise
                .iter()
                .find(|e| lab.exercise_has_todo(&e.id));
            match unsolved {
                Some(ex) => ex,
                None => {
                    println!(
                        "Every exercise of {} is filled in (no todo!() left): grade it with `cargo run -p workbook -- grade {}`, or name an exercise to see its hints.",
                        lab.week_id(),
                        lab.week_id()
                    );
                    return Ok(());
                }
            }
        }
    };
    let entry = progress
        .lab(&lab.week_id())
        .hints_shown
        .entry(ex.id.clone())
        .or_insert(0);
    // Hint 1 is the todo!() message in the code: the first `hint` shows hint 2.
    let level = (*entry + 1).max(2).min(ex.hints.len());
    *entry = level;
    println!(
        "{} · {} ({}) — hint {level} of {}:\n",
        lab.week_id(),
        ex.title,
        ex.file,
        ex.hints.len()
    );
    if level == 2 {
        println!("  (hint 1 is the todo!() in the code: {})\n", ex.hints[0]);
    }
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
