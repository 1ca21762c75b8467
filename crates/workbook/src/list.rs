//! `workbook list`: the 52-week map with each lab's status.

use crate::lab::Lab;
use crate::progress::Progress;
use crate::repo::{built_labs, in_exercise_form};
use crate::roadmap::roadmap;
use anyhow::Result;
use std::path::Path;

pub fn status(root: &Path, lab: &Lab, progress: &Progress) -> String {
    let form = if in_exercise_form(root, lab) {
        "exercise"
    } else {
        "reference"
    };
    match progress
        .labs
        .get(&lab.week_id())
        .and_then(|p| p.last_grade.as_ref())
    {
        None => format!("{form}, not graded yet"),
        Some(g) if !g.compiled => format!("{form}, failing (does not compile)"),
        Some(g) if g.total > 0 && g.passed == g.total => {
            format!("{form}, passing ({}/{})", g.passed, g.total)
        }
        Some(g) => format!("{form}, failing ({}/{})", g.passed, g.total),
    }
}

pub fn list(root: &Path) -> Result<()> {
    let map = roadmap();
    let labs = built_labs(root)?;
    let progress = Progress::load(root)?;
    let shared = |planned: &crate::roadmap::PlannedLab| {
        if planned.weeks[0] != planned.weeks[1] {
            format!(" (weeks {}–{})", planned.weeks[0], planned.weeks[1])
        } else {
            String::new()
        }
    };
    // Columns as wide as their widest entry (in characters: "–" is one), so every row lines up.
    let lab_width = map
        .lab
        .iter()
        .map(|p| format!("{}{}", p.package, shared(p)).chars().count())
        .max()
        .unwrap_or(0);
    let status_width = labs
        .iter()
        .map(|l| status(root, l, &progress).chars().count())
        .chain(["not built yet".len()])
        .max()
        .unwrap_or(0);
    for phase in &map.phase {
        println!(
            "\nPhase {} — {} (weeks {}–{})",
            phase.number, phase.title, phase.weeks[0], phase.weeks[1]
        );
        for week in phase.weeks[0]..=phase.weeks[1] {
            let Some(planned) = map
                .lab
                .iter()
                .find(|l| (l.weeks[0]..=l.weeks[1]).contains(&week))
            else {
                continue;
            };
            let st = match labs.iter().find(|l| l.package() == planned.package) {
                Some(lab) => status(root, lab, &progress),
                None => "not built yet".to_string(),
            };
            println!(
                "  week {week:>2}  {:<lab_width$} {:<status_width$} {}",
                format!("{}{}", planned.package, shared(planned)),
                st,
                planned.topics
            );
        }
    }
    println!(
        "\nGrade a lab: cargo run -p workbook -- grade week02   ·   all labs: cargo test -p grader"
    );
    Ok(())
}
