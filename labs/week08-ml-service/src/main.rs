//! The week 8 service: `cargo run -p week08-ml-service -- <train|serve|loadgen> --help`.

mod report;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use report::*;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use wb_lab::{Lab, LabArgs};
use week08_ml_service::loadgen::{self, Stop};
use week08_ml_service::model::{ModelArtifact, train};
use week08_ml_service::service::{AppState, Limits, serve, shutdown_signal};

/// Week 8: a production-grade ML REST service with axum — train a model artifact, serve it with
/// validation, Prometheus metrics, JSON logs and graceful shutdown, and load-test it.
#[derive(Debug, Parser)]
#[command(version, allow_negative_numbers = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// (Without a command: the end-to-end demo's options.)
    #[command(flatten)]
    lab: LabArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train the breast-cancer classifier and write its artifact
    Train {
        /// Where to write the artifact
        #[arg(
            long,
            env = "MODEL_PATH",
            default_value = "output/week08-ml-service/model.json"
        )]
        model: PathBuf,
        /// Seed of the train/test split
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Print the artifact's metadata as JSON
        #[arg(long)]
        json: bool,
    },
    /// Serve the model over HTTP until Ctrl-C or SIGTERM
    Serve {
        /// The model artifact (trained first if the file does not exist)
        #[arg(
            long,
            env = "MODEL_PATH",
            default_value = "output/week08-ml-service/model.json"
        )]
        model: PathBuf,
        /// Address to listen on
        #[arg(long, env = "HOST", default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on (0: any free port)
        #[arg(long, env = "PORT", default_value_t = 8080)]
        port: u16,
        /// Most records per request
        #[arg(long, env = "MAX_BATCH", default_value_t = 256, value_parser = wb_lab::at_least_one)]
        max_batch: usize,
        /// Largest request body in bytes
        #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 262_144, value_parser = wb_lab::at_least_one)]
        max_body_bytes: usize,
        /// Request timeout in milliseconds
        #[arg(long, env = "TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        timeout_ms: u64,
    },
    /// Drive a URL with concurrent clients and report throughput and latency percentiles
    Loadgen {
        /// The URL to POST to
        #[arg(long, default_value = "http://127.0.0.1:8080/v1/predict")]
        url: String,
        /// The JSON body to send [default: one record, the first breast-cancer row]
        #[arg(long)]
        body: Option<String>,
        /// Concurrent clients
        #[arg(long, default_value_t = 32, value_parser = wb_lab::at_least_one)]
        concurrency: usize,
        /// Total requests (instead of a duration)
        #[arg(long)]
        requests: Option<usize>,
        /// Seconds to run (when --requests is not given)
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
}

/// The first breast-cancer row as a prediction request.
pub fn sample_body() -> Result<String> {
    let (table, _) =
        wb_data::read_labelled_csv(&wb_data::dataset("tabular/breast_cancer.csv")?, "diagnosis")?;
    let record: serde_json::Map<String, serde_json::Value> = table
        .columns
        .iter()
        .zip(table.data.row(0))
        .map(|(n, v)| (n.clone(), serde_json::json!(v)))
        .collect();
    Ok(serde_json::Value::Object(record).to_string())
}

/// The end-to-end demo: train, serve on a free loopback port, send good and bad requests, load
/// it, shut it down gracefully — all in one process, so one command shows everything.
fn demo(lab: &mut Lab) -> Result<Report> {
    let plots = lab.plots_dir().to_path_buf();
    std::fs::create_dir_all(&plots)?;
    let artifact_path = PathBuf::from("output/week08-ml-service/model.json");
    std::fs::create_dir_all("output/week08-ml-service")?;
    let artifact = train(&wb_data::dataset("tabular/breast_cancer.csv")?, 42)?;
    artifact.save(&artifact_path)?;
    let artifact = ModelArtifact::load_verified(&artifact_path)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let body = sample_body()?;
    let (examples, report) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = AppState::new(artifact.clone(), Limits::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, state, async move {
            let _ = rx.await;
        }));
        let url = |p: &str| format!("http://{addr}{p}");
        let client = reqwest::Client::new();
        let mut examples = Vec::new();
        let bad_type = body.replacen(':', ": \"big\", \"was\":", 1);
        let calls: Vec<(&str, &str, Option<String>, Option<&str>)> = vec![
            ("GET", "/healthz", None, None),
            ("GET", "/readyz", None, None),
            (
                "POST",
                "/v1/predict",
                Some(body.clone()),
                Some("application/json"),
            ),
            (
                "POST",
                "/v1/predict",
                Some(format!("{{\"records\": [{body}, {body}]}}")),
                Some("application/json"),
            ),
            (
                "POST",
                "/v1/predict",
                Some(bad_type),
                Some("application/json"),
            ),
            (
                "POST",
                "/v1/predict",
                Some("{\"mean_radius\": 14,".into()),
                Some("application/json"),
            ),
            (
                "POST",
                "/v1/predict",
                Some(body.clone()),
                Some("text/plain"),
            ),
        ];
        for (method, path, payload, ct) in calls {
            let mut req = if method == "GET" {
                client.get(url(path))
            } else {
                client.post(url(path))
            };
            if let Some(p) = payload.clone() {
                req = req.body(p);
            }
            if let Some(ct) = ct {
                req = req.header("content-type", ct);
            }
            let r = req.send().await?;
            let status = r.status().as_u16();
            let text = r.text().await?;
            examples.push(Example {
                request: format!(
                    "{method} {path}{}",
                    ct.map_or(String::new(), |c| format!(" ({c})"))
                ),
                status,
                body: text,
            });
        }
        let report = loadgen::run(&url("/v1/predict"), &body, 16, Stop::Requests(4000)).await?;
        let _ = tx.send(());
        server.await??;
        anyhow::Ok((examples, report))
    })?;
    // The tail is what matters, so the x axis counts "nines": −log10(1 − p/100), so that p90,
    // p99 and p99.9 are evenly spaced (1, 2, 3) instead of crushed against the right edge.
    let nines = |p: f64| -(1.0 - p / 100.0).log10();
    let plot = wb_plot::LinePlot::new(
        "Latency of 4,000 predictions from 16 concurrent clients",
        "percentile, in nines (0 = p0, 1 = p90, 2 = p99, 3 = p99.9)",
        "latency (ms)",
    )
    .series(wb_plot::Series::new(
        "POST /v1/predict, one record",
        report
            .percentiles
            .iter()
            .map(|&(p, ms)| (nines(p), ms))
            .collect(),
    ))
    .markers(true)
    .save(&plots, "latency_percentiles")?;
    lab.saved(plot);
    Ok(Report {
        artifact: wb_core::lab::display_path(&artifact_path),
        format_version: artifact.format_version,
        model_version: artifact.model_version,
        content_hash: artifact.content_hash,
        metrics: artifact.metrics,
        examples,
        load: report,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => wb_lab::run(
            "week08-ml-service",
            "Week 8 — an ML REST service, end to end",
            &cli.lab,
            demo,
        ),
        Some(command) => wb_lab::exit(run_command(command)),
    }
}

