//! The service's own commands: `train`, `serve` and `loadgen`.

use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Duration;
use week08_ml_service::loadgen::{self, Stop};
use week08_ml_service::model::{ModelArtifact, train};
use week08_ml_service::service::{AppState, Limits, serve, shutdown_signal};

#[derive(Debug, Subcommand)]
pub enum Command {
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

/// `train`, `serve` and `loadgen`: the service's own commands.
pub fn run(command: Command) -> Result<()> {
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
