//! Week 21: `cargo run -p week21-rag-service` runs the whole lab: the State of the Union
//! addresses ingested into a SQLite store (twice: the second time changes nothing), files of
//! three formats added, updated and deleted, the store reopened, then the HTTP service measured
//! on the 116 labelled questions (retrieval, cited answers streamed from SmolLM2, bad requests).
//! `-- <serve|ingest|ask> --help` runs one part for real.

mod commands;
mod probes;
mod report;

use anyhow::Result;
use clap::Parser;
use commands::Command;
use report::*;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use wb_lab::{Lab, LabArgs};
use week21_rag_service::client::ask_streamed;
use week21_rag_service::ingest::{Doc, read_path};
use week21_rag_service::pipeline::{Context, Mode, Rag, Settings};
use week21_rag_service::service;
use week21_rag_service::store::{Outcome, Store};
use week21_rag_service::wb_llm::{Embedder, LocalModel, WeightFormat};
use week21_rag_service::week19::corpus::{Speech, load_speeches};
use week21_rag_service::week20::Scored;
use week21_rag_service::week20::chunk::Tokens;
use week21_rag_service::week20::metrics::evaluate;
use week21_rag_service::week20::questions::{Question, load_questions};

/// Week 21: a RAG service — documents ingested into a persistent SQLite store (passages,
/// vectors, a full-text index), hybrid retrieval with reranking, answers from the local LLM with
/// numbered citations checked against the passages, over HTTP with streaming and OpenAPI.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Answer every n-th labelled question with the LLM (each takes a few seconds)
    #[arg(long, default_value_t = 8, value_parser = wb_lab::at_least_one)]
    answer_every: usize,
    /// What the prompt shows of each passage: its best sentence, or all of it
    #[arg(long, value_enum, default_value_t = ContextArg::Quotes)]
    context: ContextArg,
    #[command(flatten)]
    lab: LabArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ContextArg {
    Quotes,
    Passages,
}

/// Where the lab keeps its store and sample files.
const DIR: &str = "output/week21-rag-service";
/// Recall cut-offs in the tables.
const KS: [usize; 3] = [1, 3, 10];

/// The source name of an address.
fn source_of(s: &Speech) -> String {
    let name = s
        .president
        .split_whitespace()
        .last()
        .unwrap_or("unknown")
        .to_lowercase();
    format!("sotu/{}-{name}", s.year)
}

/// The passages (ids) of `store` that hold at least half of `q`'s gold sentence.
fn relevant(store: &Store, q: &Question, source: &str) -> Result<Vec<usize>> {
    let need = q.end.saturating_sub(q.start).div_ceil(2).max(1);
    Ok(store
        .spans(source)?
        .into_iter()
        .filter(|&(_, s, e)| e.min(q.end).saturating_sub(s.max(q.start)) >= need)
        .map(|(id, _, _)| id as usize)
        .collect())
}

/// Removes a store and its write-ahead log.
fn remove_store(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// The sample files of three formats the lab ingests (written fresh each run).
fn write_samples(dir: &Path, guide_version: u32) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("guide.md"),
        format!(
            "# Reading the addresses\n\nThe *State of the Union* is given each year by the President to **Congress**. \
             Version {guide_version} of this guide.\n\n- Truman gave the first televised address in 1947.\n\
             - Addresses were read by clerks for most of the nineteenth century.\n"
        ),
    )?;
    std::fs::write(
        dir.join("note.txt"),
        "A note on the corpus\n\nThe corpus holds 79 addresses, from 1945 to 2021, as plain text.\n",
    )?;
    let copy = load_speeches()?.swap_remove(0).text;
    std::fs::write(
        dir.join("extra.jsonl"),
        format!(
            "{}\n{}\n",
            serde_json::json!({"id": "glossary", "title": "Glossary", "text": "A joint session is a meeting of both houses of Congress. The address is delivered in the House chamber."}),
            serde_json::json!({"id": "copy-of-1945", "text": copy}),
        ),
    )?;
    Ok(())
}

