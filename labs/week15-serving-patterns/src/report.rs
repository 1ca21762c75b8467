//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;
use week15_serving_patterns::batch::PartReport;
use week15_serving_patterns::loadgen::LoadPoint;
use week15_serving_patterns::model::ScoringModel;

#[derive(Serialize)]
pub struct Report {
    pub rows: usize,
    pub data_dir: String,
    pub model: ScoringModel,
    pub model_sha256: String,
    pub query: String,
    pub runs: Vec<BatchRun>,
    pub parts_equal_whole: bool,
    pub output_rows: usize,
    pub head: String,
    pub metadata: Vec<(String, String)>,
    pub resident_mib: f64,
    pub online: Online,
}

/// One batch run: its part files and speed.
#[derive(Serialize)]
pub struct BatchRun {
    pub out_dir: String,
    pub parts: Vec<PartReport>,
    pub rows_per_second: f64,
}

/// The online half: the network and the service measured under load.
#[derive(Serialize)]
pub struct Online {
    pub hidden: usize,
    pub train_loss: f64,
    pub max_batches: Vec<usize>,
    pub by_batch: Vec<LoadPoint>,
    /// (max batch, points at each offered load).
    pub by_load: Vec<(usize, Vec<LoadPoint>)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.model;
        writeln!(
            f,
            "1. Data: {} transactions, 20,000 customers and 50,000 labelled transactions in {}",
            self.rows, self.data_dir
        )?;
        writeln!(
            f,
            "   Model {}: held-out log-loss {:.4}; the true probabilities score {:.4} (no model can do better)",
            m.model_version, m.holdout_log_loss, m.bayes_log_loss
        )?;
        writeln!(
            f,
            "   model file SHA-256 {}…\n",
            self.model_sha256.get(..16).unwrap_or(&self.model_sha256)
        )?;
        writeln!(
            f,
            "2. Batch scoring: the features in SQL (polars' SQL engine)"
        )?;
        for line in self.query.lines() {
            writeln!(f, "     {line}")?;
        }
        for run in &self.runs {
            writeln!(
                f,
                "   {} part(s) into {}: {:.0} rows/s",
                run.parts.len(),
                run.out_dir,
                run.rows_per_second
            )?;
            for p in &run.parts {
                writeln!(
                    f,
                    "     partition {}: rows {}..{} in {:.0} ms",
                    p.partition,
                    p.first_row,
                    p.first_row + p.rows,
                    p.seconds * 1e3
                )?;
            }
        }
        writeln!(
            f,
            "   4 parts read back in order equal the single part: {} ({} rows, each input row once)",
            self.parts_equal_whole, self.output_rows
        )?;
        writeln!(f, "   part 2/4's Parquet metadata:")?;
        for (k, v) in &self.metadata {
            writeln!(f, "     {k} = {v}")?;
        }
        writeln!(f, "   the output's first rows:")?;
        for line in self.head.lines() {
            writeln!(f, "     {line}")?;
        }
        writeln!(
            f,
            "   peak memory of this process: {:.0} MiB\n",
            self.resident_mib
        )?;
        let o = &self.online;
        writeln!(
            f,
            "3. Online: a network 6 → {h} → {h} → 1 (training loss {:.4}) behind axum and the dynamic batcher",
            o.train_loss,
            h = o.hidden
        )?;
        writeln!(f, "   64 clients, closed loop (max wait 2 ms, queue 256):")?;
        for (b, p) in o.max_batches.iter().zip(&o.by_batch) {
            writeln!(
                f,
                "     max batch {b:>2}: {:>5.0} answered/s, p50 {:>6.2} ms, p99 {:>6.2} ms, mean batch {:>4.1}",
                p.throughput_rps, p.p50_ms, p.p99_ms, p.mean_batch
            )?;
        }
        for (max_batch, points) in &o.by_load {
            writeln!(f, "   open loop, max batch {max_batch}:")?;
            for p in points {
                writeln!(
                    f,
                    "     offered {:>6.0}/s: {:>5.0} answered/s, {:>5} shed (503), p50 {:>7.2} ms, p99 {:>7.2} ms",
                    p.offered_rps, p.throughput_rps, p.shed, p.p50_ms, p.p99_ms
                )?;
            }
        }
        if cfg!(debug_assertions) {
            writeln!(
                f,
                "\n(A debug build: the chapter's numbers come from --release.)"
            )?;
        }
        Ok(())
    }
}
