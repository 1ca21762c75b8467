//! `workbook verify-exercises` (for contributors): each lab's exercise form compiles and fails
//! its checks, the reference passes them, and start + reset gives back the same bytes.

use crate::grade;
use crate::lab::Lab;
use crate::repo::in_exercise_form;
use crate::start::{reset, start};
use anyhow::{Result, bail};
use std::path::Path;

/// Exercise form: compiles, fails every check (except those allowed to pass); reference: passes
/// every check; start then reset gives back the same bytes. With `graded`, the names of the
/// reference's checks (`grade::list_all`), the reference's checks are not run again (CI has just
/// run them all with `cargo test -p grader`, the longest part of this command otherwise), and the
/// exercise form must run the same checks.
pub fn verify_exercises(
    root: &Path,
    lab: &Lab,
    graded: Option<(Vec<String>, &[Lab])>,
) -> Result<()> {
    println!("== {} ==", lab.package());
    if in_exercise_form(root, lab) {
        bail!(
            "{} is in its exercise form: run `workbook reset {}` first",
            lab.week_id(),
            lab.week_id()
        );
    }
    let selection = graded.as_ref().map(|(_, all)| *all);
    let reference: Vec<String> = if let Some((names, _)) = graded {
        println!(
            "  reference: {} checks (graded by the grader, not run again)",
            names.len()
        );
        names
    } else {
        let graded = grade::run(root, lab, false)?;
        if !graded.all_passed() {
            let failed: Vec<&str> = graded
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.name.as_str())
                .collect();
            bail!(
                "the reference solution does not pass every check (failed: {failed:?}); log:\n{}",
                graded.log
            );
        }
        println!(
            "  reference: {}/{} checks pass",
            graded.passed(),
            graded.checks.len()
        );
        graded.checks.into_iter().map(|c| c.name).collect()
    };
    if reference.is_empty() {
        bail!("{} has no checks", lab.package());
    }
    let files = lab.solution_files()?;
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(std::fs::read)
        .collect::<std::io::Result<_>>()?;
    start(root, lab, false)?;
    let exercise = match selection {
        Some(all) => grade::run_as_graded(root, lab, all),
        None => grade::run(root, lab, false),
    };
    reset(root, lab)?;
    for (f, bytes) in files.iter().zip(&before) {
        if &std::fs::read(f)? != bytes {
            bail!(
                "{} differs from the reference after start + reset",
                f.display()
            );
        }
    }
    println!(
        "  start + reset: {} file(s) restored byte for byte",
        files.len()
    );
    let exercise = exercise?;
    if !exercise.compiled {
        bail!("the exercise form does not compile:\n{}", exercise.log);
    }
    let allowed = &lab.meta.grading.allowed_to_pass;
    let mut wrongly_passing = Vec::new();
    for c in &exercise.checks {
        if c.passed && !allowed.iter().any(|a| a.check == c.name) {
            wrongly_passing.push(c.name.clone());
        }
    }
    let ran: Vec<&str> = exercise.checks.iter().map(|c| c.name.as_str()).collect();
    if ran != reference {
        bail!("the exercise form ran the checks {ran:?}, the reference {reference:?}");
    }
    if !wrongly_passing.is_empty() {
        bail!(
            "these checks pass on the exercise form, so they cannot tell a solution from a todo!(): {wrongly_passing:?}"
        );
    }
    let passing_allowed = exercise.checks.iter().filter(|c| c.passed).count();
    for a in allowed.iter().filter(|a| {
        exercise
            .checks
            .iter()
            .any(|c| c.passed && c.name == a.check)
    }) {
        println!(
            "  allowed to pass on the exercise form: {} — {}",
            a.check, a.reason
        );
    }
    println!(
        "  exercise form: compiles; {}/{} checks fail{}",
        exercise.checks.len() - passing_allowed,
        exercise.checks.len(),
        if passing_allowed > 0 {
            format!(" ({passing_allowed} allowed to pass by lab.toml)")
        } else {
            String::new()
        }
    );
    Ok(())
}
