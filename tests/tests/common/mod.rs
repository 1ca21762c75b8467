//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root: of the checkout cargo runs the tests in (CARGO_MANIFEST_DIR is also set
/// at run time), not of the one that compiled them, should two share a target folder.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf(),
            PathBuf::from,
        )
        .join("..")
        .canonicalize()
        .expect("repository root")
}

/// Every lab folder (with a lab.toml), sorted.
pub fn labs() -> Vec<PathBuf> {
    let mut labs: Vec<PathBuf> = std::fs::read_dir(root().join("labs"))
        .expect("labs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("lab.toml").is_file())
        .collect();
    labs.sort();
    labs
}

pub fn package(lab: &Path) -> String {
    lab.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

/// A cargo command for these tests, without the variables `cargo test` set for this process
/// (see `wb_core::nested_cargo`).
pub fn cargo_command() -> Command {
    wb_core::nested_cargo()
}

/// `cargo run -q -p <package> -- <args>` from the repository root (or `cwd`).
pub fn cargo_run(package: &str, args: &[&str], cwd: Option<&Path>) -> Output {
    let mut cmd = cargo_command();
    cmd.current_dir(cwd.map(Path::to_path_buf).unwrap_or_else(root))
        .arg("run")
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .args(["-q", "-p", package, "--"])
        .args(args)
        .output()
        .expect("running cargo")
}

/// Every lab's binary, by package, built as `cargo test -p grader` builds the labs (one
/// `cargo test -p <every lab> --test grade`): the same selection of packages, so the same
/// features, so nothing is compiled again after the grader has run. (`cargo run -p <lab>` selects
/// one lab, whose features differ: it rebuilt up to 7 minutes of dependencies per lab.)
pub fn lab_binaries() -> &'static std::collections::BTreeMap<String, PathBuf> {
    static BINARIES: std::sync::OnceLock<std::collections::BTreeMap<String, PathBuf>> =
        std::sync::OnceLock::new();
    BINARIES.get_or_init(|| {
        let mut cmd = cargo_command();
        cmd.current_dir(root()).arg("test");
        for lab in labs() {
            cmd.args(["-p", &package(&lab)]);
        }
        let out = cmd
            .args(["--test", "grade", "--no-run", "--message-format=json"])
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("running cargo test --no-run");
        assert!(
            out.status.success(),
            "the labs do not build (cargo's messages above)"
        );
        let mut found = std::collections::BTreeMap::new();
        for line in text(&out.stdout).lines() {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let is_bin = msg["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"));
            if let (true, Some(exe), Some(name)) = (
                is_bin,
                msg["executable"].as_str(),
                msg["target"]["name"].as_str(),
            ) {
                found.insert(name.to_string(), PathBuf::from(exe));
            }
        }
        found
    })
}

/// The lab's binary (see [`lab_binaries`]) run with `args` from the repository root (or `cwd`),
/// as `cargo run -q -p <package> -- <args>` would run it.
pub fn lab_run(package: &str, args: &[&str], cwd: Option<&Path>) -> Output {
    let exe = lab_binaries()
        .get(package)
        .unwrap_or_else(|| panic!("cargo built no binary called {package}"));
    Command::new(exe)
        .current_dir(cwd.map(Path::to_path_buf).unwrap_or_else(root))
        .env("CARGO_MANIFEST_DIR", root().join("labs").join(package))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
