//! A load generator: N concurrent clients send the same request for a duration or a number of
//! requests; latencies go into an HDR histogram.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::{Duration, Instant};

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this many requests in total.
    Requests(usize),
    /// After this long.
    Duration(Duration),
}

/// What a load run measured. Latencies in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    pub url: String,
    pub concurrency: usize,
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub throughput_rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// (percentile, latency in ms) from p1 to p99.9, for plots.
    pub percentiles: Vec<(f64, f64)>,
}

/// Sends `body` as JSON to `url` (POST) from `concurrency` clients until `stop`. A response that is
/// not 2xx, or no response, counts as an error.
pub async fn run(
    url: &str,
    body: &str,
    concurrency: usize,
    stop: Stop,
) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(concurrency > 0, "--concurrency must be at least 1");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let start = Instant::now();
    let remaining = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(match stop {
        Stop::Requests(n) => n as i64,
        Stop::Duration(_) => i64::MAX,
    }));
    let deadline = match stop {
        Stop::Duration(d) => Some(start + d),
        Stop::Requests(_) => None,
    };
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, url, body, remaining) = (
            client.clone(),
            url.to_string(),
            body.to_string(),
            remaining.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("valid precision");
            let mut errors = 0u64;
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d)
                    || remaining.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) <= 0
                {
                    break;
                }
                let t = Instant::now();
                let ok = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(r) => {
                        let good = r.status().is_success();
                        good && r.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                let _ = hist.record(t.elapsed().as_micros().max(1) as u64);
                if !ok {
                    errors += 1;
                }
            }
            (hist, errors)
        }));
    }
    let mut all = Histogram::<u64>::new(3).expect("valid precision");
    let mut errors = 0;
    for w in workers {
        let (h, e) = w.await?;
        all.add(&h)?;
        errors += e;
    }
    let seconds = start.elapsed().as_secs_f64();
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    Ok(LoadReport {
        url: url.to_string(),
        concurrency,
        requests: all.len(),
        errors,
        seconds,
        throughput_rps: all.len() as f64 / seconds,
        p50_ms: ms(0.50),
        p95_ms: ms(0.95),
        p99_ms: ms(0.99),
        max_ms: all.max() as f64 / 1000.0,
        percentiles: [
            1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9,
        ]
        .iter()
        .map(|&p| (p, ms(p / 100.0)))
        .collect(),
    })
}
