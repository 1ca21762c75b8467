//! The lab's tools: render the manifests (or check they are up to date), lint manifests or
//! Containerfiles, write a manifest with a planted schema error.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::PathBuf;
use week29_containers_k8s::{containerfile, files, kustomize, lint};

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Generate the base from the Rust types and render each overlay; without --write, fail if
    /// the committed files differ
    Render {
        /// Write the files instead of checking them
        #[arg(long)]
        write: bool,
    },
    /// Check manifests (YAML files, several documents each) for what the schema cannot see
    Lint {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check Containerfiles for slow rebuilds, a toolchain in the runtime image, root
    Containerfile {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write the production manifests with a misspelt field (`readinesProbe`), for the schema
    /// check to refuse
    Plant {
        #[arg(long, value_parser = wb_lab::writable_file)]
        out: PathBuf,
    },
}

pub fn run(command: Command) -> Result<()> {
    let lab = files::lab_dir();
    match command {
        Command::Render { write: true } => {
            for (path, text) in files::generated(&lab)? {
                // Written beside, then renamed: a kill mid-write leaves the old file whole.
                let target = lab.join(&path);
                let partial = target.with_extension("yaml.part");
                std::fs::write(&partial, text)
                    .and_then(|()| std::fs::rename(&partial, &target))
                    .with_context(|| format!("{}: cannot write it", path.display()))?;
                println!("wrote {}", path.display());
            }
        }
        Command::Render { write: false } => {
            let stale = files::stale(&lab)?;
            if !stale.is_empty() {
                let names: Vec<String> = stale.iter().map(|p| p.display().to_string()).collect();
                bail!(
                    "out of date with src/manifests.rs and the overlays: {} (run `render --write`)",
                    names.join(", ")
                );
            }
            println!("the base and the rendered environments are up to date");
        }
        Command::Lint { files } => {
            let mut objects = Vec::new();
            for f in &files {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("{}: cannot read it", f.display()))?;
                objects.extend(kustomize::parse_documents(&text, &f.display().to_string())?);
            }
            let findings = lint::lint(&objects)?;
            for f in &findings {
                println!("{f}");
            }
            if !findings.is_empty() {
                bail!(
                    "{} finding(s) in {} object(s)",
                    findings.len(),
                    objects.len()
                );
            }
            println!("{} objects: no findings", objects.len());
        }
        Command::Containerfile { files } => {
            let mut total = 0;
            for f in &files {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("{}: cannot read it", f.display()))?;
                let stages =
                    containerfile::parse(&text).with_context(|| f.display().to_string())?;
                for finding in containerfile::lint(&stages) {
                    println!(
                        "{}:{}: [{}] {}",
                        f.display(),
                        finding.line,
                        finding.rule,
                        finding.message
                    );
                    total += 1;
                }
            }
            if total > 0 {
                bail!("{total} finding(s)");
            }
            println!("no findings");
        }
        Command::Plant { out } => {
            let mut objects = files::environment(&lab, "prod")?;
            let deployment = objects
                .iter_mut()
                .find(|o| o["kind"] == "Deployment")
                .context("the production manifests hold no Deployment")?;
            let container = deployment
                .pointer_mut("/spec/template/spec/containers/0")
                .and_then(|c| c.as_object_mut())
                .context("the Deployment has no container")?;
            let probe = container
                .remove("readinessProbe")
                .context("the container has no readinessProbe")?;
            container.insert("readinesProbe".to_string(), probe);
            std::fs::write(&out, kustomize::to_yaml(&objects)?)
                .with_context(|| format!("{}: cannot write it", out.display()))?;
            println!(
                "wrote {} (readinessProbe misspelt as readinesProbe)",
                out.display()
            );
        }
    }
    Ok(())
}
