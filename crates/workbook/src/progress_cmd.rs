//! `workbook progress`: progress per phase.

use crate::lab::Lab;
use crate::progress::Progress;
use crate::repo::built_labs;
use crate::roadmap::{PlannedLab, roadmap};
use anyhow::Result;
use std::path::Path;

pub fn show_progress(root: &Path) -> Result<()> {
    let map = roadmap();
    let labs = built_labs(root)?;
    let progress = Progress::load(root)?;
    for phase in &map.phase {
        let planned: Vec<&PlannedLab> = map
            .lab
            .iter()
            .filter(|l| l.weeks[0] >= phase.weeks[0] && l.weeks[1] <= phase.weeks[1])
            .collect();
        let built: Vec<&Lab> = labs
            .iter()
            .filter(|l| l.meta.lab.phase == phase.number)
            .collect();
        let passing = built
            .iter()
            .filter(|l| {
                progress
                    .labs
                    .get(&l.week_id())
                    .and_then(|p| p.last_grade.as_ref())
                    // Only your work counts: a reference solution passes without you.
                    .is_some_and(|g| {
                        g.exercise_form && g.compiled && g.total > 0 && g.passed == g.total
                    })
            })
            .count();
        let (mut done, mut total) = (0, 0);
        for l in &built {
            if let Some(g) = progress
                .labs
                .get(&l.week_id())
                .and_then(|p| p.last_grade.as_ref())
                .filter(|g| g.exercise_form)
            {
                done += g.passed;
                total += g.total;
            }
        }
        let bar_len = 20;
        let filled = if planned.is_empty() {
            0
        } else {
            passing * bar_len / planned.len()
        };
        println!(
            "Phase {} {:<30} [{}{}] {passing}/{} labs done by you ({} built; {done}/{total} of your checks pass at last grading)",
            phase.number,
            phase.title,
            "#".repeat(filled),
            "·".repeat(bar_len - filled),
            planned.len(),
            built.len()
        );
    }
    Ok(())
}
