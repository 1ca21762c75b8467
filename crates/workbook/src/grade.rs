//! Grading one lab: `cargo test -p <lab> --test grade`, the checks beside the lab. Only that lab
//! and what it needs are built, so that another lab that does not compile cannot stop it.

use crate::lab::Lab;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    /// The grader's report for a failed check.
    pub report: String,
}

/// The outcome of grading one lab.
#[derive(Debug, Clone)]
pub struct Grade {
    /// False when the lab (or its checks) did not compile.
    pub compiled: bool,
    pub checks: Vec<CheckResult>,
    /// Everything cargo and the tests printed, for when nothing else explains a failure.
    pub log: String,
}

impl Grade {
    pub fn passed(&self) -> usize {
        self.checks.iter().filter(|c| c.passed).count()
    }
    pub fn all_passed(&self) -> bool {
        self.compiled && !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }
}

/// Runs the lab's checks. With `live`, what the learner needs from cargo is shown as it comes:
/// which crate is being compiled (on one line) and every compile error in full; warnings and
/// cargo's own "test failed, to rerun pass …" stay in the log, so that the checks' report is what
/// the learner reads. Without `live`, everything is captured into the log.
pub fn run(root: &Path, lab: &Lab, live: bool) -> Result<Grade> {
    let mut cmd = wb_core::nested_cargo();
    cmd.current_dir(root)
        .args([
            "test",
            "-p",
            lab.package(),
            "--test",
            crate::lab::GRADE_TEST,
        ])
        .args(["--color", "never", "--", "--color", "never"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .context("running cargo test (is cargo on your PATH?)")?;
    let stderr = child.stderr.take().context("cargo's stderr")?;
    let reader = std::thread::spawn(move || {
        let mut filter = CargoFilter::default();
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            if let Some(shown) = filter.show(&line).filter(|_| live) {
                eprintln!("{shown}");
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let out = child.wait_with_output().context("waiting for cargo test")?;
    let stderr = reader.join().unwrap_or_default();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let checks = parse_libtest(&stdout);
    let compiled = !checks.is_empty() || out.status.success();
    Ok(Grade {
        compiled,
        checks,
        log: format!("{stderr}{stdout}"),
    })
}

/// The check binaries of the labs in `all`, by package, built as `cargo test -p grader` builds
/// them (`cargo test -p <each lab> --test grade`): the same selection of packages, so the same
/// features, so nothing is compiled again right after the grader, and after an edit only the lab
/// and the labs that use it. (`cargo test -p <lab>` alone selects other features of the shared
/// dependencies: right after the grader it rebuilt 7 minutes of them for week 31.) Cargo goes on
/// past a lab that does not compile (`--no-fail-fast`): a lab missing from the map did not build,
/// and the log (cargo's messages) says why.
struct GradedBuild {
    exes: BTreeMap<String, PathBuf>,
    all_built: bool,
    log: String,
}

fn build_as_graded(root: &Path, all: &[Lab]) -> Result<GradedBuild> {
    let mut cmd = wb_core::nested_cargo();
    cmd.current_dir(root).arg("test");
    for l in all {
        cmd.args(["-p", l.package()]);
    }
    let out = cmd
        .args([
            "--test",
            crate::lab::GRADE_TEST,
            "--no-run",
            "--no-fail-fast",
        ])
        .args([
            "--color",
            "never",
            "--message-format=json-render-diagnostics",
        ])
        .output()
        .context("running cargo test --no-run (is cargo on your PATH?)")?;
    let mut exes = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(exe), Some(manifest)) =
            (msg["executable"].as_str(), msg["manifest_path"].as_str())
        else {
            continue;
        };
        if msg["target"]["name"] != crate::lab::GRADE_TEST {
            continue;
        }
        let folder = Path::new(manifest).parent().and_then(Path::file_name);
        if let Some(lab) = all.iter().find(|l| l.dir.file_name() == folder) {
            exes.insert(lab.package().to_string(), PathBuf::from(exe));
        }
    }
    Ok(GradedBuild {
        all_built: out.status.success() && all.iter().all(|l| exes.contains_key(l.package())),
        exes,
        log: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `lab`'s checks built as the grader builds them (see `build_as_graded`): what
/// `verify-exercises --references-graded` grades the exercise forms with.
pub fn run_as_graded(root: &Path, lab: &Lab, all: &[Lab]) -> Result<Grade> {
    let mut build = build_as_graded(root, all)?;
    let Some(exe) = build.exes.remove(lab.package()) else {
        return Ok(Grade {
            compiled: false,
            checks: Vec::new(),
            log: build.log,
        });
    };
    // As `cargo test` runs a test: from the package's folder, which it names.
    let run = std::process::Command::new(&exe)
        .current_dir(&lab.dir)
        .env("CARGO_MANIFEST_DIR", &lab.dir)
        .args(["--color", "never"])
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    Ok(Grade {
        compiled: true,
        checks: parse_libtest(&stdout),
        log: format!("{}{stdout}", String::from_utf8_lossy(&run.stderr)),
    })
}

/// The names of the checks of every lab in `all`, each check binary (see `build_as_graded`) run
/// with `--list`: what `verify-exercises --references-graded` compares the exercise forms'
/// checks with.
pub fn list_all(root: &Path, all: &[Lab]) -> Result<BTreeMap<String, Vec<String>>> {
    let build = build_as_graded(root, all)?;
    if !build.all_built {
        anyhow::bail!("the labs' checks do not all build:\n{}", build.log);
    }
    let mut names = BTreeMap::new();
    for (package, exe) in build.exes {
        let listed = std::process::Command::new(&exe)
            .arg("--list")
            .output()
            .with_context(|| format!("running {} --list", exe.display()))?;
        if !listed.status.success() {
            anyhow::bail!(
                "{} --list failed:\n{}",
                exe.display(),
                String::from_utf8_lossy(&listed.stderr)
            );
        }
        names.insert(
            package,
            parse_list(&String::from_utf8_lossy(&listed.stdout)),
        );
    }
    Ok(names)
}

/// Reads libtest's `--list` output: one `name: test` line per test, sorted by name.
pub fn parse_list(stdout: &str) -> Vec<String> {
    let mut names: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

/// Which of cargo's stderr lines a learner sees while grading: compile errors in full (each
/// diagnostic runs from its `error…` line to the blank line after it) and the crates being
/// compiled; not warnings, not cargo's summary of failed tests.
#[derive(Debug, Default)]
pub struct CargoFilter {
    in_error: bool,
}

impl CargoFilter {
    pub fn show(&mut self, line: &str) -> Option<String> {
        if line.starts_with("error: test failed")
            || line.starts_with("error: 1 target failed")
            || line.contains("targets failed:")
        {
            self.in_error = false;
            return None;
        }
        if line.starts_with("error") {
            self.in_error = true;
        } else if line.starts_with("warning") {
            self.in_error = false;
        }
        if self.in_error {
            if line.is_empty() {
                self.in_error = false;
            }
            return Some(line.to_string());
        }
        let trimmed = line.trim_start();
        trimmed
            .strip_prefix("Compiling ")
            .map(|what| format!("  compiling {what}"))
    }
}

/// Reads libtest's plain output: `test name ... ok|FAILED` lines and the `---- name stdout ----`
/// sections of failed tests.
pub fn parse_libtest(stdout: &str) -> Vec<CheckResult> {
    let mut checks = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, status)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        let passed = match status.trim() {
            "ok" => true,
            "FAILED" => false,
            _ => continue,
        };
        checks.push(CheckResult {
            name: name.trim().to_string(),
            passed,
            report: String::new(),
        });
    }
    for check in checks.iter_mut().filter(|c| !c.passed) {
        let header = format!("---- {} stdout ----", check.name);
        if let Some(start) = stdout.find(&header) {
            let body = &stdout[start + header.len()..];
            let end = [body.find("\n---- "), body.find("\nfailures:\n")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(body.len());
            check.report = tidy_report(&body[..end]);
        }
    }
    checks.sort_by(|a, b| a.name.cmp(&b.name));
    checks
}

/// Keeps the grader's own report (between its rules) when there is one.
fn tidy_report(section: &str) -> String {
    let rule = "─".repeat(72);
    let parts: Vec<&str> = section.split(&rule).collect();
    if parts.len() >= 3 {
        return format!("{rule}{}{rule}", parts[1]);
    }
    section.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grading_shows_compile_errors_not_warnings_nor_cargo_noise() {
        let stderr = "   Compiling week02-linreg v0.1.0 (/w/labs/week02-linreg)\nwarning: unused variable: `x`\n --> src/lib.rs:3:9\n  |\n\nerror[E0308]: mismatched types\n --> src/lib.rs:9:5\n  |\n9 |     1\n  |     ^ expected `f64`\n\nwarning: `week02-linreg` (lib) generated 1 warning\nerror: could not compile `week02-linreg` (lib) due to 1 previous error\nerror: test failed, to rerun pass `-p week02-linreg --test grade`\n";
        let mut filter = CargoFilter::default();
        let shown: Vec<String> = stderr.lines().filter_map(|l| filter.show(l)).collect();
        assert_eq!(
            shown,
            [
                "  compiling week02-linreg v0.1.0 (/w/labs/week02-linreg)",
                "error[E0308]: mismatched types",
                " --> src/lib.rs:9:5",
                "  |",
                "9 |     1",
                "  |     ^ expected `f64`",
                "",
                "error: could not compile `week02-linreg` (lib) due to 1 previous error",
            ]
        );
    }

    #[test]
    fn lists_check_names_sorted_and_nothing_else() {
        let out = "b_check: test\na_check: test\n\n2 tests, 0 benchmarks\n";
        assert_eq!(parse_list(out), ["a_check", "b_check"]);
        assert!(parse_list("0 tests, 0 benchmarks\n").is_empty());
    }

    #[test]
    fn parses_passes_failures_and_reports() {
        let rule = "─".repeat(72);
        let out = format!(
            "running 2 tests\ntest a_check ... ok\ntest b_check ... FAILED\n\nfailures:\n\n---- b_check stdout ----\n\nthread 'b_check' panicked at x.rs:1:1:\n\n{rule}\n✗ week02 · check `b_check`\n{rule}\n\nnote: run with `RUST_BACKTRACE=1`\n\nfailures:\n    b_check\n\ntest result: FAILED. 1 passed; 1 failed\n"
        );
        let checks = parse_libtest(&out);
        assert_eq!(checks.len(), 2);
        assert!(checks[0].passed && !checks[1].passed);
        assert_eq!(
            checks[1].report,
            format!("{rule}\n✗ week02 · check `b_check`\n{rule}")
        );
    }
}
