//! Week 15: `cargo run -p week15-serving-patterns` runs the whole lab (both serving patterns,
//! measured); `-- <generate|train|score|serve> --help` runs one part for real.

mod commands;
mod report;

use anyhow::Result;
use clap::Parser;
use commands::Command;
use report::*;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use wb_lab::{Lab, LabArgs};
use wb_serve::BatchConfig;
use week15_serving_patterns::batch::{self, Job, Partition};
use week15_serving_patterns::data::{self, Format};
use week15_serving_patterns::loadgen::{self, LoadPoint};
use week15_serving_patterns::model::{self, ScoringModel};
use week15_serving_patterns::online::{self, AppState, Row};

/// Week 15: serving patterns — batch scoring that scales out (polars SQL, Parquet part files,
/// partitions, resume) and online inference behind a dynamic batcher, measured.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Transactions the demo generates and scores
    #[arg(long, default_value_t = 200_000, value_parser = wb_lab::at_least_one)]
    rows: usize,
    /// Seconds of load per measured point
    #[arg(long, default_value_t = 0.5)]
    seconds: f64,
    #[command(flatten)]
    lab: LabArgs,
}

const OUT: &str = "output/week15-serving-patterns";
/// The maximum batch sizes the demo measures.
const MAX_BATCHES: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];
/// Offered loads, as multiples of the best closed-loop throughput.
const LOADS: [f64; 7] = [0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5];

fn demo(cli: &Cli, lab: &mut Lab) -> Result<Report> {
    let out = PathBuf::from(OUT);
    let data_dir = out.join("data");
    let files = lab.timed("generate", || {
        data::generate(&data_dir, cli.rows, Format::Parquet, 15)
    })?;
    let trained = lab.timed("train", || model::train(&files.labelled, &files.customers))?;
    let model_path = out.join("model.json");
    trained.save(&model_path)?;
    let loaded = ScoringModel::load(&model_path)?;
    let job = |dir: &str| Job {
        input: files.transactions.clone(),
        customers: files.customers.clone(),
        model: loaded.clone(),
        out_dir: out.join(dir),
        chunk_rows: 65_536,
        pause_per_chunk: Duration::ZERO,
    };
    let mut runs = Vec::new();
    for (dir, count) in [("scored-1", 1), ("scored-4", 4)] {
        let job = job(dir);
        if job.out_dir.exists() {
            std::fs::remove_dir_all(&job.out_dir)?;
        }
        let parts = Partition::all(count)?
            .into_iter()
            .map(|p| batch::run_partition(&job, p))
            .collect::<Result<Vec<_>>>()?;
        let seconds: f64 = parts.iter().map(|p| p.seconds).sum();
        runs.push(BatchRun {
            out_dir: wb_lab::display_path(&job.out_dir),
            parts,
            rows_per_second: cli.rows as f64 / seconds,
        });
    }
    let whole = batch::read_output(&out.join("scored-1"), 1)?;
    let split = batch::read_output(&out.join("scored-4"), 4)?;
    let head = format!("{}", whole.head(Some(5)));
    // Polars adds the Arrow schema (`ARROW:schema`, base64): the report shows the job's own keys.
    let metadata = batch::read_metadata(&batch::part_path(
        &out.join("scored-4"),
        Partition::new(2, 4)?,
    ))?
    .into_iter()
    .filter(|(k, _)| !k.starts_with("ARROW:"))
    .collect();
    let online = online_part(cli, lab, &files)?;
    Ok(Report {
        rows: cli.rows,
        data_dir: wb_lab::display_path(&data_dir),
        model: trained,
        model_sha256: loaded.sha256,
        query: model::feature_query(&[]),
        runs,
        parts_equal_whole: whole.equals_missing(&split),
        output_rows: whole.height(),
        head,
        metadata,
        resident_mib: batch::peak_resident_mib(),
        online,
    })
}

