//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;

#[derive(Serialize)]
pub struct Report {
    pub epochs: usize,
    pub test_accuracy: f64,
    pub model_dir: String,
    pub weights_sha256: String,
    pub over_http_correct: usize,
    pub over_http_agree: usize,
    pub test_images: usize,
    pub served: Served,
}

/// What the in-process service answered.
#[derive(Serialize)]
pub struct Served {
    pub ready_before_install: u16,
    pub ready_after_install: u16,
    pub load: Load,
    pub examples: Vec<Example>,
    pub metrics: Vec<String>,
    pub drained: bool,
    pub batches: u64,
    pub items: u64,
}

/// The test set sent over HTTP.
#[derive(Serialize)]
pub struct Load {
    pub clients: usize,
    pub requests: usize,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_batch: f64,
    pub classes: Vec<u8>,
    pub probability: Vec<f64>,
}

/// One request and its answer.
#[derive(Serialize)]
pub struct Example {
    pub request: String,
    pub status: u16,
    pub body: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "1. The week 11 CNN trained for {} epochs on MNIST-10k: test accuracy {:.2} %",
            self.epochs,
            100.0 * self.test_accuracy
        )?;
        writeln!(
            f,
            "   saved to {} (model.safetensors + model.json, weights SHA-256 {}…) and loaded back\n",
            self.model_dir,
            self.weights_sha256.get(..16).unwrap_or_default()
        )?;
        let s = &self.served;
        writeln!(
            f,
            "2. Served on a free loopback port: GET /readyz answered {} before the model was installed, {} after",
            s.ready_before_install, s.ready_after_install
        )?;
        let l = &s.load;
        writeln!(
            f,
            "   the {} test images as PNG uploads from {} concurrent clients:",
            self.test_images, l.clients
        )?;
        writeln!(
            f,
            "   {} of {} classes equal the model's own forward pass; {} correct ({:.2} %)",
            self.over_http_agree,
            self.test_images,
            self.over_http_correct,
            100.0 * self.over_http_correct as f64 / self.test_images.max(1) as f64
        )?;
        writeln!(
            f,
            "   {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, mean batch {:.1} images\n",
            l.requests_per_second, l.p50_ms, l.p99_ms, l.mean_batch
        )?;
        writeln!(f, "3. What POST /v1/predict answers:")?;
        for e in &s.examples {
            writeln!(f, "   {} → {}\n      {}", e.request, e.status, e.body)?;
        }
        writeln!(f, "\n4. GET /metrics (excerpt):")?;
        for m in &s.metrics {
            writeln!(f, "   {m}")?;
        }
        writeln!(
            f,
            "\n5. Shutdown: not ready, stopped accepting, answered what was in flight; batcher drained: {} ({} images in {} batches)",
            s.drained, s.items, s.batches
        )?;
        writeln!(
            f,
            "\nIn a container: bash labs/week16-deploy-dl/deploy/container-test.sh (podman)"
        )
    }
}
