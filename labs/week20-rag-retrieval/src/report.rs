//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;
use week20_rag_retrieval::Scored;
use week20_rag_retrieval::metrics::Summary;
use week20_rag_retrieval::questions::Question;
use week20_rag_retrieval::week19::corpus::Chunk;

#[derive(Serialize)]
pub struct ChunkingRow {
    pub chunker: String,
    pub chunks: usize,
    pub mean_tokens: f64,
    pub max_tokens: usize,
    /// Chunks longer than MiniLM reads (their ends would not be embedded).
    pub over_minilm: usize,
    pub addresses_losing_text: usize,
    /// Questions whose gold sentence no single chunk holds whole.
    pub split_gold: usize,
    /// Bytes repeated by overlap, as a share of the corpus.
    pub repeated_share: f64,
    /// BM25: share of questions with a passage holding half the gold sentence in the top 5.
    pub found5: f64,
    pub mrr: f64,
}

/// The lab's BM25 (tantivy's settings) against tantivy, and the effect of its quantised lengths.
#[derive(Serialize)]
pub struct Agreement {
    pub queries: usize,
    /// Queries whose top 10 are the same passages in the same order.
    pub same_top10: usize,
    /// The largest relative difference between matched scores.
    pub max_rel_diff: f64,
    /// Queries whose top 10 (as sets) are the same with exact lengths as with tantivy's.
    pub exact_lengths_same_set: usize,
}

impl Agreement {
    pub fn new(quantised: &[Vec<Scored>], engine: &[Vec<Scored>], exact: &[Vec<Scored>]) -> Self {
        let mut same_top10 = 0;
        let mut max_rel_diff: f64 = 0.0;
        let mut exact_lengths_same_set = 0;
        for ((q, e), x) in quantised.iter().zip(engine).zip(exact) {
            let e10 = &e[..e.len().min(10)];
            if q.iter().map(|h| h.id).eq(e10.iter().map(|h| h.id)) {
                same_top10 += 1;
            }
            for (a, b) in q.iter().zip(e10) {
                max_rel_diff =
                    max_rel_diff.max((a.score - b.score).abs() / b.score.abs().max(1e-12));
            }
            let mut xs: Vec<usize> = x.iter().take(10).map(|h| h.id).collect();
            let mut es: Vec<usize> = e10.iter().map(|h| h.id).collect();
            xs.sort_unstable();
            es.sort_unstable();
            exact_lengths_same_set += usize::from(xs == es);
        }
        Self {
            queries: quantised.len(),
            same_top10,
            max_rel_diff,
            exact_lengths_same_set,
        }
    }
}

#[derive(Serialize)]
pub struct Lexical {
    pub passages: usize,
    pub vocabulary: usize,
    pub avg_len: f64,
    pub bm25_build_s: f64,
    pub engine_build_s: f64,
    pub bm25_qps: f64,
    pub engine_qps: f64,
    pub agreement: Agreement,
}

/// Which retriever finds which questions' gold passage in its top 10.
#[derive(Serialize)]
pub struct Wins {
    pub both: usize,
    pub bm25_only: usize,
    pub dense_only: usize,
    pub neither: usize,
    pub hybrid: usize,
    /// Found by one part in the top 10 but missed by the fusion.
    pub hybrid_lost: usize,
}

impl Wins {
    pub fn new(
        bm25: &[Vec<Scored>],
        dense: &[Vec<Scored>],
        hybrid: &[Vec<Scored>],
        rel: &[Vec<usize>],
    ) -> Self {
        let found = |r: &[Scored], rel: &[usize]| r.iter().take(10).any(|h| rel.contains(&h.id));
        let mut w = Wins {
            both: 0,
            bm25_only: 0,
            dense_only: 0,
            neither: 0,
            hybrid: 0,
            hybrid_lost: 0,
        };
        for (((b, d), h), rel) in bm25.iter().zip(dense).zip(hybrid).zip(rel) {
            let (fb, fd, fh) = (found(b, rel), found(d, rel), found(h, rel));
            match (fb, fd) {
                (true, true) => w.both += 1,
                (true, false) => w.bm25_only += 1,
                (false, true) => w.dense_only += 1,
                (false, false) => w.neither += 1,
            }
            w.hybrid += usize::from(fh);
            w.hybrid_lost += usize::from((fb || fd) && !fh);
        }
        w
    }
}