/// `train`, `serve` and `loadgen`: the service's own commands.
fn run_command(command: Command) -> Result<()> {
    match command {
        Command::Train { model, seed, json } => {
            let artifact = train(&wb_data::dataset("tabular/breast_cancer.csv")?, seed)?;
            if let Some(dir) = model.parent() {
                std::fs::create_dir_all(dir)?;
            }
            artifact
                .save(&model)
                .with_context(|| format!("writing {}", model.display()))?;
            let saved = ModelArtifact::load_verified(&model)?;
            let meta = serde_json::json!({"lab": "week08-ml-service", "artifact": model.display().to_string(), "model_version": saved.model_version,
                "content_hash": saved.content_hash, "metrics": saved.metrics, "features": saved.features.len(), "timings_ms": {}, "plots": []});
            if json {
                println!("{}", serde_json::to_string_pretty(&meta)?);
            } else {
                println!(
                    "Trained {} on {} rows: test accuracy {:.1}%, test AUC {:.4}",
                    saved.model_version,
                    saved.metrics.n_train,
                    100.0 * saved.metrics.test_accuracy,
                    saved.metrics.test_auc
                );
                println!("Wrote {} (SHA-256 {})", model.display(), saved.content_hash);
            }
            Ok(())
        }
        Command::Serve {
            model,
            host,
            port,
            max_batch,
            max_body_bytes,
            timeout_ms,
        } => {
            tracing_subscriber::fmt()
                .json()
                .with_current_span(false)
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .init();
            if !model.exists() {
                tracing::info!(path = %model.display(), "no artifact yet: training one");
                if let Some(dir) = model.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                train(&wb_data::dataset("tabular/breast_cancer.csv")?, 42)?.save(&model)?;
            }
            let artifact = ModelArtifact::load_verified(&model)?;
            let limits = Limits {
                max_batch,
                max_body_bytes,
                timeout: Duration::from_millis(timeout_ms),
            };
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await.with_context(|| format!("binding {host}:{port}"))?;
                let addr = listener.local_addr()?;
                tracing::info!(address = %addr, model = %model.display(), model_version = %artifact.model_version, content_hash = %artifact.content_hash,
                    max_batch, max_body_bytes, timeout_ms, "serving");
                serve(listener, AppState::new(artifact, limits), shutdown_signal()).await?;
                tracing::info!("stopped: every request in flight was answered");
                Ok(())
            })
        }
        Command::Loadgen {
            url,
            body,
            concurrency,
            requests,
            seconds,
            json,
        } => {
            let body = match body {
                Some(b) => b,
                None => sample_body()?,
            };
            let stop = match requests {
                Some(n) => Stop::Requests(n),
                None => Stop::Duration(Duration::from_secs_f64(seconds)),
            };
            let report = tokio::runtime::Runtime::new()?.block_on(loadgen::run(
                &url,
                &body,
                concurrency,
                stop,
            ))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{} requests in {:.1} s from {} clients: {:.0} requests/s, {} errors",
                    report.requests,
                    report.seconds,
                    report.concurrency,
                    report.throughput_rps,
                    report.errors
                );
                println!(
                    "latency: p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                    report.p50_ms, report.p95_ms, report.p99_ms, report.max_ms
                );
            }
            Ok(())
        }
    }
}
