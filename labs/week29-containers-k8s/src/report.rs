//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::{Deserialize, Serialize};
use std::fmt;
use week29_containers_k8s::containerfile;

/// One Containerfile, linted.
#[derive(Serialize)]
pub struct ContainerfileRow {
    pub file: String,
    pub stages: usize,
    pub final_from: String,
    pub added_layers: usize,
    pub findings: Vec<containerfile::Finding>,
}

/// One image as `deploy/image-bench.sh` measured it (deploy/images.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRow {
    pub variant: String,
    pub size_bytes: u64,
    pub layers: usize,
    pub build_s: f64,
    pub rebuild_s: f64,
    pub cold_start_ms: f64,
}

/// The measurements and where they were taken.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Images {
    pub measured_on: String,
    pub variants: Vec<ImageRow>,
}

/// One environment, rendered.
#[derive(Serialize)]
pub struct EnvRow {
    pub env: String,
    pub namespace: String,
    pub objects: usize,
    pub replicas: i64,
    pub image: String,
    pub hpa: String,
    pub pdb: String,
    pub requests: String,
    pub limits: String,
    pub findings: usize,
}

/// A planted break and what the lint found.
#[derive(Serialize)]
pub struct PlantRow {
    pub what: String,
    pub found: Vec<String>,
}

/// One moment of the service's life, as the probes and a client saw it.
#[derive(Serialize)]
pub struct ProbeRow {
    pub when: String,
    pub endpoint: String,
    pub status: u16,
}

#[derive(Serialize)]
pub struct Report {
    pub containerfiles: Vec<ContainerfileRow>,
    pub images: Option<Images>,
    pub base: Vec<String>,
    pub stale: Vec<String>,
    pub environments: Vec<EnvRow>,
    pub plants: Vec<PlantRow>,
    pub probes: Vec<ProbeRow>,
    pub ready_after_ms: f64,
    pub warmup_ms: u64,
    /// The probes polled every 20 ms or so: (ms since start, liveness 200, readiness 200).
    pub timeline: Vec<(f64, bool, bool)>,
    /// When SIGTERM's drain began (ms since start).
    pub drained_at_ms: f64,
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "The Containerfiles (deploy/), linted:")?;
        for c in &self.containerfiles {
            writeln!(
                f,
                "  {:<26} {} stage(s), final FROM {}, {} layer(s) added",
                c.file, c.stages, c.final_from, c.added_layers
            )?;
            if c.findings.is_empty() {
                writeln!(f, "    no findings")?;
            }
            for x in &c.findings {
                writeln!(f, "    line {:>2} [{}] {}", x.line, x.rule, x.message)?;
            }
        }
        writeln!(f)?;
        match &self.images {
            None => writeln!(
                f,
                "The images: not measured yet (bash labs/week29-containers-k8s/deploy/image-bench.sh)"
            )?,
            Some(images) => {
                writeln!(
                    f,
                    "The images, as deploy/image-bench.sh measured them ({}):",
                    images.measured_on
                )?;
                writeln!(
                    f,
                    "  {:<12} {:>11} {:>7} {:>10} {:>19} {:>11}",
                    "variant", "size", "layers", "build", "rebuild after edit", "cold start"
                )?;
                for r in &images.variants {
                    writeln!(
                        f,
                        "  {:<12} {:>11} {:>7} {:>8.1} s {:>17.1} s {:>8.0} ms",
                        r.variant,
                        mib(r.size_bytes),
                        r.layers,
                        r.build_s,
                        r.rebuild_s,
                        r.cold_start_ms
                    )?;
                }
            }
        }
        writeln!(f)?;
        writeln!(f, "The base, from the Rust types: {}", self.base.join(", "))?;
        if self.stale.is_empty() {
            writeln!(
                f,
                "  the committed YAML equals what the types and overlays render"
            )?;
        } else {
            writeln!(
                f,
                "  OUT OF DATE (run `-- render --write`): {}",
                self.stale.join(", ")
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "The environments, rendered from their overlays and linted:"
        )?;
        writeln!(
            f,
            "  {:<5} {:<12} {:>7} {:>8} {:<34} {:<6} {:<18} {:<18} {:<16} {:>8}",
            "env",
            "namespace",
            "objects",
            "replicas",
            "image",
            "HPA",
            "PDB",
            "requests",
            "limits",
            "findings"
        )?;
        for e in &self.environments {
            writeln!(
                f,
                "  {:<5} {:<12} {:>7} {:>8} {:<34} {:<6} {:<18} {:<18} {:<16} {:>8}",
                e.env,
                e.namespace,
                e.objects,
                e.replicas,
                e.image,
                e.hpa,
                e.pdb,
                e.requests,
                e.limits,
                e.findings
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Breaks planted in the production manifests, and what the lint found:"
        )?;
        for p in &self.plants {
            writeln!(f, "  {}:", p.what)?;
            if p.found.is_empty() {
                writeln!(f, "    NOTHING FOUND")?;
            }
            for x in &p.found {
                writeln!(f, "    {x}")?;
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "The probes of the production Deployment against the real service (loopback, WARMUP_MS {}):",
            self.warmup_ms
        )?;
        for p in &self.probes {
            writeln!(f, "  {:<34} {:<22} {}", p.when, p.endpoint, p.status)?;
        }
        writeln!(f, "  ready after {:.0} ms", self.ready_after_ms)
    }
}
