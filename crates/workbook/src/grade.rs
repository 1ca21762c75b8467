//! Grading one lab: `cargo test -p <lab> --test grade`, the checks beside the lab. Only that lab
//! and what it needs are built, so that another lab that does not compile cannot stop it.

use crate::lab::Lab;
use anyhow::{Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};

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

/// Runs the lab's checks. With `live`, cargo's own messages (compiling, compile errors) are shown
/// as they come; otherwise they are captured into the log.
pub fn run(root: &Path, lab: &Lab, live: bool) -> Result<Grade> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    forget_cargo_run_env(&mut cmd);
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
        .stderr(if live {
            Stdio::inherit()
        } else {
            Stdio::piped()
        });
    let out = cmd
        .output()
        .context("running cargo test (is cargo on your PATH?)")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let checks = parse_libtest(&stdout);
    let compiled = !checks.is_empty() || out.status.success();
    Ok(Grade {
        compiled,
        checks,
        log: format!("{stderr}{stdout}"),
    })
}

/// Removes the variables `cargo run` set for this process (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`,
/// …). Passed on to the inner cargo, they reach build scripts that watch them (ring's watches
/// `CARGO_MANIFEST_DIR`), which then rebuild half the dependency tree — and rebuild it again at the
/// next plain `cargo test -p grader`.
pub fn forget_cargo_run_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let injected = key.starts_with("CARGO_PKG_")
            || matches!(
                key.as_ref(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "OUT_DIR"
            );
        if injected {
            cmd.env_remove(key.as_ref());
        }
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
