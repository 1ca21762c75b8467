//! The lab's commands: what the container runs.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wb_serve::BatchConfig;
use week16_deploy_dl::images::encode_png;
use week16_deploy_dl::model;
use week16_deploy_dl::service::{self, AppState, ServiceConfig};

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Train the CNN on MNIST-10k and write model.safetensors + model.json into --model
    Train {
        #[arg(
            long,
            default_value = "output/week16-deploy-dl/model",
            env = "MODEL_DIR"
        )]
        model: PathBuf,
        #[arg(long, default_value_t = 5, value_parser = wb_lab::at_least_one)]
        epochs: usize,
    },
    /// Serve the model in --model (trained there first if the folder has none)
    Serve {
        #[arg(
            long,
            default_value = "output/week16-deploy-dl/model",
            env = "MODEL_DIR"
        )]
        model: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8016", env = "ADDR")]
        addr: String,
        #[arg(long, default_value_t = 32, value_parser = wb_lab::at_least_one)]
        max_batch: usize,
        #[arg(long, default_value_t = 2.0)]
        max_wait_ms: f64,
        #[arg(long, default_value_t = 256, value_parser = wb_lab::at_least_one)]
        queue: usize,
        #[arg(long, default_value_t = 2000, value_parser = wb_lab::at_least_one)]
        deadline_ms: usize,
        /// Epochs, if the model must be trained first
        #[arg(long, default_value_t = 5, value_parser = wb_lab::at_least_one)]
        epochs: usize,
    },
    /// Exit 0 if the service listening on --addr is ready (GET /readyz answers 200): a
    /// container's HEALTHCHECK, with no curl in the image
    Healthcheck {
        #[arg(long, default_value = "127.0.0.1:8016", env = "ADDR")]
        addr: String,
    },
    /// Write MNIST-10k test images as PNG files named <index>-label<digit>.png
    Samples {
        #[arg(long, default_value = "output/week16-deploy-dl/samples")]
        dir: PathBuf,
        #[arg(long, default_value_t = 20, value_parser = wb_lab::at_least_one)]
        count: usize,
    },
    /// Send a PNG file to the service and print its answer
    Predict {
        file: PathBuf,
        #[arg(long, default_value = "http://127.0.0.1:8016/v1/predict")]
        url: String,
    },
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Train { model: dir, epochs } => {
            let (train, test) = model::mnist()?;
            let (cnn, varmap) = model::train(&train, &test, epochs, 16)?;
            cnn.save(&varmap, &dir)?;
            println!(
                "wrote {}: test accuracy {:.2} %",
                dir.display(),
                100.0 * cnn.meta.test_accuracy
            );
            Ok(())
        }
        Command::Serve {
            model: dir,
            addr,
            max_batch,
            max_wait_ms,
            queue,
            deadline_ms,
            epochs,
        } => {
            let config = ServiceConfig {
                batch: BatchConfig::with_wait_ms(max_batch, max_wait_ms, queue)?,
                deadline: Duration::from_millis(deadline_ms as u64),
            };
            let state = AppState::new(config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let started = Instant::now();
                let listener = tokio::net::TcpListener::bind(&addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?;
                println!("listening on http://{addr} (not ready until the model is loaded)");
                // Listening first, loading after: /healthz answers at once and /readyz says
                // when the model is there, which is what an orchestrator needs to know.
                let loading = std::sync::Arc::clone(&state);
                let loader = tokio::task::spawn_blocking(move || -> Result<()> {
                    let device = wb_train::device();
                    let (cnn, source) = model::load_or_train(&dir, epochs, &device)?;
                    println!(
                        "model {:?} from {} (test accuracy {:.2} %, weights {}…) in {} ms: ready",
                        source,
                        dir.display(),
                        100.0 * cnn.meta.test_accuracy,
                        cnn.meta.weights_sha256.get(..12).unwrap_or_default(),
                        started.elapsed().as_millis()
                    );
                    loading.install(cnn, device)
                });
                let server =
                    tokio::spawn(service::serve(listener, state, wb_serve::shutdown_signal()));
                // A model that cannot be loaded is fatal: no half-ready service.
                loader.await??;
                let stats = server.await??;
                println!(
                    "stopped cleanly: {} images in {} batches, {} shed, {} expired",
                    stats.items, stats.batches, stats.rejected, stats.expired
                );
                anyhow::Ok(())
            })
        }
        Command::Healthcheck { addr } => {
            // A service bound to every interface (0.0.0.0) is reached on loopback.
            let addr = addr.replace("0.0.0.0", "127.0.0.1");
            let url = format!("http://{addr}/readyz");
            let r = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()?
                .get(&url)
                .send()
                .with_context(|| format!("GET {url}"))?;
            if !r.status().is_success() {
                bail!("GET {url}: {}", r.status());
            }
            Ok(())
        }
        Command::Samples { dir, count } => {
            let (_, test) = model::mnist()?;
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for i in 0..count.min(test.len()) {
                let path = dir.join(format!("{i:04}-label{}.png", test.labels[i]));
                std::fs::write(&path, encode_png(test.image(i))?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!(
                "wrote {} PNG files into {}",
                count.min(test.len()),
                dir.display()
            );
            Ok(())
        }
        Command::Predict { file, url } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let r = reqwest::blocking::Client::new()
                .post(&url)
                .header("content-type", "image/png")
                .body(bytes)
                .send()
                .with_context(|| format!("POST {url}"))?;
            let status = r.status();
            println!("{status} {}", r.text()?);
            if !status.is_success() {
                bail!("the service answered {status}");
            }
            Ok(())
        }
    }
}
