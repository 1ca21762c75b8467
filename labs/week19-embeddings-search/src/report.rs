//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use crate::sweep::{FileCheck, Sweeps};
use serde::Serialize;
use std::fmt;
use week19_embeddings_search::Hit;
use week19_embeddings_search::corpus::{Chunk, Speech};

#[derive(Serialize)]
pub struct CorpusReport {
    pub speeches: usize,
    pub years: (u32, u32),
    pub chunks: usize,
    pub mean_words: f64,
    pub max_words: usize,
    pub embed_s: f64,
    pub cached: bool,
}

impl CorpusReport {
    pub fn new(speeches: &[Speech], chunks: &[Chunk], embed_s: f64, cached: bool) -> Self {
        let words: Vec<usize> = chunks
            .iter()
            .map(|c| c.text.split_whitespace().count())
            .collect();
        Self {
            speeches: speeches.len(),
            years: (
                speeches.iter().map(|s| s.year).min().unwrap_or(0),
                speeches.iter().map(|s| s.year).max().unwrap_or(0),
            ),
            chunks: chunks.len(),
            mean_words: words.iter().sum::<usize>() as f64 / words.len().max(1) as f64,
            max_words: words.iter().copied().max().unwrap_or(0),
            embed_s,
            cached,
        }
    }
}

#[derive(Serialize)]
pub struct SearchExample {
    pub question: String,
    /// (score, year, president, the chunk's first words)
    pub hits: Vec<(f32, u32, String, String)>,
}

impl SearchExample {
    pub fn new(question: &str, hits: &[Hit], chunks: &[Chunk]) -> Self {
        let snippet = |t: &str| {
            let words: Vec<&str> = t.split_whitespace().collect();
            let mut s = words[..words.len().min(14)].join(" ");
            if words.len() > 14 {
                s.push_str(" …");
            }
            s
        };
        Self {
            question: question.into(),
            hits: hits
                .iter()
                .map(|h| {
                    let c = &chunks[h.id as usize];
                    (h.score, c.year, c.president.clone(), snippet(&c.text))
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub struct ShardReport {
    pub shards: usize,
    pub pids: Vec<u32>,
    pub sizes: Vec<usize>,
    pub identical: bool,
    pub recall: f64,
    pub batch_qps: f64,
    pub per_query_ms: f64,
}

/// The lab's results: the JSON of `--json` (its fields) and the printed report (`Display`).
#[derive(Serialize)]
pub struct Report {
    pub corpus: CorpusReport,
    pub pairs: Vec<(String, String, f32)>,
    pub searches: Vec<SearchExample>,
    pub base: usize,
    pub queries: usize,
    pub k: usize,
    pub sweeps: Sweeps,
    pub files: Vec<FileCheck>,
    pub sharding: ShardReport,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.corpus;
        writeln!(
            f,
            "1. The corpus: {} State of the Union addresses, {}–{}",
            c.speeches, c.years.0, c.years.1
        )?;
        writeln!(
            f,
            "   {} chunks of whole sentences: {:.1} words on average, {} at most",
            c.chunks, c.mean_words, c.max_words
        )?;
        if c.cached {
            writeln!(
                f,
                "   MiniLM embeddings (384-d, unit length) read from the cache in {:.2} s",
                c.embed_s
            )?;
        } else {
            writeln!(
                f,
                "   embedded with MiniLM (384-d, unit length) in {:.0} s: {:.0} chunks/s (cached for the next run)",
                c.embed_s,
                c.chunks as f64 / c.embed_s
            )?;
        }
        writeln!(
            f,
            "\n2. Cosine similarity (the dot product of unit vectors):"
        )?;
        for (a, b, s) in &self.pairs {
            writeln!(f, "   {s:>5.2}  {a:?} · {b:?}")?;
        }
        writeln!(
            f,
            "\n3. Semantic search over all {} chunks (exact), top 3:",
            c.chunks
        )?;
        for s in &self.searches {
            writeln!(f, "   {:?}", s.question)?;
            for (score, year, president, text) in &s.hits {
                writeln!(f, "     {score:.2}  {year} {president}: {text}")?;
            }
        }
        let sw = &self.sweeps;
        writeln!(
            f,
            "\n4. Indexes over {} chunks, {} held-out chunks as queries, recall@{} against exact search (one thread):",
            self.base, self.queries, self.k
        )?;
        writeln!(
            f,
            "   IVF: {} cells (k-means, {:.1} s to build), {}–{} vectors per cell",
            sw.nlist, sw.ivf_build_s, sw.list_sizes.0, sw.list_sizes.1
        )?;
        writeln!(
            f,
            "   HNSW (ours): m = {}, ef_construction = {}, {:.1} s to build, nodes per layer {:?}",
            sw.m, sw.ef_construction, sw.hnsw_build_s, sw.layers
        )?;
        writeln!(
            f,
            "   instant-distance HNSW: m = 32 (fixed by the crate), {:.1} s to build (its threads)",
            sw.crate_build_s
        )?;
        writeln!(
            f,
            "   {:<18} {:>8} {:>10} {:>12}",
            "index", "setting", "recall@k", "queries/s"
        )?;
        for p in &sw.points {
            let setting = match p.index.as_str() {
                "flat" => "–".to_string(),
                "IVF" => format!("nprobe {}", p.setting),
                _ => format!("ef {}", p.setting),
            };
            writeln!(
                f,
                "   {:<18} {:>8} {:>10.3} {:>12.0}",
                p.index, setting, p.recall, p.qps
            )?;
        }
        writeln!(f, "\n5. Saved and loaded (versioned, SHA-256 checked):")?;
        for file in &self.files {
            writeln!(
                f,
                "   {:<5} {:>9} bytes, loaded in {:.0} ms: answers {}, re-saved {}",
                file.kind,
                file.bytes,
                file.load_ms,
                if file.same_answers {
                    "identical"
                } else {
                    "DIFFERENT"
                },
                if file.same_bytes {
                    "byte for byte"
                } else {
                    "DIFFERENTLY"
                }
            )?;
        }
        if let Some(file) = self.files.first() {
            writeln!(f, "   one byte changed: {}", file.corrupted)?;
        }
        let s = &self.sharding;
        writeln!(
            f,
            "\n6. Sharded: {} processes (pids {:?}) holding {:?} vectors, queries fanned out over HTTP, top-{} merged",
            s.shards, s.pids, s.sizes, self.k
        )?;
        writeln!(
            f,
            "   answers {} to the single exact index (recall {:.3}); {:.0} queries/s in one batch, {:.1} ms per single query",
            if s.identical {
                "identical"
            } else {
                "NOT identical"
            },
            s.recall,
            s.batch_qps,
            s.per_query_ms
        )
    }
}
