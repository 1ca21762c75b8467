//! Where the labs are: the repository's root, the built labs, finding one by name, and where
//! `start` keeps a lab's reference solution.

use crate::lab::Lab;
use crate::progress;
use crate::roadmap::roadmap;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// The repository root: the nearest folder above the current one with `labs/` and a workspace
/// `Cargo.toml`, else the one this binary was built from.
pub fn repo_root() -> PathBuf {
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            if dir.join("labs").is_dir()
                && dir.join("Cargo.toml").is_file()
                && dir.join("crates/workbook").is_dir()
            {
                return dir.to_path_buf();
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every built lab, sorted by week.
pub fn built_labs(root: &Path) -> Result<Vec<Lab>> {
    let mut labs = Vec::new();
    let dir = root.join("labs");
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.join("lab.toml").is_file() {
            labs.push(Lab::load(&path)?);
        }
    }
    labs.sort_by_key(|l| l.meta.lab.week);
    Ok(labs)
}

/// Finds a lab by `week02`, `2`, `02` or its package name; a wrong name lists the valid ones.
pub fn find_lab(root: &Path, name: &str) -> Result<Lab> {
    let labs = built_labs(root)?;
    let wanted = name.trim().to_lowercase();
    let number = wanted
        .strip_prefix("week")
        .unwrap_or(&wanted)
        .split('-')
        .next()
        .unwrap_or("")
        .parse::<u32>()
        .ok();
    if let Some(lab) = labs
        .iter()
        .find(|l| l.package() == wanted || Some(l.meta.lab.week) == number)
    {
        return Ok(lab.clone());
    }
    let planned = number.and_then(|n| {
        roadmap()
            .lab
            .into_iter()
            .find(|p| (p.weeks[0]..=p.weeks[1]).contains(&n))
    });
    let valid: Vec<String> = labs
        .iter()
        .map(|l| format!("{} ({})", l.week_id(), l.package()))
        .collect();
    match planned {
        Some(p) if !labs.iter().any(|l| l.package() == p.package) => bail!(
            "week {} is covered by `{}`, which is not built yet.\nThe labs you can use now: {}",
            number.unwrap_or(0),
            p.package,
            valid.join(", ")
        ),
        _ => bail!(
            "no lab called `{name}`.\nThe labs are: {}",
            valid.join(", ")
        ),
    }
}

pub fn reference_dir(root: &Path, lab: &Lab) -> PathBuf {
    progress::state_dir(root)
        .join("reference")
        .join(lab.package())
}

/// Whether the lab is in its exercise form: `start` kept its reference, or (when `.workbook/` was
/// deleted, by `git clean -xfd` say) one of its solution regions still holds a `todo!(`.
pub fn in_exercise_form(root: &Path, lab: &Lab) -> bool {
    if reference_dir(root, lab).is_dir() {
        return true;
    }
    lab.solution_files().is_ok_and(|files| {
        files
            .iter()
            .any(|f| crate::lab::regions_hold_todo(&std::fs::read_to_string(f).unwrap_or_default()))
    })
}

/// The lab's solution files that differ from their committed version (uncommitted edits).
pub fn uncommitted_solutions(root: &Path, lab: &Lab) -> Vec<PathBuf> {
    lab.solution_files()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| {
            committed(root, f).is_some_and(|c| c != std::fs::read_to_string(f).unwrap_or_default())
        })
        .collect()
}

/// The committed version of `file` (`git show HEAD:<path>`), when `root` is a git repository that
/// tracks it; `None` otherwise (no git, not a repository, an untracked file).
pub fn committed(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let out = std::process::Command::new("git")
        .current_dir(root)
        .args(["show", &format!("HEAD:{}", rel.display())])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            collect_files(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}
