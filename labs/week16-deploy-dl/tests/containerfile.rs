//! The container files' structure: what cannot be built here (the multi-stage Containerfile pulls
//! its base images) is read and checked, and the image the container test builds here keeps the
//! same runtime contract. (`deploy/container-test.sh` builds and runs that image for real.)

use std::path::Path;

/// A Containerfile's instructions: (keyword in upper case, the rest), continuation lines joined,
/// comments dropped.
fn instructions(path: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(Path::new(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        pending.push_str(line.trim_end_matches('\\').trim());
        pending.push(' ');
        if line.ends_with('\\') {
            continue;
        }
        let full = std::mem::take(&mut pending);
        let (keyword, rest) = full.trim().split_once(' ').unwrap_or((full.trim(), ""));
        out.push((keyword.to_ascii_uppercase(), rest.trim().to_string()));
    }
    out
}

/// The stages: (the FROM line, its instructions).
fn stages(path: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (k, rest) in instructions(path) {
        if k == "FROM" {
            out.push((rest, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push((k, rest));
        }
    }
    out
}

fn value<'a>(stage: &'a [(String, String)], keyword: &str) -> Option<&'a str> {
    stage
        .iter()
        .rev()
        .find(|(k, _)| k == keyword)
        .map(|(_, v)| v.as_str())
}

#[test]
fn the_multi_stage_containerfile_caches_dependencies_and_runs_unprivileged() {
    let stages = stages("deploy/Containerfile");
    assert!(
        stages.len() >= 3,
        "expected a planner, a build and a runtime stage"
    );
    for (from, _) in &stages {
        assert!(
            !from.contains(":latest"),
            "pin base images, not :latest: {from}"
        );
    }
    // The build stage compiles the dependencies from the recipe before the sources are copied:
    // a change of source keeps that layer.
    let (_, build) = stages
        .iter()
        .find(|(from, _)| from.ends_with("AS build"))
        .expect("a stage named build");
    let cook = build
        .iter()
        .position(|(k, v)| k == "RUN" && v.contains("cargo chef cook"))
        .expect("the build stage compiles the dependencies alone (cargo chef cook)");
    let sources = build
        .iter()
        .position(|(k, v)| k == "COPY" && v.starts_with(". "))
        .expect("the build stage copies the sources");
    let compile = build
        .iter()
        .position(|(k, v)| k == "RUN" && v.contains("cargo build --release"))
        .expect("the build stage compiles the lab");
    assert!(
        cook < sources && sources < compile,
        "order: dependencies, then the sources, then the build"
    );
    // The runtime stage: small, not the toolchain image, not root, with a health check.
    let (from, runtime) = stages.last().expect("a runtime stage");
    assert!(
        !from.starts_with("rust:"),
        "the runtime image must not be the toolchain: {from}"
    );
    assert!(
        runtime
            .iter()
            .any(|(k, v)| k == "COPY" && v.starts_with("--from=build")),
        "the runtime copies the binary from the build stage"
    );
    check_runtime_contract(runtime, "deploy/Containerfile");
}

#[test]
fn the_image_built_here_keeps_the_same_runtime_contract() {
    let stages = stages("deploy/Containerfile.scratch");
    assert_eq!(stages.len(), 1);
    assert_eq!(
        stages[0].0, "scratch",
        "built FROM scratch: nothing to pull"
    );
    check_runtime_contract(&stages[0].1, "deploy/Containerfile.scratch");
    let full = stages_runtime("deploy/Containerfile");
    // (USER differs in form, a name there and the uid here; both are checked to be 65532.)
    for keyword in ["EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "STOPSIGNAL"] {
        assert_eq!(
            value(&full, keyword),
            value(&stages[0].1, keyword),
            "{keyword} differs between the two files"
        );
    }
}

fn stages_runtime(path: &str) -> Vec<(String, String)> {
    stages(path).pop().expect("a stage").1
}

/// Not root, the service's port exposed, a HEALTHCHECK that runs the binary, SIGTERM to stop,
/// `serve` as the entry point.
fn check_runtime_contract(stage: &[(String, String)], path: &str) {
    let user =
        value(stage, "USER").unwrap_or_else(|| panic!("{path}: no USER: it would run as root"));
    let user = user.split(':').next().unwrap_or(user);
    assert!(user != "root" && user != "0", "{path}: runs as root");
    let passwd_uid_ok = user == "65532"
        || stage
            .iter()
            .any(|(k, v)| k == "RUN" && v.contains("--uid 65532") && v.contains(user));
    assert!(
        passwd_uid_ok,
        "{path}: the user must be uid 65532 (the Kubernetes manifests' runAsUser)"
    );
    assert_eq!(value(stage, "EXPOSE"), Some("8016"), "{path}: EXPOSE 8016");
    let health = value(stage, "HEALTHCHECK").unwrap_or_else(|| panic!("{path}: no HEALTHCHECK"));
    assert!(
        health.contains("CMD [\"/usr/local/bin/week16-deploy-dl\", \"healthcheck\"]"),
        "{path}: the health check runs the binary's healthcheck (no curl in the image): {health}"
    );
    assert_eq!(
        value(stage, "STOPSIGNAL"),
        Some("SIGTERM"),
        "{path}: STOPSIGNAL SIGTERM"
    );
    let entry = value(stage, "ENTRYPOINT").unwrap_or_else(|| panic!("{path}: no ENTRYPOINT"));
    assert_eq!(
        entry, "[\"/usr/local/bin/week16-deploy-dl\", \"serve\"]",
        "{path}"
    );
    let env = value(stage, "ENV").unwrap_or_default();
    assert!(
        env.contains("ADDR=0.0.0.0:8016") && env.contains("MODEL_DIR=/model"),
        "{path}: ENV ADDR and MODEL_DIR: {env}"
    );
}
