//! Week 19: `cargo run -p week19-embeddings-search` runs the whole lab; `-- shard` serves one
//! shard of an index (the lab starts these itself); `-- bench` writes the vectors and measures
//! the indexes for bench/compare_ann.sh (faiss-cpu on the same vectors).

mod report;
mod sweep;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use report::*;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use wb_lab::{Lab, LabArgs};
use week19_embeddings_search::corpus::{chunk_corpus, load_speeches};
use week19_embeddings_search::embed::embed_cached;
use week19_embeddings_search::shard::{self, ShardProcess, Sharded};
use week19_embeddings_search::wb_llm::Embedder;
use week19_embeddings_search::{Flat, Index, VectorIndex, Vectors, dot};

/// Week 19: embeddings, semantic search and vector indexes — the State of the Union addresses
/// embedded with MiniLM, searched by meaning, indexed flat, by IVF and by HNSW (built here), and
/// measured for recall and speed against exact search and a production HNSW crate.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    params: sweep::Params,
    /// Processes the index is sharded across
    #[arg(long, default_value_t = 3, value_parser = wb_lab::at_least_one)]
    shards: usize,
    #[command(flatten)]
    lab: LabArgs,
}

#[derive(Debug, Clone, Subcommand)]
enum Command {
    /// Serve one index file over HTTP on loopback (GET /info, POST /search) until killed;
    /// prints `listening on http://127.0.0.1:PORT` first
    Shard {
        #[arg(long)]
        index: PathBuf,
        /// 0: any free port
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Write the vectors and queries (raw little-endian f32) for bench/compare_ann.sh and print
    /// this build's sweeps as JSON
    Bench {
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        params: sweep::Params,
    },
}

/// Natural-language questions for the semantic-search demonstration.
const QUESTIONS: [&str; 4] = [
    "sending astronauts to the moon",
    "health insurance for every family",
    "the threat of nuclear weapons",
    "cutting taxes for small businesses",
];

/// Sentence pairs whose cosine similarity the report shows.
const PAIRS: [(&str, &str); 3] = [
    (
        "We must balance the budget.",
        "The deficit has to come down.",
    ),
    (
        "We must balance the budget.",
        "Our astronauts will return to the Moon.",
    ),
    (
        "The economy is growing.",
        "Unemployment is at a record low.",
    ),
];

fn run(cli: &Cli, lab: &mut Lab) -> Result<Report> {
    let p = &cli.params;
    let speeches = lab.timed("load", load_speeches)?;
    let chunks = lab.timed("chunk", || chunk_corpus(&speeches, p.max_words))?;
    let progress = lab.progress();
    let mut say = |m: &str| {
        if progress {
            eprintln!("{m}")
        }
    };
    let embedder = Embedder::minilm(&mut say)?;
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    let mut tick = |done: usize, total: usize| {
        if progress && (done % 512 < 16 || done == total) {
            eprintln!("embedded {done} of {total} chunks");
        }
    };
    let started = Instant::now();
    let (all, cached) = embed_cached(&embedder, &texts, &mut tick)?;
    let embed_s = started.elapsed().as_secs_f64();
    let corpus = CorpusReport::new(&speeches, &chunks, embed_s, cached);

    // Meaning, not words: cosine similarities and searches by question.
    let pair_texts: Vec<&str> = PAIRS.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let pv = embedder.embed(&pair_texts)?;
    let pairs = PAIRS
        .iter()
        .zip(pv.chunks(2))
        .map(|((a, b), v)| (a.to_string(), b.to_string(), dot(&v[0], &v[1])))
        .collect();
    let flat_all = Flat::new(all.clone());
    let qv = embedder.embed(&QUESTIONS)?;
    let searches = QUESTIONS
        .iter()
        .zip(&qv)
        .map(|(q, v)| {
            let hits = flat_all.search(v, 3)?;
            Ok(SearchExample::new(q, &hits, &chunks))
        })
        .collect::<Result<Vec<_>>>()?;

    // Held-out chunks are the queries; the rest is indexed.
    let (base, queries) = week19_embeddings_search::eval::split(&all, p.queries)?;
    let sweeps = sweep::run_all(&base, &queries, p, &mut say)?;
    let recall_plot = sweep::plot(&sweeps.points, base.len(), lab.plots_dir())?;
    lab.saved(recall_plot);

    let files = sweep::save_load(&sweeps.indexes, &queries, p.k)?;
    let sharding = shards(&base, &queries, p.k, cli.shards)?;
    Ok(Report {
        corpus,
        pairs,
        searches,
        base: base.len(),
        queries: queries.len(),
        k: p.k,
        sweeps,
        files,
        sharding,
    })
}

/// The base split across `n` shard processes (exact indexes), every query fanned out, the
/// answers compared with the single exact index.
fn shards(base: &Vectors, queries: &Vectors, k: usize, n: usize) -> Result<ShardReport> {
    // Declared before the processes: dropped after them (the shards stopped, then their files
    // removed), on every return.
    let scratch = sweep::ScratchDir::new("week19-shards")?;
    let dir = &scratch.0;
    let parts = shard::partition(base, n)?;
    let exe = std::env::current_exe().context("finding this program to start the shards")?;
    let mut processes = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let file = dir.join(format!("shard-{i}.idx"));
        Index::Flat(Flat::new(part)).save(&file)?;
        processes.push(ShardProcess::spawn(&exe, &file)?);
    }
    let urls: Vec<String> = processes.iter().map(|s| s.url.clone()).collect();
    let sharded = Sharded::connect(&urls)?;
    let started = Instant::now();
    let merged = sharded.search_batch(queries, k)?;
    let batch_s = started.elapsed().as_secs_f64();
    let single = Flat::new(base.clone());
    let truth = queries
        .rows()
        .map(|q| single.search(q, k))
        .collect::<week19_embeddings_search::Result<Vec<_>>>()?;
    // One query at a time: the latency a user sees through the fan-out.
    let started = Instant::now();
    let one_by_one = 50.min(queries.len());
    for i in 0..one_by_one {
        sharded.search_batch(&queries.select(&[i])?, k)?;
    }
    let per_query_ms = started.elapsed().as_secs_f64() * 1e3 / one_by_one as f64;
    let report = ShardReport {
        shards: n,
        pids: processes.iter().map(ShardProcess::pid).collect(),
        sizes: sharded.lens().to_vec(),
        identical: merged == truth,
        recall: week19_embeddings_search::eval::recall_at_k(&truth, &merged, k)?,
        batch_qps: queries.len() as f64 / batch_s,
        per_query_ms,
    };
    drop(processes);
    Ok(report)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        None => wb_lab::run(
            "week19-embeddings-search",
            "Week 19 — embeddings, semantic search and vector indexes",
            &cli.lab,
            |lab| run(&cli, lab),
        ),
        Some(Command::Shard { index, port }) => wb_lab::exit(serve_shard(index, *port)),
        Some(Command::Bench { out, params }) => wb_lab::exit(sweep::bench(out, params)),
    }
}

fn serve_shard(file: &std::path::Path, port: u16) -> Result<()> {
    use std::io::Write;
    let index = Index::load(file)?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", listener.local_addr()?)?;
    out.flush()?;
    drop(out);
    Ok(shard::serve(index, listener)?)
}
