//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct ErlangRow {
    pub replicas: usize,
    pub utilisation: f64,
    pub p_wait: f64,
    pub p_wait_sim: f64,
    /// In units of the mean service time (1 s).
    pub mean_wait: f64,
    pub mean_wait_sim: f64,
    pub requests: usize,
}

#[derive(Serialize)]
pub struct BatchRow {
    pub batch: usize,
    pub calls: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Requests per second one replica serves at this batch size.
    pub per_second: f64,
}

#[derive(Serialize)]
pub struct BatchingRow {
    /// Offered load over what batches of 1 serve.
    pub load: f64,
    pub rate: f64,
    pub max_batch: usize,
    pub mean_batch: f64,
    pub utilisation: f64,
    pub p99_ms: f64,
    pub refused: f64,
}

#[derive(Serialize)]
pub struct LlmSummary {
    pub model: String,
    pub measured: String,
    pub machine: String,
    pub requests: usize,
    pub max_tokens: usize,
    pub mean_s: f64,
    pub p50_s: f64,
    pub p95_s: f64,
    pub cv: f64,
    pub mean_tokens: f64,
}

#[derive(Serialize)]
pub struct PolicyRow {
    pub policy: String,
    pub slo_attainment: f64,
    pub p95_s: f64,
    pub p99_s: f64,
    pub refused: usize,
    pub replica_hours: f64,
    pub utilisation: f64,
    pub scale_events: usize,
    pub peak_replicas: usize,
}

/// A policy's day, window by window: (hour, arrivals/s, replicas, p95 s, queue).
#[derive(Serialize)]
pub struct Timeline {
    pub policy: String,
    pub windows: Vec<(f64, f64, f64, f64, f64)>,
}

#[derive(Serialize)]
pub struct Day {
    pub requests: usize,
    pub mean_rate: f64,
    pub peak_rate: f64,
    pub mean_service_s: f64,
    pub peak_replicas: usize,
    pub mean_replicas: usize,
    pub policies: Vec<PolicyRow>,
    #[serde(skip)]
    pub timelines: Vec<Timeline>,
}

#[derive(Serialize)]
pub struct PackRow {
    pub strategy: String,
    pub gpus: usize,
    pub memory: f64,
    pub compute: f64,
}

#[derive(Serialize)]
pub struct Packings {
    pub jobs: usize,
    pub rows: Vec<PackRow>,
    /// The exact packing's GPUs, by job name.
    pub placement: Vec<Vec<String>>,
    /// Each MIG GPU's instances as profile@first-memory-slice.
    pub mig_layout: Vec<String>,
    pub instances: usize,
    pub ffd_optimal: usize,
    pub bfd_optimal: usize,
    pub ffd_most_extra: usize,
    pub bfd_most_extra: usize,
}

/// The lab's results: the JSON of `--json` (its fields) and the printed report (`Display`).
#[derive(Serialize)]
pub struct Report {
    pub erlang: Vec<ErlangRow>,
    pub batcher: Vec<BatchRow>,
    pub batching: Vec<BatchingRow>,
    pub llm: LlmSummary,
    pub day: Day,
    pub packing: Packings,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "1. The simulator against Erlang C (M/M/c, service 1 s, 200,000 requests each):"
        )?;
        writeln!(
            f,
            "   replicas  utilisation   P(wait) theory / simulated   mean wait theory / simulated"
        )?;
        for r in &self.erlang {
            writeln!(
                f,
                "   {:>8}  {:>10.0} %   {:>13.4} / {:<9.4}   {:>14.4} s / {:.4} s",
                r.replicas,
                100.0 * r.utilisation,
                r.p_wait,
                r.p_wait_sim,
                r.mean_wait,
                r.mean_wait_sim
            )?;
        }
        writeln!(
            f,
            "\n2. Week 15's network (6 → 512 → 512 → 1) timed behind week 15's batcher:"
        )?;
        for r in &self.batcher {
            writeln!(
                f,
                "   batch {:>2}: p50 {:.3} ms, p99 {:.3} ms, {:.0} requests/s ({} calls)",
                r.batch, r.p50_ms, r.p99_ms, r.per_second, r.calls
            )?;
        }
        writeln!(
            f,
            "   one replica simulated with these times (a queue of 256, as week 15's service):"
        )?;
        for r in &self.batching {
            writeln!(
                f,
                "   {:.1} × batch-1 capacity, max batch {:>2}: mean batch {:.1}, busy {:.0} %, p99 {:.3} ms, refused {:.1} %",
                r.load,
                r.max_batch,
                r.mean_batch,
                100.0 * r.utilisation,
                r.p99_ms,
                100.0 * r.refused
            )?;
        }
        let l = &self.llm;
        writeln!(
            f,
            "\n3. SmolLM2 as one replica serves it (data/llm-service-times.json, measured {} on {}):",
            l.measured, l.machine
        )?;
        writeln!(
            f,
            "   {} requests of up to {} tokens ({:.0} on average): mean {:.2} s, p50 {:.2} s, p95 {:.2} s, CV {:.2}",
            l.requests, l.max_tokens, l.mean_tokens, l.mean_s, l.p50_s, l.p95_s, l.cv
        )?;
        let d = &self.day;
        writeln!(
            f,
            "\n4. A traffic day: {} requests, mean {:.2}/s, peak {:.1}/s (20:00), SLO {} s, cold start {} s:",
            d.requests,
            d.mean_rate,
            d.peak_rate,
            crate::demo::SLO_S,
            crate::demo::COLD_START_S,
        )?;
        writeln!(
            f,
            "   Erlang C sizes the peak at {} replicas and the mean at {} (99 % waiting ≤ 2 s)",
            d.peak_replicas, d.mean_replicas
        )?;
        writeln!(
            f,
            "   {:<32} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6} {:>7} {:>5}",
            "policy", "in SLO", "p95 s", "p99 s", "refused", "rep-hours", "busy", "scaled", "peak"
        )?;
        for p in &d.policies {
            writeln!(
                f,
                "   {:<32} {:>7.2}% {:>8.2} {:>8.2} {:>8} {:>9.1} {:>5.0}% {:>7} {:>5}",
                p.policy,
                100.0 * p.slo_attainment,
                p.p95_s,
                p.p99_s,
                p.refused,
                p.replica_hours,
                100.0 * p.utilisation,
                p.scale_events,
                p.peak_replicas
            )?;
        }
        let p = &self.packing;
        writeln!(f, "\n5. {} inference jobs on 80 GB GPUs:", p.jobs)?;
        writeln!(
            f,
            "   {:<36} {:>5} {:>8} {:>8}",
            "strategy", "GPUs", "memory", "compute"
        )?;
        for r in &p.rows {
            writeln!(
                f,
                "   {:<36} {:>5} {:>7.0}% {:>7.0}%",
                r.strategy,
                r.gpus,
                100.0 * r.memory,
                100.0 * r.compute
            )?;
        }
        writeln!(f, "   the exact packing:")?;
        for (g, names) in p.placement.iter().enumerate() {
            writeln!(f, "     GPU {g}: {}", names.join(", "))?;
        }
        writeln!(f, "   the MIG layout (profile@first memory slice):")?;
        for (g, layout) in p.mig_layout.iter().enumerate() {
            writeln!(f, "     GPU {g}: {layout}")?;
        }
        writeln!(
            f,
            "   {} random instances of 12 jobs: first fit decreasing optimal on {} (at worst +{} GPU), best fit on {} (at worst +{})",
            p.instances, p.ffd_optimal, p.ffd_most_extra, p.bfd_optimal, p.bfd_most_extra
        )
    }
}
