//! Week 16: `cargo run -p week16-deploy-dl` runs the whole lab; `-- <train|serve|healthcheck|
//! predict> --help` runs one part for real (the container runs `serve`).

mod commands;
mod report;

use anyhow::Result;
use clap::Parser;
use commands::Command;
use report::*;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use wb_lab::{Lab, LabArgs};
use week16_deploy_dl::images::{encode_png, encode_raw};
use week16_deploy_dl::model::{self, Digits};
use week16_deploy_dl::service::{self, AppState, ServiceConfig};
use week16_deploy_dl::wb_models::DigitCnn;

/// Week 16: deploying a deep-learning model — the week 11 CNN trained, saved, and served over
/// HTTP (PNG uploads or JSON pixels) through a dynamic batcher, with health, readiness, metrics
/// and a graceful shutdown; `deploy/` puts it in a container.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Epochs the demo trains the CNN for
    #[arg(long, default_value_t = 3, value_parser = wb_lab::at_least_one)]
    epochs: usize,
    #[command(flatten)]
    lab: LabArgs,
}

const MODEL_DIR: &str = "output/week16-deploy-dl/model";

fn demo(cli: &Cli, lab: &mut Lab) -> Result<Report> {
    let (train_set, test_set) = model::mnist()?;
    let (trained, varmap) = lab.timed("train", || {
        model::train(&train_set, &test_set, cli.epochs, 16)
    })?;
    let dir = PathBuf::from(MODEL_DIR);
    trained.save(&varmap, &dir)?;
    let device = wb_train::device();
    let (cnn, _) = lab.timed("load", || DigitCnn::load(&dir, &device))?;
    let direct = model::predict(&cnn, &test_set, &device)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let state = AppState::new(ServiceConfig::default())?;
    let report = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(service::serve(listener, Arc::clone(&state), async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        let before = client
            .get(format!("{base}/readyz"))
            .send()
            .await?
            .status()
            .as_u16();
        state.install(cnn.clone(), device.clone())?;
        let after = client
            .get(format!("{base}/readyz"))
            .send()
            .await?
            .status()
            .as_u16();
        let load = send_test_set(&client, &base, &test_set, 32).await?;
        let examples = examples(&client, &base, &test_set).await?;
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let metrics: Vec<String> = metrics
            .lines()
            .filter(|l| {
                l.starts_with("http_requests_total{route=\"/v1/predict\"")
                    || l.starts_with("inference_batch_size_count")
                    || l.starts_with("inference_batch_size_sum")
            })
            .map(String::from)
            .collect();
        let _ = stop.send(());
        let stats = server.await??;
        anyhow::Ok(Served {
            ready_before_install: before,
            ready_after_install: after,
            load,
            examples,
            metrics,
            drained: stats.queued == 0,
            batches: stats.batches,
            items: stats.items,
        })
    })?;
    let agree = report
        .load
        .classes
        .iter()
        .zip(&direct)
        .filter(|(a, b)| a == b)
        .count();
    let correct = report
        .load
        .classes
        .iter()
        .zip(&test_set.labels)
        .filter(|(a, b)| a == b)
        .count();
    let plot = plot(
        lab,
        &test_set,
        &report.load.classes,
        &report.load.probability,
    )?;
    lab.saved(plot);
    Ok(Report {
        epochs: cli.epochs,
        test_accuracy: cnn.meta.test_accuracy,
        model_dir: wb_lab::display_path(&dir),
        weights_sha256: cnn.meta.weights_sha256.clone(),
        over_http_correct: correct,
        over_http_agree: agree,
        test_images: test_set.len(),
        served: report,
    })
}

/// Sends every test image as a PNG from `clients` concurrent clients; the answers in order.
async fn send_test_set(
    client: &reqwest::Client,
    base: &str,
    test: &Digits,
    clients: usize,
) -> Result<Load> {
    let pngs: Vec<Vec<u8>> = (0..test.len())
        .map(|i| encode_png(test.image(i)))
        .collect::<Result<_>>()?;
    let pngs = Arc::new(pngs);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, pngs, next) = (
            client.clone(),
            format!("{base}/v1/predict"),
            Arc::clone(&pngs),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= pngs.len() {
                    break;
                }
                let t = Instant::now();
                let v: serde_json::Value = client
                    .post(&url)
                    .header("content-type", "image/png")
                    .body(pngs[i].clone())
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                got.push((
                    i,
                    v["class"].as_u64().unwrap_or(99) as u8,
                    v["probability"].as_f64().unwrap_or(0.0),
                    v["batch_size"].as_u64().unwrap_or(0),
                    ms,
                ));
            }
            anyhow::Ok(got)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort_by_key(|a| a.0);
    let mut ms: Vec<f64> = all.iter().map(|a| a.4).collect();
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    Ok(Load {
        clients,
        requests: all.len(),
        requests_per_second: all.len() as f64 / seconds,
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        mean_batch: all.iter().map(|a| a.3 as f64).sum::<f64>() / all.len().max(1) as f64,
        classes: all.iter().map(|a| a.1).collect(),
        probability: all.iter().map(|a| a.2).collect(),
    })
}

