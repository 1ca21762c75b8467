//! The dependency audit: what `cargo audit` does, on a vendored snapshot of the RustSec advisory
//! database, so that it runs offline and gives the same answer in every CI run until the
//! snapshot is refreshed (`vendor-advisories.sh`).
//!
//! Each advisory is a Markdown file opening with a TOML block: its id, package, kind
//! (`informational = "unsound"`, `"unmaintained"`; none for a vulnerability), and the version
//! requirements that are `patched` or `unaffected`. A locked package is affected when its version
//! meets none of them.

use crate::{Context, Result, invalid};
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One advisory, as the snapshot holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advisory {
    pub id: String,
    pub package: String,
    /// `vulnerability`, or the advisory's `informational` kind (`unsound`, `unmaintained`, …).
    pub kind: String,
    pub title: String,
    pub patched: Vec<String>,
    pub unaffected: Vec<String>,
    pub withdrawn: bool,
}

#[derive(Deserialize)]
struct Front {
    advisory: FrontAdvisory,
    #[serde(default)]
    versions: FrontVersions,
}

#[derive(Deserialize)]
struct FrontAdvisory {
    id: String,
    package: String,
    informational: Option<String>,
    withdrawn: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
struct FrontVersions {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

/// Reads one advisory file's text (`origin` names it in errors).
pub fn parse_advisory(text: &str, origin: &str) -> Result<Advisory> {
    let body = text
        .strip_prefix("```toml\n")
        .ok_or_else(|| invalid(origin, "an advisory opens with a ```toml block"))?;
    let end = body
        .find("\n```")
        .ok_or_else(|| invalid(origin, "the ```toml block is not closed"))?;
    let front: Front = toml::from_str(&body[..end]).map_err(|e| invalid(origin, e.to_string()))?;
    let title = body[end + 4..]
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or("")
        .trim()
        .to_string();
    Ok(Advisory {
        id: front.advisory.id,
        package: front.advisory.package,
        kind: front
            .advisory
            .informational
            .unwrap_or_else(|| "vulnerability".to_string()),
        title,
        patched: front.versions.patched,
        unaffected: front.versions.unaffected,
        withdrawn: front.advisory.withdrawn.is_some(),
    })
}

/// Every advisory under `dir/crates/*/*.md`, sorted by id.
pub fn load_db(dir: &Path) -> Result<Vec<Advisory>> {
    let crates = dir.join("crates");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&crates).during(format!("reading {}", crates.display()))? {
        let sub = entry.during("listing the advisories")?.path();
        for file in std::fs::read_dir(&sub).during(format!("reading {}", sub.display()))? {
            let path = file.during("listing the advisories")?.path();
            if path.extension().is_some_and(|e| e == "md") {
                let text =
                    std::fs::read_to_string(&path).during(format!("reading {}", path.display()))?;
                out.push(parse_advisory(&text, &path.display().to_string())?);
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// A package of `Cargo.lock` from a registry (workspace members have no `source`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locked {
    pub name: String,
    pub version: String,
}

/// The registry packages of a `Cargo.lock`'s text.
pub fn parse_lock(text: &str) -> Result<Vec<Locked>> {
    #[derive(Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Pkg>,
    }
    #[derive(Deserialize)]
    struct Pkg {
        name: String,
        version: String,
        source: Option<String>,
    }
    let lock: Lock = toml::from_str(text).map_err(|e| invalid("Cargo.lock", e.to_string()))?;
    Ok(lock
        .package
        .into_iter()
        .filter(|p| {
            p.source
                .as_deref()
                .is_some_and(|s| s.starts_with("registry+"))
        })
        .map(|p| Locked {
            name: p.name,
            version: p.version,
        })
        .collect())
}

// ANCHOR: affected
/// Whether `version` is affected by `advisory`: it meets none of the `patched` requirements and
/// none of the `unaffected` ones (a withdrawn advisory affects nothing).
pub fn affected(advisory: &Advisory, version: &Version) -> Result<bool> {
    // BEGIN SOLUTION affected
    if advisory.withdrawn {
        return Ok(false);
    }
    for req in advisory.patched.iter().chain(&advisory.unaffected) {
        let req = VersionReq::parse(req)
            .map_err(|e| invalid(&advisory.id, format!("version requirement {req:?}: {e}")))?;
        if req.matches(version) {
            return Ok(false);
        }
    }
    Ok(true)
    // END SOLUTION
}
// ANCHOR_END: affected

/// One locked package an advisory applies to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: String,
    pub package: String,
    pub version: String,
    pub kind: String,
    pub title: String,
    pub patched: Vec<String>,
}

/// The findings of `db` on `locked`, by advisory id.
pub fn audit(db: &[Advisory], locked: &[Locked]) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    for p in locked {
        let version = Version::parse(&p.version)
            .map_err(|e| invalid("Cargo.lock", format!("{} {}: {e}", p.name, p.version)))?;
        for a in db.iter().filter(|a| a.package == p.name) {
            if affected(a, &version)? {
                out.push(Finding {
                    id: a.id.clone(),
                    package: p.name.clone(),
                    version: p.version.clone(),
                    kind: a.kind.clone(),
                    title: a.title.clone(),
                    patched: a.patched.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.id, &a.version).cmp(&(&b.id, &b.version)));
    Ok(out)
}

/// An advisory accepted for now, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ignore {
    pub id: String,
    pub reason: String,
}

/// The `[[ignore]]` entries of an ignore file's text; each needs an id and a non-empty reason.
pub fn parse_ignores(text: &str) -> Result<Vec<Ignore>> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        ignore: Vec<Ignore>,
    }
    let f: File = toml::from_str(text).map_err(|e| invalid("ignore file", e.to_string()))?;
    for i in &f.ignore {
        if i.reason.trim().is_empty() {
            return Err(invalid(
                "ignore file",
                format!("{} is ignored without a reason", i.id),
            ));
        }
    }
    Ok(f.ignore)
}

/// The audit's verdict: the vulnerabilities nobody accepted (these fail the build), the ones
/// accepted, the warnings (unsound, unmaintained), and the ignore entries that match nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub failing: Vec<Finding>,
    pub ignored: Vec<Finding>,
    pub warnings: Vec<Finding>,
    pub stale_ignores: Vec<String>,
}

