//! `workbook start` and `workbook reset`: a lab's exercise form and back.

use crate::lab::{self, Lab};
use crate::progress;
use crate::repo::{
    collect_files, committed, in_exercise_form, reference_dir, uncommitted_solutions,
};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Turns the lab into its exercise form, keeping the reference under `.workbook/reference/`. With
/// `refuse_edits` (the learner's command), a lab whose solution files have uncommitted edits is
/// refused: saved as "the reference", those edits would come back at every `reset`.
pub fn start(root: &Path, lab: &Lab, refuse_edits: bool) -> Result<()> {
    let backup = reference_dir(root, lab);
    if backup.exists() {
        bail!(
            "{} is already in its exercise form (the reference is kept in {}).\nRun `cargo run -p workbook -- reset {}` first to start over.",
            lab.week_id(),
            backup.display(),
            lab.week_id()
        );
    }
    if in_exercise_form(root, lab) {
        bail!(
            "{} is already in its exercise form (a solution region holds a todo!()).\nRun `cargo run -p workbook -- reset {}` first to start over: it keeps a copy of your version.",
            lab.week_id(),
            lab.week_id()
        );
    }
    let edited = uncommitted_solutions(root, lab);
    if refuse_edits && !edited.is_empty() {
        let names: Vec<String> = edited
            .iter()
            .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
            .collect();
        bail!(
            "{} differs from the committed reference: start would save your edits as the reference. Commit them, or put the reference back with `git checkout -- {}` (copy your version aside first), then start again.",
            names.join(", "),
            names.join(" ")
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

/// Puts the reference solution back. The learner's version of every file it replaces is kept
/// first, under `.workbook/attempts/<lab>/<time>/`, and the command says where. The reference
/// comes from what `start` saved or, when `.workbook/` is gone, from git (the committed files).
pub fn reset(root: &Path, lab: &Lab) -> Result<()> {
    let backup = reference_dir(root, lab);
    // (file in the lab, reference text)
    let mut restore: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    if backup.exists() {
        let mut saved = Vec::new();
        collect_files(&backup, &mut saved)?;
        for f in &saved {
            let rel = f.strip_prefix(&backup)?;
            restore.push((lab.dir.join(rel), std::fs::read(f)?));
        }
    } else if in_exercise_form(root, lab) {
        for f in lab.solution_files()? {
            let Some(reference) = committed(root, &f) else {
                bail!(
                    "{} is in its exercise form but its reference is not in .workbook/ nor committed in git: restore {} by hand",
                    lab.week_id(),
                    f.display()
                );
            };
            restore.push((f, reference.into_bytes()));
        }
    } else {
        println!(
            "{} already holds its reference solution: nothing to reset.",
            lab.week_id()
        );
        return Ok(());
    }
    let attempt = progress::state_dir(root)
        .join("attempts")
        .join(lab.package())
        .join(progress::now().to_string());
    for (dest, reference) in &restore {
        let mine = std::fs::read(dest).with_context(|| format!("reading {}", dest.display()))?;
        if &mine == reference {
            continue;
        }
        let rel = dest.strip_prefix(&lab.dir).unwrap_or(dest);
        let keep = attempt.join(rel);
        std::fs::create_dir_all(keep.parent().unwrap_or(&attempt))?;
        std::fs::write(&keep, &mine)
            .with_context(|| format!("keeping your version in {}", keep.display()))?;
    }
    for (dest, reference) in &restore {
        std::fs::write(dest, reference).with_context(|| format!("restoring {}", dest.display()))?;
        println!(
            "  restored {}",
            dest.strip_prefix(root).unwrap_or(dest).display()
        );
    }
    if backup.exists() {
        std::fs::remove_dir_all(&backup)?;
    }
    println!("{} holds its reference solution again.", lab.week_id());
    if attempt.exists() {
        println!(
            "Your version is kept in {} (copy back what you want from there).",
            attempt.strip_prefix(root).unwrap_or(&attempt).display()
        );
    }
    Ok(())
}
