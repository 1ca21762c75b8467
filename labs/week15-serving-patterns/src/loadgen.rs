//! A load generator for the online endpoint, in the two shapes load comes in:
//!
//! - **closed loop**: C clients, each sending its next request when the last is answered: the
//!   service's capacity (throughput at saturation) and the latency it costs;
//! - **open loop**: requests at a fixed rate whatever the answers, as independent users send
//!   them: what happens when the offered load passes capacity. Latency counts from the moment a
//!   request was due, so a stalled generator cannot hide a slow server (no coordinated omission).

use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one load run measured (latencies of the answered requests, in milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadPoint {
    /// Clients (closed loop) or 0.
    pub clients: usize,
    /// Requests per second offered (open loop) or 0.
    pub offered_rps: f64,
    pub sent: u64,
    pub ok: u64,
    /// Answered 503 (load shed).
    pub shed: u64,
    /// Any other failure.
    pub failed: u64,
    pub seconds: f64,
    /// Answered requests per second.
    pub throughput_rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Mean number of requests per forward pass, as the answers report it.
    pub mean_batch: f64,
}

#[derive(Default)]
struct Tally {
    hist: Option<Histogram<u64>>,
    ok: u64,
    shed: u64,
    failed: u64,
    batch_sum: u64,
}

impl Tally {
    fn new() -> Self {
        Self {
            hist: Histogram::new(3).ok(),
            ..Self::default()
        }
    }

    fn add(&mut self, other: Tally) {
        if let (Some(a), Some(b)) = (self.hist.as_mut(), other.hist.as_ref()) {
            let _ = a.add(b);
        }
        self.ok += other.ok;
        self.shed += other.shed;
        self.failed += other.failed;
        self.batch_sum += other.batch_sum;
    }

    fn point(self, clients: usize, offered_rps: f64, seconds: f64) -> LoadPoint {
        let ms = |q: f64| {
            self.hist
                .as_ref()
                .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
        };
        LoadPoint {
            clients,
            offered_rps,
            sent: self.ok + self.shed + self.failed,
            ok: self.ok,
            shed: self.shed,
            failed: self.failed,
            seconds,
            throughput_rps: self.ok as f64 / seconds,
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            mean_batch: self.batch_sum as f64 / self.ok.max(1) as f64,
        }
    }
}

/// Sends one request; records its outcome and latency (from `due`).
async fn one(client: &reqwest::Client, url: &str, body: &str, due: Instant, tally: &mut Tally) {
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => match r.json::<serde_json::Value>().await {
            Ok(v) => {
                tally.ok += 1;
                tally.batch_sum += v["batch_size"].as_u64().unwrap_or(0);
                if let Some(h) = tally.hist.as_mut() {
                    let _ = h.record(due.elapsed().as_micros().max(1) as u64);
                }
            }
            Err(_) => tally.failed += 1,
        },
        Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => tally.shed += 1,
        _ => tally.failed += 1,
    }
}

fn client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// `clients` clients, each sending `bodies` in turn (starting at its own place) for `duration`.
pub async fn closed_loop(
    url: &str,
    bodies: Arc<Vec<String>>,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<LoadPoint> {
    anyhow::ensure!(
        clients > 0 && !bodies.is_empty(),
        "clients and bodies must not be empty"
    );
    let http = client(clients)?;
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let (http, url, bodies) = (http.clone(), url.to_string(), Arc::clone(&bodies));
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::new();
            let mut k = c;
            while Instant::now() < end {
                one(
                    &http,
                    &url,
                    &bodies[k % bodies.len()],
                    Instant::now(),
                    &mut tally,
                )
                .await;
                k += clients;
            }
            tally
        }));
    }
    let mut all = Tally::new();
    for t in tasks {
        all.add(t.await?);
    }
    Ok(all.point(clients, 0.0, start.elapsed().as_secs_f64()))
}

/// Requests at `rate` per second for `duration`, each on its own task, whatever the answers.
pub async fn open_loop(
    url: &str,
    bodies: Arc<Vec<String>>,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<LoadPoint> {
    anyhow::ensure!(
        rate > 0.0 && !bodies.is_empty(),
        "rate must be > 0 and bodies not empty"
    );
    let http = client(256)?;
    let start = Instant::now();
    let total = (rate * duration.as_secs_f64()).round() as usize;
    let mut tasks = Vec::with_capacity(total);
    for k in 0..total {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (http, url, bodies) = (http.clone(), url.to_string(), Arc::clone(&bodies));
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::new();
            one(&http, &url, &bodies[k % bodies.len()], due, &mut tally).await;
            tally
        }));
    }
    let mut all = Tally::new();
    for t in tasks {
        all.add(t.await?);
    }
    Ok(all.point(0, rate, start.elapsed().as_secs_f64()))
}
