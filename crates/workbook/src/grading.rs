//! `workbook grade` and `workbook watch`: grade a lab, print its checks, record the result.

use crate::grade;
use crate::lab::Lab;
use crate::progress::{self, LastGrade, Progress};
use crate::repo::{collect_files, in_exercise_form};
use anyhow::Result;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Grades one lab, prints the result and records it in the progress file.
pub fn grade_one(root: &Path, lab: &Lab, progress: &mut Progress) -> Result<grade::Grade> {
    println!("Grading {} — {} …", lab.week_id(), lab.meta.lab.title);
    let g = grade::run(root, lab, true)?;
    if !g.compiled {
        println!(
            "\n✗ {} does not compile: read the compiler's messages above (the first one first).",
            lab.week_id()
        );
    } else if g.checks.is_empty() {
        println!(
            "\n✗ no checks ran for {}. Output:\n{}",
            lab.week_id(),
            g.log
        );
    } else {
        println!();
        for c in g.checks.iter().filter(|c| !c.passed) {
            if c.report.is_empty() {
                println!("{}\n", c.name);
            } else {
                println!("{}\n", hint_for_the_todo_hit(lab, &c.report));
            }
        }
        for c in &g.checks {
            println!("  {} {}", if c.passed { "✓" } else { "✗" }, c.name);
        }
        let verdict = match (g.all_passed(), in_exercise_form(root, lab)) {
            (true, true) => " — well done!".to_string(),
            (true, false) => format!(
                " (this is the reference solution: `cargo run -p workbook -- start {}` to write it yourself)",
                lab.week_id()
            ),
            (false, _) => String::new(),
        };
        println!(
            "\n{}: {}/{} checks pass{verdict}",
            lab.week_id(),
            g.passed(),
            g.checks.len()
        );
    }
    let exercise_form = in_exercise_form(root, lab);
    progress.lab(&lab.week_id()).last_grade = Some(LastGrade {
        compiled: g.compiled,
        passed: g.passed(),
        total: g.checks.len(),
        failed: g
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.clone())
            .collect(),
        exercise_form,
        when: progress::now(),
    });
    progress.save(root)?;
    Ok(g)
}

pub fn newest_change(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut files = Vec::new();
    if collect_files(dir, &mut files).is_ok() {
        for f in files {
            if let Ok(t) = std::fs::metadata(&f).and_then(|m| m.modified()) {
                newest = newest.max(t);
            }
        }
    }
    newest
}

pub fn watch(root: &Path, lab: &Lab) -> Result<()> {
    let mut progress = Progress::load(root)?;
    let mut seen = newest_change(&lab.dir);
    grade_one(root, lab, &mut progress)?;
    println!(
        "\nWatching {} for changes (Ctrl-C to stop) …",
        lab.dir.strip_prefix(root).unwrap_or(&lab.dir).display()
    );
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = newest_change(&lab.dir);
        if now > seen {
            seen = now;
            println!("\n——— change detected, re-grading ———\n");
            grade_one(root, lab, &mut progress)?;
            println!("\nWatching for changes (Ctrl-C to stop) …");
        }
    }
}

/// A failed check's report, its hint line pointing at the exercise whose `todo!()` the check ran
/// into. A check names one exercise, but it may call several: the week 3 logistic check runs the
/// stratified split first, and while that is a `todo!()` the split's hints are the ones to read.
pub fn hint_for_the_todo_hit(lab: &Lab, report: &str) -> String {
    const TODO: &str = "this exercise is not done yet (todo!): ";
    let hit = report
        .lines()
        .find_map(|l| l.trim().strip_prefix(TODO))
        .and_then(|message| lab.exercise_of_todo(message));
    let Some(ex) = hit else {
        return report.to_string();
    };
    let prefix = format!("hint: cargo run -p workbook -- hint {} ", lab.week_id());
    report
        .lines()
        .map(|l| match l.find(&prefix) {
            Some(at) => format!("{}{prefix}{}", &l[..at], ex.id),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