#[derive(Serialize)]
pub struct SentenceReport {
    pub sentences: usize,
    pub cached: bool,
    pub seconds: f64,
    pub before: Summary,
    pub after: Summary,
}

#[derive(Serialize)]
pub struct RerankReport {
    pub every: usize,
    pub questions: usize,
    pub depth: usize,
    pub seconds: f64,
    pub per_pair_ms: f64,
    pub before: Summary,
    pub after: Summary,
}

#[derive(Serialize)]
pub struct Example {
    pub question: String,
    pub gold: String,
    pub year: u32,
    pub lists: Vec<ExampleList>,
}

/// One retriever's answer to the example question.
#[derive(Serialize)]
pub struct ExampleList {
    pub retriever: String,
    /// The rank of the gold passage (0: not in the list).
    pub gold_rank: usize,
    /// The top 3: (year, holds the gold sentence, first words).
    pub top: Vec<(u32, bool, String)>,
}

fn snippet(t: &str, words: usize) -> String {
    let all: Vec<&str> = t.split_whitespace().collect();
    let mut s = all[..all.len().min(words)].join(" ");
    if all.len() > words {
        s.push_str(" …");
    }
    s
}

impl Example {
    pub fn new(
        q: &Question,
        chunks: &[Chunk],
        lists: &[(&str, &Vec<Scored>)],
        rel: &[usize],
    ) -> Self {
        Self {
            question: q.question.clone(),
            gold: snippet(&q.gold, 16),
            year: q.year,
            lists: lists
                .iter()
                .map(|(name, hits)| {
                    let rank = hits
                        .iter()
                        .position(|h| rel.contains(&h.id))
                        .map_or(0, |i| i + 1);
                    let top = hits
                        .iter()
                        .take(3)
                        .map(|h| {
                            (
                                chunks[h.id].year,
                                rel.contains(&h.id),
                                snippet(&chunks[h.id].text, 10),
                            )
                        })
                        .collect();
                    ExampleList {
                        retriever: name.to_string(),
                        gold_rank: rank,
                        top,
                    }
                })
                .collect(),
        }
    }
}

/// The lab's results: the JSON of `--json` (its fields) and the printed report (`Display`).
#[derive(Serialize)]
pub struct Report {
    pub speeches: usize,
    pub questions: usize,
    pub two_relevant: usize,
    pub chunkings: Vec<ChunkingRow>,
    pub main: String,
    pub lexical: Lexical,
    pub embed_s: f64,
    pub cached: bool,
    pub dense_qps: f64,
    pub summaries: Vec<Summary>,
    pub wins: Wins,
    pub sentence: SentenceReport,
    pub rerank: RerankReport,
    pub example: Example,
    pub refused: Vec<(String, String)>,
}