fn demo(cli: &Cli, lab: &mut Lab) -> Result<Report> {
    let progress = lab.progress();
    let mut say = |m: &str| {
        if progress {
            eprintln!("{m}")
        }
    };
    let dir = PathBuf::from(DIR);
    let store_path = dir.join("store.sqlite");
    remove_store(&store_path)?;
    let speeches = lab.timed("load", load_speeches)?;
    let questions = load_questions(&speeches)?;
    let sources: Vec<String> = speeches.iter().map(source_of).collect();
    let docs = speeches
        .iter()
        .zip(&sources)
        .map(|(s, src)| Doc::new(src, &format!("{} {}", s.year, s.president), s.text.clone()))
        .collect::<week21_rag_service::Result<Vec<_>>>()?;
    let embedder = Embedder::minilm(&mut say)?;
    let tokens = Tokens::minilm(&mut say)?;
    let model = LocalModel::smollm2(WeightFormat::Quantized, &mut say)?;
    let context = match cli.context {
        ContextArg::Quotes => Context::Quotes,
        ContextArg::Passages => Context::Passages,
    };
    let settings = Settings {
        context,
        ..Settings::default()
    };
    let mut rag = Rag::new(
        Store::open(&store_path)?,
        embedder,
        tokens,
        Box::new(model),
        settings,
    )?;

    // 1. The corpus ingested, then ingested again.
    let mut tick = |done: usize, total: usize| {
        if progress && (done % 512 < 16 || done == total) {
            eprintln!("embedded {done} of {total} passages");
        }
    };
    let started = Instant::now();
    let first = rag.ingest(&docs, &mut tick)?;
    let ingest_s = started.elapsed().as_secs_f64();
    let after_first = rag.counts()?;
    let started = Instant::now();
    let again = rag.ingest(&docs, &mut tick)?;
    let reingest_ms = started.elapsed().as_secs_f64() * 1e3;
    let ingestion = Ingestion {
        documents: docs.len(),
        added: first.iter().filter(|i| i.outcome == Outcome::Added).count(),
        passages: after_first.passages,
        seconds: ingest_s,
        again_unchanged: again
            .iter()
            .filter(|i| i.outcome == Outcome::Unchanged)
            .count(),
        again_ms: reingest_ms,
        counts_first: after_first,
        counts_again: rag.counts()?,
    };

    // 2. Files of three formats; an update and a delete.
    let samples = dir.join("samples");
    write_samples(&samples, 1)?;
    let files = rag.ingest(&read_path(&samples)?, &mut |_, _| {})?;
    write_samples(&samples, 2)?;
    let updated = rag.ingest(&read_path(&samples.join("guide.md"))?, &mut |_, _| {})?;
    let note = samples.join("note.txt").display().to_string();
    let deleted = rag.delete(&note)?;
    let deleted_again = rag.delete(&note)?;
    let changes = Changes {
        files,
        updated,
        deleted,
        deleted_again,
        counts: rag.counts()?,
    };

    // 3. A restart: the store closed and opened again.
    let probe = &questions[0].question;
    let before: Vec<i64> = rag
        .search(probe, Mode::Hybrid, false, 10)?
        .iter()
        .map(|h| h.passage.id)
        .collect();
    let counts_before = rag.counts()?;
    let rag = rag.reopen()?;
    let after: Vec<i64> = rag
        .search(probe, Mode::Hybrid, false, 10)?
        .iter()
        .map(|h| h.passage.id)
        .collect();
    let restart = Restart {
        counts_before,
        counts_after: rag.counts()?,
        same_results: before == after,
        problems: rag.store().problems()?,
        file_mb: std::fs::metadata(&store_path)?.len() as f64 / 1e6,
    };

    let rel = questions
        .iter()
        .map(|q| relevant(rag.store(), q, &sources[q.speech]))
        .collect::<Result<Vec<_>>>()?;

    // 4. The service on loopback.
    let runtime = tokio::runtime::Runtime::new()?;
    let (app, worker) = service::router(rag, 16)?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(service::serve(listener, app, async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        let retrieval = retrieval(&client, &base, &questions, &rel).await?;
        let answers = answers(&client, &base, &questions, &rel, cli.answer_every, &mut say).await?;
        let bad = probes::bad_requests(&client, &base).await?;
        let poisoned = probes::poisoned(&client, &base).await?;
        let openapi: serde_json::Value = client
            .get(format!("{base}/openapi.json"))
            .send()
            .await?
            .json()
            .await?;
        let paths = openapi["paths"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let _ = stop.send(());
        server.await??;
        anyhow::Ok(Served {
            retrieval,
            answers,
            bad,
            poisoned,
            paths,
        })
    })?;
    drop(runtime);
    let _ = worker.join();

    lab.saved(plot_recall(lab, &served.retrieval)?);
    lab.saved(plot_latency(lab, &served)?);
    Ok(Report {
        settings,
        questions: questions.len(),
        ingestion,
        changes,
        restart,
        served,
    })
}

/// Every question through `POST /v1/search` in four ways.
async fn retrieval(
    client: &reqwest::Client,
    base: &str,
    questions: &[Question],
    rel: &[Vec<usize>],
) -> Result<Vec<RetrievalRow>> {
    let modes = [
        ("BM25 (SQLite FTS5)", "bm25", false),
        ("dense (MiniLM, exact)", "dense", false),
        ("hybrid (RRF)", "hybrid", false),
        ("hybrid + rerank", "hybrid", true),
    ];
    let mut rows = Vec::new();
    for (name, mode, rerank) in modes {
        let mut runs = Vec::new();
        let mut ms = Vec::new();
        for q in questions {
            let started = Instant::now();
            let r: serde_json::Value = client
                .post(format!("{base}/v1/search"))
                .json(&serde_json::json!({"query": q.question, "mode": mode, "rerank": rerank, "k": 10}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            ms.push(started.elapsed().as_secs_f64() * 1e3);
            let hits = r["hits"].as_array().cloned().unwrap_or_default();
            runs.push(
                hits.iter()
                    .map(|h| Scored {
                        id: h["id"].as_u64().unwrap_or(0) as usize,
                        score: h["score"].as_f64().unwrap_or(0.0),
                    })
                    .collect::<Vec<_>>(),
            );
        }
        let curve = evaluate(name, &runs, rel, &(1..=10).collect::<Vec<_>>())?.recall;
        rows.push(RetrievalRow {
            summary: evaluate(name, &runs, rel, &KS)?,
            curve,
            latency: Latency::of(&ms),
        });
    }
    Ok(rows)
}

/// Every `every`-th question answered through the streamed `POST /v1/query`.
async fn answers(
    client: &reqwest::Client,
    base: &str,
    questions: &[Question],
    rel: &[Vec<usize>],
    every: usize,
    say: &mut dyn FnMut(&str),
) -> Result<Answers> {
    let mut rows = Vec::new();
    for (i, q) in questions.iter().enumerate().step_by(every) {
        say(&format!(
            "answering question {} of {}",
            i + 1,
            questions.len()
        ));
        let s = ask_streamed(client, base, &q.question, None).await?;
        let done = s.done.ok_or_else(|| {
            anyhow::anyhow!(
                "question {}: the stream ended without an answer ({:?})",
                q.id,
                s.error
            )
        })?;
        rows.push(AnswerRow::new(
            q,
            &done,
            &rel[i],
            s.first_text_ms.unwrap_or(s.total_ms),
            s.total_ms,
            &s.texts,
            s.after_end,
        )?);
    }
    Ok(Answers::new(every, rows))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        None => wb_lab::run(
            "week21-rag-service",
            "Week 21 — a RAG service: ingestion, a persistent store, cited answers over HTTP",
            &cli.lab,
            |lab| demo(&cli, lab),
        ),
        Some(command) => wb_lab::exit(commands::run(command.clone())),
    }
}
