//! Containerfiles (Dockerfiles) read into stages and instructions, and linted for the three
//! things that make an image slow to rebuild or unsafe to run: sources copied before the
//! dependencies are built (every edit rebuilds every crate), a runtime image that still holds the
//! toolchain, and a process that runs as root.

use anyhow::{Result, bail};
use serde::Serialize;

/// One instruction: its line (of its first line, when continued with `\`), its keyword in
/// capitals and its arguments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instruction {
    pub line: usize,
    pub keyword: String,
    pub args: String,
}

/// A build stage: what `FROM` names, its `AS` name, its instructions after `FROM`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub line: usize,
    pub from: String,
    pub name: Option<String>,
    pub instructions: Vec<Instruction>,
}

/// A problem, at a line of the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub line: usize,
    pub rule: &'static str,
    pub message: String,
}

const KEYWORDS: [&str; 18] = [
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
    "MAINTAINER",
];

/// Reads a Containerfile: comments and blank lines dropped, `\` continuations joined, one stage
/// per `FROM`. An unknown instruction or one before the first `FROM` (other than `ARG`) is an
/// error naming its line.
pub fn parse(text: &str) -> Result<Vec<Stage>> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if pending.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if pending.is_some() && trimmed.starts_with('#') {
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        if let Some(body) = trimmed.strip_suffix('\\') {
            joined.push_str(body);
            joined.push(' ');
            pending = Some((start, joined));
            continue;
        }
        joined.push_str(trimmed);
        let (keyword, args) = joined
            .split_once(char::is_whitespace)
            .unwrap_or((joined.as_str(), ""));
        let keyword = keyword.to_ascii_uppercase();
        if !KEYWORDS.contains(&keyword.as_str()) {
            bail!("line {start}: unknown instruction {keyword:?}");
        }
        let args = args.split_whitespace().collect::<Vec<_>>().join(" ");
        if keyword == "FROM" {
            let words: Vec<&str> = args.split(' ').filter(|w| !w.starts_with("--")).collect();
            let (from, name) = match words.as_slice() {
                [image] => (image.to_string(), None),
                [image, as_, name] if as_.eq_ignore_ascii_case("as") => {
                    (image.to_string(), Some(name.to_string()))
                }
                _ => bail!("line {start}: FROM {args:?}, expected FROM image [AS name]"),
            };
            stages.push(Stage {
                line: start,
                from,
                name,
                instructions: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push(Instruction {
                line: start,
                keyword,
                args,
            });
        } else if keyword != "ARG" {
            bail!("line {start}: {keyword} before the first FROM");
        }
    }
    if pending.is_some() {
        bail!("the file ends in the middle of a continued line");
    }
    if stages.is_empty() {
        bail!("no FROM: not a Containerfile");
    }
    Ok(stages)
}

/// The sources of a `COPY` or `ADD` (its arguments but the flags and the destination), and
/// its `--from` stage if any. The JSON form (`COPY ["a", "b"]`) is read too.
pub fn copy_sources(args: &str) -> (Vec<String>, Option<String>) {
    let from = args
        .split(' ')
        .find_map(|w| w.strip_prefix("--from="))
        .map(str::to_string);
    let rest: Vec<&str> = args.split(' ').filter(|w| !w.starts_with("--")).collect();
    let rest = rest.join(" ");
    let words: Vec<String> = match serde_json::from_str::<Vec<String>>(&rest) {
        Ok(list) => list,
        Err(_) => rest
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect(),
    };
    let sources = if words.len() > 1 {
        words[..words.len() - 1].to_vec()
    } else {
        Vec::new()
    };
    (sources, from)
}

fn builds(i: &Instruction) -> bool {
    i.keyword == "RUN"
        && (i.args.contains("cargo build")
            || i.args.contains("cargo chef cook")
            || i.args.contains("cargo install"))
}

// ANCHOR: dependency_layer
/// The line of the first copy of the sources (`.`, `./`, `src` or anything under it, from the
/// build context) that comes before the stage's first Rust build, or `None` when the stage
/// builds its dependencies from the manifests alone first (or builds nothing). Such a copy
/// makes every edit of a source file invalidate the layer that compiles the dependencies.
pub fn sources_before_dependencies(stage: &Stage) -> Option<usize> {
    // BEGIN SOLUTION dependency_layer
    let first_build = stage.instructions.iter().position(builds)?;
    stage.instructions[..first_build].iter().find_map(|i| {
        if i.keyword != "COPY" && i.keyword != "ADD" {
            return None;
        }
        let (sources, from) = copy_sources(&i.args);
        let copies_tree = sources.iter().any(|s| {
            let s = s.trim_start_matches("./");
            s.is_empty() || s == "." || s == "src" || s.starts_with("src/")
        });
        (from.is_none() && copies_tree).then_some(i.line)
    })
    // END SOLUTION
}
// ANCHOR_END: dependency_layer

/// Every finding on a Containerfile's stages.
pub fn lint(stages: &[Stage]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for stage in stages {
        if let Some(line) = sources_before_dependencies(stage) {
            findings.push(Finding {
                line,
                rule: "dependency-layer",
                message: "the sources are copied before the dependencies are built: every edit rebuilds every dependency (copy Cargo.toml and Cargo.lock, build, then copy src)".into(),
            });
        }
        for i in &stage.instructions {
            if i.keyword == "ADD" && (i.args.contains("http://") || i.args.contains("https://")) {
                findings.push(Finding { line: i.line, rule: "add-url", message: "ADD of a URL: unpinned and unchecked; download with a checksum in a RUN, or COPY".into() });
            }
        }
        let named_stage = stages
            .iter()
            .any(|s| s.name.as_deref() == Some(stage.from.as_str()));
        let pinned = stage.from == "scratch" || named_stage || {
            let (_, tag) = crate::kustomize::split_image(&stage.from);
            stage.from.contains('@') || tag.is_some_and(|t| t != "latest")
        };
        if !pinned {
            findings.push(Finding {
                line: stage.line,
                rule: "unpinned-base",
                message: format!("FROM {}: name a tag or a digest", stage.from),
            });
        }
    }
    let Some(last) = stages.last() else {
        return findings;
    };
    if last.instructions.iter().any(builds) {
        findings.push(Finding {
            line: last.line,
            rule: "toolchain-in-runtime",
            message: "the final stage builds the binary itself: the image ships the compiler, the sources and the build's intermediate files (build in an earlier stage, copy the binary)".into(),
        });
    }
    let user = last
        .instructions
        .iter()
        .rev()
        .find(|i| i.keyword == "USER")
        .map(|i| i.args.clone());
    let root = match user.as_deref() {
        None => true,
        Some(u) => {
            let who = u.split(':').next().unwrap_or(u);
            who == "root" || who == "0"
        }
    };
    if root {
        findings.push(Finding {
            line: last.line,
            rule: "runs-as-root",
            message: "the final stage sets no USER other than root: the process runs as root"
                .into(),
        });
    }
    findings
}

/// The layers an image's final stage adds to its base: its `RUN`, `COPY` and `ADD` instructions.
pub fn added_layers(stage: &Stage) -> usize {
    stage
        .instructions
        .iter()
        .filter(|i| matches!(i.keyword.as_str(), "RUN" | "COPY" | "ADD"))
        .count()
}
