//! The workflow file: read as GitHub Actions reads it (a YAML mapping of jobs to steps), checked
//! for what a pipeline needs (its steps call this lab's commands, in the order train → gate),
//! and run locally: each `run:` step through `bash -e`, with the workflow's environment, in
//! order, stopping at the first failure — what a CI runner does, on your machine.

use serde::Serialize;
use serde_norway::Value;
use std::path::Path;
use std::process::Command;
use wb_core::{MlError, Result};

/// One step of a job.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    /// A `run:` command, or None for an action (`uses:`), which only runs on GitHub.
    pub run: Option<String>,
    pub uses: Option<String>,
    /// The step's `if:` condition, if any.
    pub condition: Option<String>,
}

/// A workflow: its name, environment and the steps of its one job.
#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    pub name: String,
    pub env: Vec<(String, String)>,
    pub job: String,
    pub steps: Vec<Step>,
}

fn bad(path: &str, detail: impl Into<String>) -> MlError {
    MlError::InvalidArgument {
        arg: path.into(),
        detail: detail.into(),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses a workflow with exactly one job (errors name the field that is wrong).
pub fn parse(yaml: &str) -> Result<Workflow> {
    let doc: Value =
        serde_norway::from_str(yaml).map_err(|e| bad("workflow", format!("not YAML: {e}")))?;
    let name = doc
        .get("name")
        .and_then(text)
        .ok_or_else(|| bad("name", "the workflow needs a name"))?;
    if doc.get("on").is_none() {
        return Err(bad("on", "the workflow needs triggers"));
    }
    let env = match doc.get("env") {
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| {
                Ok((
                    text(k).ok_or_else(|| bad("env", "keys are names"))?,
                    text(v).ok_or_else(|| bad("env", "values are strings"))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
        Some(_) => return Err(bad("env", "must be a mapping")),
    };
    let jobs = match doc.get("jobs") {
        Some(Value::Mapping(m)) if m.len() == 1 => m,
        _ => return Err(bad("jobs", "the pipeline has exactly one job")),
    };
    let (job, body) = jobs.iter().next().ok_or_else(|| bad("jobs", "empty"))?;
    let job = text(job).ok_or_else(|| bad("jobs", "a job's id is a name"))?;
    if body.get("runs-on").is_none() {
        return Err(bad(
            &format!("jobs.{job}.runs-on"),
            "every job says where it runs",
        ));
    }
    let steps = match body.get("steps") {
        Some(Value::Sequence(s)) if !s.is_empty() => s,
        _ => {
            return Err(bad(
                &format!("jobs.{job}.steps"),
                "a job needs a list of steps",
            ));
        }
    };
    let steps = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (run, uses) = (s.get("run").and_then(text), s.get("uses").and_then(text));
            if run.is_some() == uses.is_some() {
                return Err(bad(
                    &format!("jobs.{job}.steps[{i}]"),
                    "a step has either `run` or `uses`",
                ));
            }
            Ok(Step {
                name: s
                    .get("name")
                    .and_then(text)
                    .or_else(|| uses.clone())
                    .unwrap_or_else(|| format!("step {i}")),
                run,
                uses,
                condition: s.get("if").and_then(text),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Workflow {
        name,
        env,
        job,
        steps,
    })
}

/// The arguments of a `cargo run … -p PACKAGE -- ARGS` command, with `"$VAR"` left as written
/// (None for a command that does not run `package`).
pub fn lab_args(command: &str, package: &str) -> Option<Vec<String>> {
    let words: Vec<String> = command
        .split_whitespace()
        .map(|w| w.trim_matches('"').to_string())
        .collect();
    let p = words.iter().position(|w| w == "-p")?;
    if words.get(p + 1).map(String::as_str) != Some(package)
        || words.first().map(String::as_str) != Some("cargo")
    {
        return None;
    }
    let dashes = words.iter().position(|w| w == "--")?;
    Some(words[dashes + 1..].to_vec())
}

/// What happened to a step run locally.
#[derive(Debug, Clone, Serialize)]
pub struct Ran {
    pub name: String,
    /// "ok", "failed (exit N)", or why it was skipped.
    pub outcome: String,
    pub seconds: f64,
}

// ANCHOR: run_locally
/// Runs the workflow's `run:` steps in order from `root`, as a runner would: actions are
/// skipped (they exist on GitHub only), a step with an `if:` runs only if `always()` or the
/// condition is `github.ref == 'refs/heads/main'` and `main` is true; the first failing step
/// fails the run (later steps are skipped unless `if: always()`).
pub fn run_locally(
    wf: &Workflow,
    root: &Path,
    main: bool,
    extra_env: &[(String, String)],
) -> Result<(bool, Vec<Ran>)> {
    let mut failed = false;
    let mut out = Vec::new();
    for step in &wf.steps {
        let Some(command) = &step.run else {
            out.push(Ran {
                name: step.name.clone(),
                outcome: "skipped (an action: GitHub only)".into(),
                seconds: 0.0,
            });
            continue;
        };
        let always = step.condition.as_deref() == Some("always()");
        let wanted = match step.condition.as_deref() {
            None => true,
            Some("always()") => true,
            Some("github.ref == 'refs/heads/main'") => main,
            Some(other) => {
                return Err(bad(
                    &step.name,
                    format!("a condition the local runner cannot judge: {other}"),
                ));
            }
        };
        if (failed && !always) || !wanted {
            out.push(Ran {
                name: step.name.clone(),
                outcome: "skipped".into(),
                seconds: 0.0,
            });
            continue;
        }
        let start = std::time::Instant::now();
        let mut cmd = Command::new("bash");
        cmd.arg("-e").arg("-c").arg(command).current_dir(root);
        for (k, v) in wf.env.iter().chain(extra_env) {
            // GitHub's expressions (${{ … }}) are for GitHub; locally the extra env says.
            if !v.contains("${{") {
                cmd.env(k, v);
            }
        }
        let status = cmd
            .status()
            .map_err(|e| bad(&step.name, format!("cannot start bash: {e}")))?;
        let outcome = if status.success() {
            "ok".to_string()
        } else {
            failed = true;
            format!("failed (exit {})", status.code().unwrap_or(-1))
        };
        out.push(Ran {
            name: step.name.clone(),
            outcome,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    Ok((!failed, out))
}
// ANCHOR_END: run_locally
