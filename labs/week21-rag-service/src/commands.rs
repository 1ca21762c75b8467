//! The lab's commands: the service for real, ingestion from files, one question.

use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Duration;
use week21_rag_service::ingest::read_path;
use week21_rag_service::pipeline::{Progress, Rag, Settings};
use week21_rag_service::service;
use week21_rag_service::store::Store;
use week21_rag_service::wb_llm::{ChatModel, Embedder, LocalModel, ScriptedModel, WeightFormat};
use week21_rag_service::week20::chunk::Tokens;

const STORE: &str = "output/week21-rag-service/store.sqlite";

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the store over HTTP (see GET /openapi.json); Ctrl-C stops it after running requests
    Serve {
        #[arg(long, default_value = STORE, env = "STORE")]
        store: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8021", env = "ADDR")]
        addr: String,
        /// Requests that may wait for the worker
        #[arg(long, default_value_t = 16, value_parser = wb_lab::at_least_one)]
        queue: usize,
    },
    /// Ingest .txt, .md and .jsonl files (or folders of them), one document per transaction;
    /// prints a line per document once it is committed
    Ingest {
        #[arg(long, default_value = STORE, env = "STORE")]
        store: PathBuf,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Pause after each passage written (lets a test kill the process mid-document)
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
    /// Answer one question from the store, streamed to the terminal
    Ask {
        #[arg(long, default_value = STORE, env = "STORE")]
        store: PathBuf,
        question: String,
    },
}

/// The pipeline over the store at `path`, with the local models; SmolLM2 only when it will
/// answer (ingestion embeds, it never asks the LLM: an empty script stands in its place).
fn open(path: &std::path::Path, answering: bool) -> Result<Rag> {
    let mut say = |m: &str| eprintln!("{m}");
    let store = Store::open(path)?;
    let embedder = Embedder::minilm(&mut say)?;
    let tokens = Tokens::minilm(&mut say)?;
    let model: Box<dyn ChatModel + Send> = if answering {
        Box::new(LocalModel::smollm2(WeightFormat::Quantized, &mut say)?)
    } else {
        Box::new(ScriptedModel::new(Vec::<String>::new()))
    };
    Ok(Rag::new(
        store,
        embedder,
        tokens,
        model,
        Settings::default(),
    )?)
}

pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve { store, addr, queue } => {
            let rag = open(&store, true)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let (app, worker) = service::router(rag, queue)?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(&addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?;
                eprintln!(
                    "serving {} on http://{addr} (GET /openapi.json)",
                    store.display()
                );
                service::serve(listener, app, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
                anyhow::Ok(())
            })?;
            drop(runtime);
            let _ = worker.join();
            Ok(())
        }
        Command::Ingest {
            store,
            paths,
            pause_ms,
        } => {
            let mut rag = open(&store, false)?;
            rag.store_mut().pause = Duration::from_millis(pause_ms);
            for path in paths {
                for doc in read_path(&path)? {
                    for done in rag.ingest(std::slice::from_ref(&doc), &mut |_, _| {})? {
                        let what = serde_json::to_value(&done.outcome)?;
                        println!(
                            "{} {} {}",
                            what["outcome"].as_str().unwrap_or("?"),
                            done.source,
                            done.passages
                        );
                    }
                }
            }
            let c = rag.counts()?;
            println!("store: {} documents, {} passages", c.documents, c.passages);
            Ok(())
        }
        Command::Ask { store, question } => {
            let mut rag = open(&store, true)?;
            let answer = rag.answer(&question, &mut |p| {
                match p {
                    Progress::Passages(hits) => {
                        for (i, h) in hits.iter().enumerate() {
                            println!(
                                "[{}] {} ({}..{})",
                                i + 1,
                                h.passage.source,
                                h.passage.start,
                                h.passage.end
                            );
                        }
                        println!();
                    }
                    Progress::Text(t) => {
                        use std::io::Write;
                        print!("{t}");
                        let _ = std::io::stdout().flush();
                    }
                }
                true
            })?;
            println!(
                "\n\ncited {:?}, invalid {:?}, groundedness {:.2}",
                answer.check.cited, answer.check.invalid, answer.check.groundedness
            );
            Ok(())
        }
    }
}
