//! `workbook start` then `workbook reset` gives back every source file byte for byte. Runs on a
//! copy of each lab in a scratch workbook, so that the real sources are never touched.

mod common;
use common::*;
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let p = entry.expect("entry").path();
        let dest = to.join(p.file_name().expect("name"));
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("copy");
        }
    }
}

fn read_tree(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_tree(&p, out);
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).expect("read")));
        }
    }
}

#[test]
fn start_then_reset_round_trips_byte_for_byte() {
    let scratch = std::env::temp_dir().join(format!("e2e-workbook-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    // The smallest tree that `workbook` recognises as a repository.
    std::fs::create_dir_all(scratch.join("crates/workbook")).expect("mkdir");
    std::fs::write(
        scratch.join("Cargo.toml"),
        "# scratch copy for the round-trip test\n",
    )
    .expect("write");
    for lab in labs() {
        let pkg = package(&lab);
        let copy = scratch.join("labs").join(&pkg);
        copy_dir(&lab.join("src"), &copy.join("src"));
        std::fs::copy(lab.join("lab.toml"), copy.join("lab.toml")).expect("copy lab.toml");
        let mut before = Vec::new();
        read_tree(&copy, &mut before);

        let out = cargo_run("workbook", &["start", &pkg], Some(&scratch));
        assert!(out.status.success(), "start {pkg}: {}", text(&out.stderr));
        let mut during = Vec::new();
        read_tree(&copy, &mut during);
        assert_ne!(before, during, "{pkg}: start changed nothing");
        let todos: usize = during
            .iter()
            .map(|(_, b)| text(b).matches("todo!(").count())
            .sum();
        assert!(todos > 0, "{pkg}: the exercise form has no todo!()");
        let again = cargo_run("workbook", &["start", &pkg], Some(&scratch));
        assert!(
            !again.status.success(),
            "{pkg}: a second start must refuse (it would lose the reference)"
        );

        let out = cargo_run("workbook", &["reset", &pkg], Some(&scratch));
        assert!(out.status.success(), "reset {pkg}: {}", text(&out.stderr));
        let mut after = Vec::new();
        read_tree(&copy, &mut after);
        assert!(
            before == after,
            "{pkg}: start + reset did not restore the sources byte for byte"
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn a_wrong_week_lists_the_valid_ones() {
    let out = cargo_run("workbook", &["grade", "week99"], None);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no lab called `week99`") && err.contains("week02 (week02-linreg)"),
        "{err}"
    );
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=e2e",
            "-c",
            "user.email=e2e@example.invalid",
        ])
        .args(args)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

/// A learner's work is never lost: `reset` keeps their version under `.workbook/attempts/`; with
/// `.workbook/` deleted (`git clean -xfd`), the exercise form is still recognised and `reset`
/// restores the committed reference; `start` refuses a lab whose solutions have uncommitted edits.
#[test]
fn reset_keeps_the_learners_version_and_git_recovers_the_reference() {
    let scratch = std::env::temp_dir().join(format!("e2e-attempts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(scratch.join("crates/workbook")).expect("mkdir");
    std::fs::write(scratch.join("Cargo.toml"), "# scratch\n").expect("write");
    let lab = root().join("labs/week02-linreg");
    let copy = scratch.join("labs/week02-linreg");
    copy_dir(&lab.join("src"), &copy.join("src"));
    std::fs::copy(lab.join("lab.toml"), copy.join("lab.toml")).expect("copy lab.toml");
    std::fs::write(scratch.join(".gitignore"), "/.workbook\n").expect("write");
    git(&scratch, &["init", "-q"]);
    git(&scratch, &["add", "-A"]);
    git(&scratch, &["commit", "-q", "-m", "reference"]);
    let solution = copy.join("src/vectors.rs");
    let reference = std::fs::read_to_string(&solution).expect("read");
    let run = |args: &[&str]| cargo_run("workbook", args, Some(&scratch));

    // 1. Work done in the exercise form survives a reset.
    assert!(run(&["start", "week02"]).status.success());
    let mine = format!(
        "{}// my answer\n",
        std::fs::read_to_string(&solution).expect("read")
    );
    std::fs::write(&solution, &mine).expect("write");
    let out = run(&["reset", "week02"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("Your version is kept in .workbook/attempts/week02-linreg/"),
        "{said}"
    );
    let attempts = scratch.join(".workbook/attempts/week02-linreg");
    let kept = std::fs::read_dir(&attempts)
        .expect("an attempt")
        .next()
        .expect("one attempt")
        .expect("entry")
        .path()
        .join("src/vectors.rs");
    assert_eq!(std::fs::read_to_string(&kept).expect("kept"), mine);
    assert_eq!(std::fs::read_to_string(&solution).expect("read"), reference);

    // 2. `.workbook/` deleted while in the exercise form: still recognised, reset from git.
    assert!(run(&["start", "week02"]).status.success());
    std::fs::remove_dir_all(scratch.join(".workbook")).expect("rm .workbook");
    let list = text(&run(&["list"]).stdout);
    let row = list
        .lines()
        .find(|l| l.contains("week02-linreg"))
        .expect("week 2's row");
    assert!(row.contains("exercise"), "{row}");
    let out = run(&["reset", "week02"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("holds its reference solution again"));
    assert_eq!(std::fs::read_to_string(&solution).expect("read"), reference);

    // 3. Uncommitted edits in a solution: start refuses rather than save them as the reference.
    std::fs::write(&solution, format!("{reference}// an experiment\n")).expect("write");
    let out = run(&["start", "week02"]);
    assert!(!out.status.success(), "start took an edited reference");
    assert!(
        text(&out.stderr).contains("differs from the committed reference"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