/// One request of each kind, good and bad, and what the service answered.
async fn examples(client: &reqwest::Client, base: &str, test: &Digits) -> Result<Vec<Example>> {
    let url = format!("{base}/v1/predict");
    let png = encode_png(test.image(0))?;
    let pixels: Vec<f32> = test.image(0).to_vec();
    let big = encode_raw(
        &vec![0u8; 32 * 32],
        32,
        32,
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
    )?;
    let rgb = encode_raw(
        &vec![0u8; 28 * 28 * 3],
        28,
        28,
        png::ColorType::Rgb,
        png::BitDepth::Eight,
    )?;
    let mut out = Vec::new();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("a PNG, raw bytes", "image/png", png.clone()),
        (
            "JSON pixels",
            "application/json",
            serde_json::to_vec(&serde_json::json!({"pixels": pixels}))?,
        ),
        ("an empty body", "image/png", vec![]),
        ("a text file", "image/png", b"this is not an image".to_vec()),
        ("a 32 x 32 PNG", "image/png", big),
        ("an RGB PNG", "image/png", rgb),
        ("300 KiB", "image/png", vec![0u8; 300 * 1024]),
        (
            "783 JSON pixels",
            "application/json",
            serde_json::to_vec(&serde_json::json!({"pixels": &pixels[..783]}))?,
        ),
    ];
    for (what, ct, body) in cases {
        let r = client
            .post(&url)
            .header("content-type", ct)
            .body(body)
            .send()
            .await?;
        out.push(Example {
            request: what.into(),
            status: r.status().as_u16(),
            body: short(&r.text().await?),
        });
    }
    let form = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(png)
            .file_name("digit.png")
            .mime_str("image/png")?,
    );
    let r = client.post(&url).multipart(form).send().await?;
    out.insert(
        1,
        Example {
            request: "a multipart upload".into(),
            status: r.status().as_u16(),
            body: short(&r.text().await?),
        },
    );
    Ok(out)
}

/// An answer shortened for the report: probabilities to 3 decimals.
fn short(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(mut v) => {
            if let Some(p) = v.get_mut("probabilities").and_then(|p| p.as_array_mut()) {
                for x in p.iter_mut() {
                    *x = serde_json::json!((x.as_f64().unwrap_or(0.0) * 1e3).round() / 1e3);
                }
            }
            if let Some(p) = v.get_mut("probability") {
                *p = serde_json::json!((p.as_f64().unwrap_or(0.0) * 1e3).round() / 1e3);
            }
            v.to_string()
        }
        Err(_) => body.to_string(),
    }
}

/// The served answers for 24 test images, the mistakes first.
fn plot(lab: &Lab, test: &Digits, classes: &[u8], probability: &[f64]) -> Result<Vec<PathBuf>> {
    let mut order: Vec<usize> = (0..test.len())
        .filter(|&i| classes[i] != test.labels[i])
        .take(8)
        .collect();
    order.extend(
        (0..test.len())
            .filter(|&i| classes[i] == test.labels[i])
            .take(24 - order.len()),
    );
    let mut grid = wb_plot::ImageGrid::new(
        "Served answers, mistakes first: true → served (probability)",
        8,
    );
    for i in order {
        grid = grid.image(
            format!(
                "{} → {} ({:.0} %)",
                test.labels[i],
                classes[i],
                100.0 * probability[i]
            ),
            28,
            28,
            test.image(i).iter().map(|&v| f64::from(v)).collect(),
        );
    }
    Ok(grid.save(lab.plots_dir(), "served_predictions")?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        None => wb_lab::run(
            "week16-deploy-dl",
            "Week 16 — deploying a deep-learning model",
            &cli.lab,
            |lab| demo(&cli, lab),
        ),
        Some(command) => wb_lab::exit(commands::run(command.clone())),
    }
}
