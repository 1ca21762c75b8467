//! Service times measured, not assumed: week 15's network (6 → 512 → 512 → 1) behind week 15's
//! dynamic batcher, timed call by call at each batch size; and SmolLM2 answering chat requests
//! (the LLM of weeks 18–27), timed request by request and kept in `data/llm-service-times.json`.

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wb_serve::{BatchConfig, Batcher};
use week15_serving_patterns::model::{FEATURES, ScoringModel};
use week15_serving_patterns::online::{self, Row};

/// Week 15's network, trained for one epoch on 2,048 synthetic rows: its weights do not change
/// how long a forward pass takes, its shape does.
fn week15_network() -> Result<online::Mlp> {
    let d = FEATURES.len();
    let standard = ScoringModel {
        model_version: "week30-timing".into(),
        features: FEATURES.iter().map(|f| f.to_string()).collect(),
        mean: vec![0.0; d],
        scale: vec![1.0; d],
        weights: vec![0.0; d],
        intercept: 0.0,
        threshold: 0.5,
        holdout_log_loss: f64::NAN,
        bayes_log_loss: f64::NAN,
    };
    let n = 2048;
    let columns: Vec<Vec<f64>> = (0..d)
        .map(|j| {
            (0..n)
                .map(|i| ((i * 31 + j * 17) % 97) as f64 / 97.0)
                .collect()
        })
        .collect();
    let labels: Vec<bool> = (0..n).map(|i| i % 7 == 0).collect();
    let (mlp, _) = online::train_mlp(&columns, &labels, &standard, 1, 30)?;
    Ok(mlp)
}

/// Times the network's calls by the batcher: for each batch size, `calls` batches of that many
/// requests submitted at once (after 5 unrecorded warm-up calls). Returns seconds per call.
pub fn week15_batcher(sizes: &[usize], calls: usize) -> Result<Vec<(usize, Vec<f64>)>> {
    ensure!(!sizes.is_empty(), "sizes: expected at least one batch size");
    ensure!(calls >= 1, "calls: expected at least 1, got 0");
    let mlp = Arc::new(week15_network()?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let mut out = Vec::new();
    for &b in sizes {
        ensure!(b >= 1, "sizes: expected batch sizes of at least 1, got 0");
        let times = Arc::new(Mutex::new(Vec::new()));
        let (model, record) = (Arc::clone(&mlp), Arc::clone(&times));
        let config = BatchConfig {
            max_batch: b,
            max_wait: Duration::from_millis(50),
            queue: 2 * b,
        };
        let batcher = Arc::new(Batcher::start(config, move |rows: Vec<Row>| {
            let start = Instant::now();
            let out = model.predict(&rows).map_err(|e| e.to_string());
            let seconds = start.elapsed().as_secs_f64();
            if let Ok(mut t) = record.lock() {
                t.push((rows.len(), seconds));
            }
            out
        })?);
        runtime.block_on(async {
            for _ in 0..calls + 5 {
                let mut set = tokio::task::JoinSet::new();
                for i in 0..b {
                    let batcher = Arc::clone(&batcher);
                    let row: Row = std::array::from_fn(|j| ((i + j) % 5) as f32);
                    set.spawn(async move { batcher.submit(row, Duration::from_secs(5)).await });
                }
                while let Some(r) = set.join_next().await {
                    r??;
                }
            }
            batcher.shutdown().await;
            anyhow::Ok(())
        })?;
        let times = times
            .lock()
            .map_err(|_| anyhow::anyhow!("a timing thread panicked"))?;
        let full: Vec<f64> = times
            .iter()
            .skip(5)
            .filter(|(n, _)| *n == b)
            .map(|(_, s)| *s)
            .collect();
        ensure!(
            full.len() * 2 >= calls,
            "batch {b}: only {} of {calls} calls were full batches",
            full.len()
        );
        out.push((b, full));
    }
    Ok(out)
}

/// SmolLM2's service times, as measured by `measure-llm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LlmTimes {
    pub model: String,
    pub measured: String,
    pub machine: String,
    pub max_tokens: usize,
    pub temperature: f64,
    /// Seconds per request (prefill and decode), in the order measured.
    pub seconds: Vec<f64>,
    pub completion_tokens: Vec<usize>,
}

/// The committed measurement.
pub fn load_llm_times(path: &Path) -> Result<LlmTimes> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read it (run `-- measure-llm`)", path.display()))?;
    let times: LlmTimes =
        serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
    ensure!(
        times.seconds.len() >= 10 && times.seconds.iter().all(|s| s.is_finite() && *s > 0.0),
        "{}: expected at least 10 positive times, got {}",
        path.display(),
        times.seconds.len()
    );
    Ok(times)
}

/// The requests `measure-llm` sends: questions of the kind the RAG service of weeks 21–24
/// answers, short and long.
pub const PROMPTS: [&str; 12] = [
    "What is a Kubernetes readiness probe for?",
    "Explain in two sentences why batching speeds up inference.",
    "List three causes of tail latency in a web service.",
    "What does an autoscaler's stabilisation window prevent?",
    "Summarise what a load balancer does.",
    "Give one advantage and one drawback of serverless inference.",
    "What is the difference between throughput and latency?",
    "Write a haiku about a queue.",
    "Why does a cold start hurt a service under a traffic spike?",
    "What is a GPU's memory used for during inference?",
    "Name two ways to reduce the cost of serving a language model.",
    "What is Little's law?",
];
