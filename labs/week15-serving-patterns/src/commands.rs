//! The lab's commands, each one part of the lab run for real.

use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wb_serve::BatchConfig;
use week15_serving_patterns::batch::{self, Job, Partition};
use week15_serving_patterns::data::{self, Format};
use week15_serving_patterns::model::{self, ScoringModel};
use week15_serving_patterns::online::{self, AppState};

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Write the lab's tables: customers.csv, transactions.parquet (or .csv), labelled.parquet
    Generate {
        #[arg(long, default_value = "output/week15-serving-patterns/data")]
        dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000, value_parser = wb_lab::at_least_one)]
        rows: usize,
        #[arg(long, value_enum, default_value_t = Format::Parquet)]
        format: Format,
        #[arg(long, default_value_t = 15)]
        seed: u64,
    },
    /// Fit the logistic regression on labelled.parquet and write the model file
    Train {
        #[arg(long, default_value = "output/week15-serving-patterns/data")]
        data: PathBuf,
        #[arg(long, default_value = "output/week15-serving-patterns/model.json")]
        model: PathBuf,
    },
    /// Score a transactions table into Parquet part files: every partition (skipping complete
    /// ones), or one of them with --partition I/N or --index (a Kubernetes Indexed Job sets
    /// JOB_COMPLETION_INDEX)
    Score {
        #[arg(
            long,
            default_value = "output/week15-serving-patterns/data/transactions.parquet"
        )]
        input: PathBuf,
        #[arg(
            long,
            default_value = "output/week15-serving-patterns/data/customers.csv"
        )]
        customers: PathBuf,
        #[arg(long, default_value = "output/week15-serving-patterns/model.json")]
        model: PathBuf,
        #[arg(long, default_value = "output/week15-serving-patterns/scored")]
        out: PathBuf,
        /// Score only this partition, INDEX/COUNT (0-based)
        #[arg(long, conflicts_with_all = ["parts", "index"])]
        partition: Option<Partition>,
        /// Cut the input into this many partitions
        #[arg(long, default_value_t = 1, value_parser = wb_lab::at_least_one)]
        parts: usize,
        /// Score only partition INDEX of --parts
        #[arg(long, env = "JOB_COMPLETION_INDEX")]
        index: Option<usize>,
        /// Rows per chunk (and per Parquet row group)
        #[arg(long, default_value_t = 65_536, value_parser = wb_lab::at_least_one)]
        chunk_rows: usize,
        /// Pause this long after each chunk (to watch, or kill, a run half-way)
        #[arg(long, default_value_t = 0, hide = true)]
        pause_ms: u64,
    },
    /// Serve the network behind the dynamic batcher: POST /v1/score, GET /healthz
    Serve {
        #[arg(long, default_value = "output/week15-serving-patterns/data")]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8015")]
        addr: String,
        #[arg(long, default_value_t = 32, value_parser = wb_lab::at_least_one)]
        max_batch: usize,
        #[arg(long, default_value_t = 2.0)]
        max_wait_ms: f64,
        #[arg(long, default_value_t = 256, value_parser = wb_lab::at_least_one)]
        queue: usize,
        #[arg(long, default_value_t = 2000)]
        deadline_ms: u64,
    },
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Generate {
            dir,
            rows,
            format,
            seed,
        } => {
            let started = Instant::now();
            let files = data::generate(&dir, rows, format, seed)?;
            println!(
                "wrote {}, {} ({rows} rows) and {} in {:.1} s",
                files.customers.display(),
                files.transactions.display(),
                files.labelled.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Train { data, model } => {
            let m = model::train(&data.join("labelled.parquet"), &data.join("customers.csv"))?;
            m.save(&model)?;
            println!(
                "wrote {}: held-out log-loss {:.4} (the true probabilities: {:.4})",
                model.display(),
                m.holdout_log_loss,
                m.bayes_log_loss
            );
            Ok(())
        }
        Command::Score {
            input,
            customers,
            model,
            out,
            partition,
            parts,
            index,
            chunk_rows,
            pause_ms,
        } => {
            let job = Job {
                input,
                customers,
                model: ScoringModel::load(&model)?,
                out_dir: out,
                chunk_rows,
                pause_per_chunk: Duration::from_millis(pause_ms),
            };
            let todo = match (partition, index) {
                (Some(p), _) => vec![p],
                (None, Some(i)) => vec![Partition::new(i, parts).context("--index")?],
                (None, None) => Partition::all(parts)?,
            };
            let started = Instant::now();
            let mut scored = 0;
            for p in todo {
                let r = batch::run_partition(&job, p)?;
                if r.skipped {
                    println!("partition {p}: complete already, skipped");
                } else {
                    scored += r.rows;
                    println!(
                        "partition {p}: rows {}..{} scored in {:.2} s",
                        r.first_row,
                        r.first_row + r.rows,
                        r.seconds
                    );
                }
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{scored} rows scored in {secs:.2} s: {:.0} rows/s; peak memory {:.0} MiB",
                scored as f64 / secs,
                batch::peak_resident_mib()
            );
            Ok(())
        }
        Command::Serve {
            data,
            addr,
            max_batch,
            max_wait_ms,
            queue,
            deadline_ms,
        } => {
            let config = BatchConfig::with_wait_ms(max_batch, max_wait_ms, queue)?;
            let (labelled, customers) = (data.join("labelled.parquet"), data.join("customers.csv"));
            let standard = model::train(&labelled, &customers)?;
            let (columns, labels) = model::labelled_features(&labelled, &customers)?;
            let (mlp, loss) = online::train_mlp(&columns, &labels, &standard, 2, 15)?;
            let state = AppState::new(Arc::new(mlp), config, Duration::from_millis(deadline_ms))?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(&addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?;
                println!(
                    "network trained (loss {loss:.4}); serving on http://{addr}/v1/score with {config:?} — Ctrl-C or SIGTERM stops it gracefully"
                );
                let stats = online::serve(listener, state, wb_serve::shutdown_signal()).await?;
                println!(
                    "stopped cleanly: {} requests in {} batches, {} shed, {} expired",
                    stats.items, stats.batches, stats.rejected, stats.expired
                );
                anyhow::Ok(())
            })
        }
    }
}
