//! A load test on loopback: `concurrency` clients send predictions as fast as they are
//! answered; optionally an admin rolls the model back in the middle. Every answer's status,
//! latency and serving version is kept, so that the test can prove that no request failed and
//! that every request sent after the rollback was acknowledged was served by the version rolled
//! back to.

use crate::{Result, invalid};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The service level objective of the load tests: 99 % of predictions answered within this many
/// milliseconds, and none failed.
pub const SLO_P99_MS: f64 = 100.0;

/// One request of the test.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Sent, ms after the test started.
    pub sent_ms: f64,
    pub latency_ms: f64,
    /// HTTP status; 0 when the connection failed.
    pub status: u16,
    /// The version that answered.
    pub version: Option<i64>,
}

/// The test's shape.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LoadConfig {
    pub concurrency: usize,
    pub requests: usize,
    /// Roll back once this many requests were answered.
    pub rollback_after: Option<usize>,
}

/// The rollback in the middle: when it was asked for and acknowledged, ms after the start.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackTiming {
    pub asked_ms: f64,
    pub acked_ms: f64,
    pub status: u16,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// What the test measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub config: LoadConfig,
    pub seconds: f64,
    pub throughput_rps: f64,
    pub failed: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub by_version: BTreeMap<i64, usize>,
    pub rollback: Option<RollbackTiming>,
    /// Requests sent after the rollback was acknowledged and still served by the old version.
    pub stale_after_rollback: usize,
    #[serde(skip)]
    pub samples: Vec<Sample>,
}

/// The `q`-quantile (0 to 1) of `sorted` by the nearest-rank rule: the smallest value with at
/// least a share `q` of the values at or below it.
pub fn nearest_rank(sorted: &[f64], q: f64) -> Result<f64> {
    if sorted.is_empty() {
        return Err(invalid("sorted", "expected at least one value"));
    }
    if !(0.0..=1.0).contains(&q) {
        return Err(invalid("q", format!("a quantile from 0 to 1, got {q}")));
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    Ok(sorted[rank - 1])
}

/// Runs the test against `base` with the `chat` key `key`, cycling through `rows` (each
/// [`crate::service::FEATURES`] values); the rollback, if asked for, with `admin_key`.
pub async fn run(
    base: &str,
    key: &str,
    admin_key: &str,
    rows: &[Vec<f64>],
    cfg: LoadConfig,
) -> Result<LoadReport> {
    if cfg.concurrency == 0 || cfg.requests == 0 {
        return Err(invalid(
            "config",
            "concurrency and requests must be at least 1",
        ));
    }
    if rows.is_empty() {
        return Err(invalid("rows", "expected at least one row of features"));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(cfg.concurrency)
        .build()
        .map_err(|e| invalid("client", e.to_string()))?;
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(Mutex::new(Vec::with_capacity(cfg.requests)));
    let bodies: Arc<Vec<Value>> = Arc::new(rows.iter().map(|r| json!({"features": r})).collect());
    let url = format!("{base}/v1/predict");
    let mut tasks = Vec::new();
    for _ in 0..cfg.concurrency {
        let (client, next, done, samples, bodies, url, key) = (
            client.clone(),
            next.clone(),
            done.clone(),
            samples.clone(),
            bodies.clone(),
            url.clone(),
            key.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= cfg.requests {
                    break;
                }
                let sent = start.elapsed();
                let r = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&bodies[i % bodies.len()])
                    .send()
                    .await;
                let (status, version) = match r {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let v: Option<Value> = resp.json().await.ok();
                        (status, v.and_then(|v| v["version"].as_i64()))
                    }
                    Err(_) => (0, None),
                };
                let latency = start.elapsed() - sent;
                samples.lock().await.push(Sample {
                    sent_ms: sent.as_secs_f64() * 1e3,
                    latency_ms: latency.as_secs_f64() * 1e3,
                    status,
                    version,
                });
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let mut rollback = None;
    if let Some(after) = cfg.rollback_after {
        while done.load(Ordering::SeqCst) < after.min(cfg.requests) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let asked = start.elapsed();
        let r = client
            .post(format!("{base}/admin/rollback"))
            .bearer_auth(admin_key)
            .json(&json!({"reason": "load test: rollback under load"}))
            .send()
            .await
            .map_err(|e| invalid("rollback", e.to_string()))?;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        rollback = Some(RollbackTiming {
            asked_ms: asked.as_secs_f64() * 1e3,
            acked_ms: start.elapsed().as_secs_f64() * 1e3,
            status,
            from: v["from"].as_i64(),
            to: v["to"].as_i64(),
        });
    }
    for t in tasks {
        t.await.map_err(|e| invalid("load task", e.to_string()))?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let samples = std::mem::take(&mut *samples.lock().await);
    let mut lat: Vec<f64> = samples.iter().map(|s| s.latency_ms).collect();
    lat.sort_by(f64::total_cmp);
    let mut by_version = BTreeMap::new();
    for s in &samples {
        if let Some(v) = s.version {
            *by_version.entry(v).or_insert(0) += 1;
        }
    }
    let stale_after_rollback = match &rollback {
        Some(RollbackTiming {
            acked_ms,
            to: Some(to),
            ..
        }) => samples
            .iter()
            .filter(|s| s.sent_ms > *acked_ms && s.version != Some(*to))
            .count(),
        _ => 0,
    };
    Ok(LoadReport {
        config: cfg,
        seconds,
        throughput_rps: samples.len() as f64 / seconds,
        failed: samples.iter().filter(|s| s.status != 200).count(),
        p50_ms: nearest_rank(&lat, 0.50)?,
        p95_ms: nearest_rank(&lat, 0.95)?,
        p99_ms: nearest_rank(&lat, 0.99)?,
        max_ms: lat.last().copied().unwrap_or(0.0),
        by_version,
        rollback,
        stale_after_rollback,
        samples,
    })
}
