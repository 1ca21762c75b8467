//! The lab's generated files: the base's YAML from the Rust types, each environment rendered
//! from its overlay. Generated, committed and checked: CI fails when the Rust and the YAML drift
//! apart, and the rendered files are what the schema check validates.

use crate::{kustomize, manifests};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The lab's folder (its `deploy/` holds the Containerfiles and the manifests).
pub fn lab_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The environments, each an overlay under `deploy/k8s/overlays/`.
pub const ENVIRONMENTS: [&str; 2] = ["dev", "prod"];

const BASE_HEADER: &str = "# Generated from src/manifests.rs by `cargo run -p week29-containers-k8s -- render --write`:\n# edit the Rust, not this file.\n";

fn rendered_header(env: &str) -> String {
    format!(
        "# deploy/k8s/overlays/{env} rendered as `kubectl kustomize` renders it, by\n# `cargo run -p week29-containers-k8s -- render --write`: do not edit.\n"
    )
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("{}: cannot list it", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Every generated file (its path in the lab's folder) and what it must hold: the base's
/// resources from the types, then each overlay rendered over that base (in a scratch copy of
/// `deploy/k8s`, so nothing is written).
pub fn generated(lab: &Path) -> Result<Vec<(PathBuf, String)>> {
    let k8s = lab.join("deploy/k8s");
    let scratch = std::env::temp_dir().join(format!(
        "week29-render-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    ));
    copy_tree(&k8s, &scratch)?;
    let outcome = (|| -> Result<Vec<(PathBuf, String)>> {
        let mut files = Vec::new();
        for (file, object) in manifests::base()? {
            let text = format!("{BASE_HEADER}{}", kustomize::to_yaml(&[object])?);
            std::fs::write(scratch.join("base").join(&file), &text)?;
            files.push((PathBuf::from("deploy/k8s/base").join(file), text));
        }
        for env in ENVIRONMENTS {
            let objects = kustomize::render(&scratch.join("overlays").join(env))?;
            let text = format!("{}{}", rendered_header(env), kustomize::to_yaml(&objects)?);
            files.push((PathBuf::from(format!("deploy/scorer-{env}.yaml")), text));
        }
        Ok(files)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

/// The generated files that differ from what is committed (missing ones included).
pub fn stale(lab: &Path) -> Result<Vec<PathBuf>> {
    Ok(generated(lab)?
        .into_iter()
        .filter(|(path, text)| {
            std::fs::read_to_string(lab.join(path)).ok().as_deref() != Some(text.as_str())
        })
        .map(|(path, _)| path)
        .collect())
}

/// One environment's objects, read from its committed rendering.
pub fn environment(lab: &Path, env: &str) -> Result<Vec<serde_json::Value>> {
    let path = lab.join(format!("deploy/scorer-{env}.yaml"));
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read it (render --write makes it)",
            path.display()
        )
    })?;
    kustomize::parse_documents(&text, &path.display().to_string())
}