fn summary_table(f: &mut fmt::Formatter<'_>, rows: &[&Summary]) -> fmt::Result {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    write!(f, "   {:<28}", "retriever")?;
    for (k, _) in &first.recall {
        write!(f, " {:>9}", format!("recall@{k}"))?;
    }
    writeln!(f, " {:>6} {:>8}", "MRR", "nDCG@10")?;
    for s in rows {
        write!(f, "   {:<28}", s.name)?;
        for (_, r) in &s.recall {
            write!(f, " {r:>9.3}")?;
        }
        writeln!(f, " {:>6.3} {:>8.3}", s.mrr, s.ndcg10)?;
    }
    Ok(())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "1. Chunking the {} addresses five ways (sizes in MiniLM tokens; BM25 over each, {} questions):",
            self.speeches, self.questions
        )?;
        writeln!(
            f,
            "   {:<34} {:>6} {:>6} {:>5} {:>9} {:>5} {:>9} {:>6} {:>8} {:>6}",
            "chunker",
            "chunks",
            "mean",
            "max",
            "> MiniLM",
            "lost",
            "repeated",
            "split",
            "found@5",
            "MRR"
        )?;
        for c in &self.chunkings {
            writeln!(
                f,
                "   {:<34} {:>6} {:>6.1} {:>5} {:>9} {:>5} {:>8.1}% {:>6} {:>8.3} {:>6.3}",
                c.chunker,
                c.chunks,
                c.mean_tokens,
                c.max_tokens,
                c.over_minilm,
                c.addresses_losing_text,
                100.0 * c.repeated_share,
                c.split_gold,
                c.found5,
                c.mrr
            )?;
        }
        writeln!(
            f,
            "   (lost: addresses with text outside every chunk; split: gold sentences no one chunk holds whole;\n    found@5: a passage holding half the gold sentence in BM25's top 5)"
        )?;
        let l = &self.lexical;
        let a = &l.agreement;
        writeln!(
            f,
            "\n2. BM25 over {} passages ({}): {} words in the vocabulary, {:.1} per passage",
            l.passages, self.main, l.vocabulary, l.avg_len
        )?;
        writeln!(
            f,
            "   built in {:.2} s (ours) and {:.2} s (tantivy, in RAM); {:.0} and {:.0} queries/s",
            l.bm25_build_s, l.engine_build_s, l.bm25_qps, l.engine_qps
        )?;
        writeln!(
            f,
            "   ours with tantivy's settings (k1 1.2, b 0.75, lengths in one byte): the same top 10 in the same order for {} of {} questions, scores within {:.1e} (relative)",
            a.same_top10, a.queries, a.max_rel_diff
        )?;
        writeln!(
            f,
            "   with exact lengths instead: the same top-10 set for {} of {}",
            a.exact_lengths_same_set, a.queries
        )?;
        if self.cached {
            writeln!(
                f,
                "\n3. Dense: MiniLM vectors of the passages read from week 19's cache in {:.2} s; exact search, {:.0} queries/s",
                self.embed_s, self.dense_qps
            )?;
        } else {
            writeln!(
                f,
                "\n3. Dense: MiniLM vectors of the passages computed in {:.0} s (cached for the next run); exact search, {:.0} queries/s",
                self.embed_s, self.dense_qps
            )?;
        }
        writeln!(
            f,
            "\n4. Retrieval on {} questions ({} have their gold sentence split over two passages):",
            self.questions, self.two_relevant
        )?;
        summary_table(f, &self.summaries.iter().collect::<Vec<_>>())?;
        let w = &self.wins;
        writeln!(
            f,
            "   gold passage in the top 10: both BM25 and dense {}, BM25 only {}, dense only {}, neither {}",
            w.both, w.bm25_only, w.dense_only, w.neither
        )?;
        writeln!(
            f,
            "   hybrid finds {} ({} found by a part but pushed out of the fused top 10)",
            w.hybrid, w.hybrid_lost
        )?;
        let s = &self.sentence;
        writeln!(
            f,
            "\n5. Reranking the hybrid top {} by the best sentence's MiniLM cosine ({} sentences {} in {:.1} s):",
            self.rerank.depth,
            s.sentences,
            if s.cached {
                "embedded, read from the cache"
            } else {
                "embedded (cached for the next run)"
            },
            s.seconds
        )?;
        summary_table(f, &[&s.before, &s.after])?;
        let r = &self.rerank;
        writeln!(
            f,
            "   and by SmolLM2 as the judge (log-odds of Yes over No), on {} questions (one in {}): {:.0} s, {:.0} ms per pair",
            r.questions, r.every, r.seconds, r.per_pair_ms
        )?;
        summary_table(f, &[&r.before, &r.after])?;
        let e = &self.example;
        writeln!(f, "\n6. {:?} (gold, {}: {:?})", e.question, e.year, e.gold)?;
        for l in &e.lists {
            let at = if l.gold_rank == 0 {
                "not found".to_string()
            } else {
                format!("gold at rank {}", l.gold_rank)
            };
            writeln!(f, "   {} ({at}):", l.retriever)?;
            for (year, is_gold, text) in &l.top {
                writeln!(
                    f,
                    "     {} {year}: {text}",
                    if *is_gold { "*" } else { " " }
                )?;
            }
        }
        writeln!(f, "\n7. Refused:")?;
        for (what, answer) in &self.refused {
            writeln!(f, "   {what}: {answer}")?;
        }
        Ok(())
    }
}
