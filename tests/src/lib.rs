//! End-to-end tests live in `tests/tests/`. This library holds what they share with the scripts:
//! the fingerprint of what a lab's report is made from.
//!
//! A lab's report is a function of its sources, the workspace crates it builds on, the locked
//! dependencies, the compiler, the datasets and fonts in the repository and the models (pinned by
//! SHA-256 in `wb-data`'s sources). `scripts/book-assets.sh` writes the fingerprint of all of
//! these beside the report it saves for the book (`<package>-output.sources`), and the end-to-end
//! test runs a lab again only when the fingerprint it computes differs: a lab whose inputs did not
//! move cannot print another report (the lines that depend on the CPU or the clock are masked
//! either way), and running the labs that use the LLM again on every commit took most of CI's
//! hour. `WB_LABS_ALL=1` runs every lab regardless.

use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Folders of the repository every lab's report may read: the datasets and the plots' fonts.
pub const SHARED_INPUTS: &[&str] = &["datasets", "assets"];

/// The SHA-256 (hex) of everything `package`'s report is made from: the rustc version, the
/// workspace manifest and lock file, every file git tracks (or would track) in the workspace
/// packages `package` depends on, itself included, and in [`SHARED_INPUTS`]. Each file enters
/// with its path and length, so no two sets of files collide.
pub fn lab_inputs_hash(root: &Path, package: &str) -> Result<String, String> {
    let dirs = package_dirs(root, package)?;
    let mut paths: Vec<String> = dirs;
    paths.extend(SHARED_INPUTS.iter().map(|s| (*s).to_string()));
    let listed = run(
        Command::new("git")
            .current_dir(root)
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
                "--",
            ])
            .args(&paths),
        "git ls-files",
    )?;
    let files: BTreeSet<&str> = listed.split('\0').filter(|f| !f.is_empty()).collect();
    if files.is_empty() {
        return Err(format!(
            "{package}: git lists no source file under {paths:?}"
        ));
    }
    let mut h = Sha256::new();
    let rustc = run(Command::new("rustc").arg("-vV"), "rustc -vV")?;
    h.update(rustc.as_bytes());
    for top in ["Cargo.toml", "Cargo.lock"] {
        add_file(&mut h, root, top)?;
    }
    for f in files {
        // A file git still lists but the working tree deleted is absent from the inputs.
        if root.join(f).is_file() {
            add_file(&mut h, root, f)?;
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

/// The text of `<package>-output.sources`: two comment lines, then the fingerprint.
pub fn inputs_record(package: &str, hash: &str) -> String {
    format!(
        "# SHA-256 of what printed {package}-output.txt (its sources, the workspace crates it uses,\n\
         # Cargo.lock, rustc, datasets/, assets/): tests/src/lib.rs computes it.\n{hash}\n"
    )
}

/// The fingerprint saved in a `<package>-output.sources` text, if it holds one.
pub fn saved_hash(record: &str) -> Option<&str> {
    record
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn add_file(h: &mut Sha256, root: &Path, rel: &str) -> Result<(), String> {
    let bytes = std::fs::read(root.join(rel)).map_err(|e| format!("reading {rel}: {e}"))?;
    h.update((rel.len() as u64).to_le_bytes());
    h.update(rel.as_bytes());
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(&bytes);
    Ok(())
}

/// The folders (relative to `root`) of `package` and of every workspace package it depends on,
/// directly or not (normal and build dependencies; not dev-dependencies, which only its tests
/// use), read from `cargo metadata`.
pub fn package_dirs(root: &Path, package: &str) -> Result<Vec<String>, String> {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root).args([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
        "--locked",
    ]);
    let out = run(&mut cmd, "cargo metadata")?;
    let meta: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| format!("cargo metadata: {e}"))?;
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let dir_of = |name: &str| -> Option<&str> {
        packages
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["manifest_path"].as_str())
            .and_then(|m| m.strip_suffix("/Cargo.toml"))
    };
    if dir_of(package).is_none() {
        return Err(format!("{package} is not a package of this workspace"));
    }
    let mut seen = BTreeSet::new();
    let mut todo = vec![package.to_string()];
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(p) = packages.iter().find(|p| p["name"] == name.as_str()) else {
            continue;
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let is_dev = d["kind"] == "dev";
            if d["path"].is_string()
                && !is_dev
                && let Some(n) = d["name"].as_str()
            {
                todo.push(n.to_string());
            }
        }
    }
    let root = root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", root.display()))?;
    seen.iter()
        .map(|name| {
            let dir = dir_of(name).ok_or(format!("{name}: no manifest"))?;
            let dir = Path::new(dir)
                .canonicalize()
                .map_err(|e| format!("{dir}: {e}"))?;
            dir.strip_prefix(&root)
                .map(|d| d.to_string_lossy().into_owned())
                .map_err(|_| format!("{name} lies outside {}", root.display()))
        })
        .collect()
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{what}: {e}"))
}