/// Trains the network, then measures the service at each maximum batch size (closed loop) and at
/// each offered load (open loop), and plots both.
fn online_part(cli: &Cli, lab: &mut Lab, files: &data::Files) -> Result<Online> {
    let (columns, labels) = model::labelled_features(&files.labelled, &files.customers)?;
    let standard = ScoringModel::load(&PathBuf::from(OUT).join("model.json"))?.model;
    let (mlp, train_loss) = lab.timed("train_mlp", || {
        online::train_mlp(&columns, &labels, &standard, 2, 15)
    })?;
    let mlp = Arc::new(mlp);
    let rows: Vec<Row> = (0..256)
        .map(|i| std::array::from_fn(|j| columns[j][i] as f32))
        .collect();
    let bodies = Arc::new(rows.iter().map(online::body).collect::<Vec<_>>());
    let seconds = Duration::from_secs_f64(cli.seconds);
    let runtime = tokio::runtime::Runtime::new()?;
    let measure = |max_batch: usize, load: Load| -> Result<LoadPoint> {
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}/v1/score", listener.local_addr()?);
            let config = BatchConfig {
                max_batch,
                max_wait: Duration::from_millis(2),
                queue: 256,
            };
            let state = AppState::new(Arc::clone(&mlp), config, Duration::from_secs(2))?;
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(online::serve(listener, state, async move {
                let _ = stopped.await;
            }));
            let point = match load {
                Load::Clients(c) => {
                    loadgen::closed_loop(&url, Arc::clone(&bodies), c, seconds).await?
                }
                Load::Rate(r) => loadgen::open_loop(&url, Arc::clone(&bodies), r, seconds).await?,
            };
            let _ = stop.send(());
            let stats = server.await??;
            anyhow::ensure!(stats.queued == 0, "the batcher did not drain");
            Ok(point)
        })
    };
    let by_batch = lab.timed("load_by_batch", || {
        MAX_BATCHES
            .iter()
            .map(|&b| measure(b, Load::Clients(64)))
            .collect::<Result<Vec<_>>>()
    })?;
    let capacity = by_batch
        .iter()
        .map(|p| p.throughput_rps)
        .fold(0.0, f64::max);
    let mut by_load = Vec::new();
    for max_batch in [1, 32] {
        let points = lab.timed(&format!("load_offered_{max_batch}"), || {
            LOADS
                .iter()
                .map(|&k| measure(max_batch, Load::Rate((k * capacity).max(10.0))))
                .collect::<Result<Vec<_>>>()
        })?;
        by_load.push((max_batch, points));
    }
    let plots = plot(lab.plots_dir(), &by_batch, &by_load)?;
    lab.saved(plots);
    Ok(Online {
        hidden: online::HIDDEN,
        train_loss,
        max_batches: MAX_BATCHES.to_vec(),
        by_batch,
        by_load,
    })
}

enum Load {
    Clients(usize),
    Rate(f64),
}

fn plot(
    dir: &Path,
    by_batch: &[LoadPoint],
    by_load: &[(usize, Vec<LoadPoint>)],
) -> Result<Vec<PathBuf>> {
    use wb_plot::{LinePlot, Panels, Series};
    let x = |i: usize| (MAX_BATCHES[i] as f64).log2();
    let series = |name: &str, f: &dyn Fn(&LoadPoint) -> f64| {
        Series::new(
            name,
            by_batch
                .iter()
                .enumerate()
                .map(|(i, p)| (x(i), f(p)))
                .collect(),
        )
    };
    let x_label = "max batch size, log₂ (0 = 1, 3 = 8, 6 = 64)";
    let mut files = Panels::new(
        "The service at saturation (64 clients, closed loop) against its maximum batch size",
        2,
    )
    .panel_size(520, 380)
    .line(
        LinePlot::new("Throughput", x_label, "answered requests / s")
            .series(series("throughput", &|p| p.throughput_rps))
            .markers(true),
    )
    .line(
        LinePlot::new("Latency", x_label, "latency (ms, log scale)")
            .series(series("p50", &|p| p.p50_ms))
            .series(series("p99", &|p| p.p99_ms).dashed())
            .markers(true)
            .log_y(true),
    )
    .save(dir, "max_batch")?;
    let offered = |points: &[LoadPoint], f: &dyn Fn(&LoadPoint) -> f64| -> Vec<(f64, f64)> {
        points.iter().map(|p| (p.offered_rps, f(p))).collect()
    };
    let mut throughput = LinePlot::new(
        "Throughput",
        "offered load (requests / s)",
        "answered requests / s",
    )
    .markers(true);
    let mut latency = LinePlot::new(
        "p99 latency",
        "offered load (requests / s)",
        "p99 latency (ms, log scale)",
    )
    .markers(true)
    .log_y(true);
    for (max_batch, points) in by_load {
        let name = format!("max batch {max_batch}");
        throughput = throughput.series(Series::new(&name, offered(points, &|p| p.throughput_rps)));
        latency = latency.series(Series::new(&name, offered(points, &|p| p.p99_ms)));
    }
    // Last, so that each max batch has the same colour in both panels.
    if let Some((_, points)) = by_load.first() {
        throughput = throughput.series(
            Series::new(
                "offered (every request answered)",
                offered(points, &|p| p.offered_rps),
            )
            .dashed(),
        );
    }
    files.extend(
        Panels::new(
            "Open-loop load: flat latency up to each configuration's capacity, then a knee",
            2,
        )
        .panel_size(520, 380)
        .line(throughput)
        .line(latency)
        .save(dir, "offered_load")?,
    );
    Ok(files)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        None => wb_lab::run(
            "week15-serving-patterns",
            "Week 15 — serving patterns: batch and online inference",
            &cli.lab,
            |lab| demo(&cli, lab),
        ),
        Some(command) => wb_lab::exit(commands::run(command.clone())),
    }
}
