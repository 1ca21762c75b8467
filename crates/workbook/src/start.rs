//! `workbook start` and `workbook reset`: a lab's exercise form and back.

use crate::lab::{self, Lab};
use crate::repo::{collect_files, reference_dir};
use anyhow::{Context, Result, bail};
use std::path::Path;

pub fn start(root: &Path, lab: &Lab) -> Result<()> {
    let backup = reference_dir(root, lab);
    if backup.exists() {
        bail!(
            "{} is already in its exercise form (the reference is kept in {}).\nRun `cargo run -p workbook -- reset {}` first to start over.",
            lab.week_id(),
            backup.display(),
            lab.week_id()
        );
    }
    let files = lab.solution_files()?;
    if files.is_empty() {
        bail!(
            "{} marks no solution region (`// BEGIN SOLUTION`): nothing to turn into exercises",
            lab.package()
        );
    }
    // Build every exercise form before writing anything, so that a bad marker changes nothing.
    let mut forms = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&lab.dir).unwrap_or(f);
        let source = std::fs::read_to_string(f)?;
        let form = lab::exercise_form(&rel.display().to_string(), &source, lab)?;
        forms.push((f, rel.to_path_buf(), source, form));
    }
    for (_, rel, source, _) in &forms {
        let dest = backup.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap_or(&backup))?;
        std::fs::write(&dest, source)
            .with_context(|| format!("saving the reference to {}", dest.display()))?;
    }
    for (f, rel, _, form) in &forms {
        std::fs::write(f, form).with_context(|| format!("writing {}", f.display()))?;
        println!(
            "  exercise form written: {}",
            lab.dir.join(rel).strip_prefix(root).unwrap_or(f).display()
        );
    }
    println!("\nWhat you will build:");
    for o in &lab.meta.lab.objectives {
        println!("  • {o}");
    }
    println!(
        "\n{} is now an exercise: {} exercises, {} todo!()s to fill in. Read the chapter ({}), then\n  cargo run -p workbook -- grade {}    # which checks pass\n  cargo run -p workbook -- hint {}     # stuck? one hint at a time\n  cargo run -p workbook -- reset {}    # put the reference solution back",
        lab.week_id(),
        lab.meta.exercise.len(),
        forms
            .iter()
            .map(|(_, _, _, form)| form.matches("todo!(").count())
            .sum::<usize>(),
        lab.meta.lab.chapter,
        lab.week_id(),
        lab.week_id(),
        lab.week_id()
    );
    Ok(())
}

pub fn reset(root: &Path, lab: &Lab) -> Result<()> {
    let backup = reference_dir(root, lab);
    if !backup.exists() {
        println!(
            "{} already holds its reference solution: nothing to reset.",
            lab.week_id()
        );
        return Ok(());
    }
    let mut saved = Vec::new();
    collect_files(&backup, &mut saved)?;
    for f in &saved {
        let rel = f.strip_prefix(&backup)?;
        let dest = lab.dir.join(rel);
        std::fs::copy(f, &dest).with_context(|| format!("restoring {}", dest.display()))?;
        println!(
            "  restored {}",
            dest.strip_prefix(root).unwrap_or(&dest).display()
        );
    }
    std::fs::remove_dir_all(&backup)?;
    println!("{} holds its reference solution again.", lab.week_id());
    Ok(())
}
