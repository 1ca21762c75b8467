//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;
use week08_ml_service::loadgen::LoadReport;
use week08_ml_service::model::TrainMetrics;

/// What the end-to-end demo found.
#[derive(Serialize)]
pub struct Report {
    pub artifact: String,
    pub format_version: u32,
    pub model_version: String,
    pub content_hash: String,
    pub metrics: TrainMetrics,
    pub examples: Vec<Example>,
    pub load: LoadReport,
}

/// One request of the demo and what the service answered.
#[derive(Serialize)]
pub struct Example {
    pub request: String,
    pub status: u16,
    pub body: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.metrics;
        writeln!(
            f,
            "1. Trained {} on {} rows: test accuracy {:.1}%, test AUC {:.4}",
            self.model_version,
            m.n_train,
            100.0 * m.test_accuracy,
            m.test_auc
        )?;
        writeln!(
            f,
            "   artifact {} (format {}, SHA-256 {}…)\n",
            self.artifact,
            self.format_version,
            self.content_hash.get(..16).unwrap_or(&self.content_hash)
        )?;
        writeln!(
            f,
            "2. Served on a free loopback port; what the endpoints answer:"
        )?;
        for e in &self.examples {
            let shown = match e.body.char_indices().nth(160) {
                Some((cut, _)) => format!("{}…", &e.body[..cut]),
                None => e.body.clone(),
            };
            writeln!(f, "   {} → {}\n      {shown}", e.request, e.status)?;
        }
        let load = &self.load;
        writeln!(
            f,
            "\n3. Load: 16 concurrent clients, 4000 requests of one record each (a debug build: try --release)"
        )?;
        writeln!(
            f,
            "   {} errors; throughput {:.0} requests/s",
            load.errors, load.throughput_rps
        )?;
        writeln!(
            f,
            "   latency p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            load.p50_ms, load.p95_ms, load.p99_ms, load.max_ms
        )?;
        writeln!(
            f,
            "\n4. Shutdown: stopped accepting, answered what was in flight, exited cleanly.\n"
        )?;
        writeln!(
            f,
            "Run it for real: cargo run -p week08-ml-service -- serve   (then curl, or loadgen in another terminal)"
        )
    }
}
