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

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
