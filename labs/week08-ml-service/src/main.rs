//! The week 8 service: `cargo run -p week08-ml-service -- <train|serve|loadgen> --help`.

mod commands;
mod report;

use anyhow::Result;
use clap::Parser;
use commands::{Command, sample_body};
use report::*;
use std::path::PathBuf;
use std::process::ExitCode;
use wb_lab::{Lab, LabArgs};
use week08_ml_service::loadgen::{self, Stop};
use week08_ml_service::model::{ModelArtifact, train};
use week08_ml_service::service::{AppState, Limits, serve};

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
        Some(command) => wb_lab::exit(commands::run(command)),
    }
}