/// Sorts `findings` by what `ignores` accepts.
pub fn judge(findings: Vec<Finding>, ignores: &[Ignore]) -> Verdict {
    let accepted = |id: &str| ignores.iter().any(|i| i.id == id);
    let stale_ignores = ignores
        .iter()
        .filter(|i| findings.iter().all(|f| f.id != i.id))
        .map(|i| i.id.clone())
        .collect();
    let (mut failing, mut ignored, mut warnings) = (Vec::new(), Vec::new(), Vec::new());
    for f in findings {
        if accepted(&f.id) {
            ignored.push(f);
        } else if f.kind == "vulnerability" {
            failing.push(f);
        } else {
            warnings.push(f);
        }
    }
    Verdict {
        failing,
        ignored,
        warnings,
        stale_ignores,
    }
}

impl std::fmt::Display for Verdict {
    /// One line per finding (`FAILS`, `accepted`, `warning`) and per stale ignore entry.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lists = [
            ("FAILS", &self.failing),
            ("accepted", &self.ignored),
            ("warning", &self.warnings),
        ];
        for (label, list) in lists {
            for x in list {
                writeln!(
                    f,
                    "{label:<8} {} {} {} ({}): {}",
                    x.id, x.package, x.version, x.kind, x.title
                )?;
            }
        }
        for id in &self.stale_ignores {
            writeln!(f, "stale ignore entry: {id} matches no locked package")?;
        }
        Ok(())
    }
}
