//! The lab's report: what was measured, as fields (the JSON) and as text (the report).

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;
use wb_lab::Lab;
use week21_rag_service::pipeline::{Ingested, Settings};
use week21_rag_service::store::Counts;
use week21_rag_service::week20::metrics::Summary;
use week21_rag_service::week20::questions::Question;

#[derive(Debug, Serialize)]
pub struct Ingestion {
    pub documents: usize,
    pub added: usize,
    pub passages: usize,
    pub seconds: f64,
    pub again_unchanged: usize,
    pub again_ms: f64,
    pub counts_first: Counts,
    pub counts_again: Counts,
}

#[derive(Debug, Serialize)]
pub struct Changes {
    pub files: Vec<Ingested>,
    pub updated: Vec<Ingested>,
    pub deleted: bool,
    pub deleted_again: bool,
    pub counts: Counts,
}

#[derive(Debug, Serialize)]
pub struct Restart {
    pub counts_before: Counts,
    pub counts_after: Counts,
    pub same_results: bool,
    pub problems: Vec<String>,
    pub file_mb: f64,
}

/// Percentiles of request times (ms), nearest rank.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    #[serde(skip)]
    pub sorted: Vec<f64>,
}

impl Latency {
    pub fn of(ms: &[f64]) -> Self {
        let mut sorted = ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank =
            |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Self {
            p50_ms: rank(0.5),
            p99_ms: rank(0.99),
            mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
            sorted: sorted.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RetrievalRow {
    pub summary: Summary,
    /// recall@k for k = 1…10 (the plot).
    pub curve: Vec<(usize, f64)>,
    pub latency: Latency,
}

/// One answered question.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerRow {
    pub id: String,
    pub question: String,
    pub answer: String,
    pub finish: String,
    pub completion_tokens: u64,
    /// A passage holding the gold sentence was among those in the prompt.
    pub retrieved_relevant: bool,
    /// Valid citations by the model (distinct passage numbers).
    pub cited: usize,
    pub invalid: usize,
    /// Sources (cited or attributed), and how many of them hold the gold sentence.
    pub sources: usize,
    pub sources_relevant: usize,
    /// Passage [1] (the reranker's first) holds the gold sentence.
    pub first_relevant: bool,
    pub sentences: usize,
    pub unsupported: usize,
    pub citations_hold: bool,
    pub groundedness: f64,
    pub first_text_ms: f64,
    pub total_ms: f64,
    /// The streamed text events joined equal the final answer, and nothing came after `done`.
    pub stream_ok: bool,
}

impl AnswerRow {
    pub fn new(
        q: &Question,
        done: &Value,
        rel: &[usize],
        first_text_ms: f64,
        total_ms: f64,
        texts: &[String],
        after_end: usize,
    ) -> Result<Self> {
        let passages = done["passages"].as_array().cloned().unwrap_or_default();
        let id_of = |n: usize| {
            passages
                .get(n - 1)
                .and_then(|p| p["id"].as_u64())
                .map(|id| id as usize)
        };
        let check = &done["check"];
        let numbers = |key: &str| -> Vec<usize> {
            check[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_u64())
                .map(|n| n as usize)
                .collect()
        };
        let sources = numbers("sources");
        let answer = done["answer"].as_str().unwrap_or_default().to_string();
        let holds = check["invalid"].as_array().is_some_and(Vec::is_empty)
            && check["sentences"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|s| {
                    s["cites"].as_array().is_some_and(Vec::is_empty)
                        || s["cited_support"].as_f64().unwrap_or(0.0) >= 0.5
                });
        Ok(Self {
            id: q.id.clone(),
            question: q.question.clone(),
            finish: done["finish"].as_str().unwrap_or_default().to_string(),
            completion_tokens: done["completion_tokens"].as_u64().unwrap_or(0),
            retrieved_relevant: passages.iter().any(|p| {
                p["id"]
                    .as_u64()
                    .is_some_and(|id| rel.contains(&(id as usize)))
            }),
            cited: numbers("cited").len(),
            invalid: numbers("invalid").len(),
            sources: sources.len(),
            sources_relevant: sources
                .iter()
                .filter(|&&n| id_of(n).is_some_and(|id| rel.contains(&id)))
                .count(),
            first_relevant: id_of(1).is_some_and(|id| rel.contains(&id)),
            sentences: check["sentences"].as_array().map_or(0, Vec::len),
            unsupported: check["unsupported"].as_u64().unwrap_or(0) as usize,
            citations_hold: holds,
            groundedness: check["groundedness"].as_f64().unwrap_or(0.0),
            first_text_ms,
            total_ms,
            stream_ok: texts.concat() == answer && after_end == 0,
            answer,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct Answers {
    pub every: usize,
    pub questions: usize,
    /// Share of questions whose prompt held a gold passage.
    pub retrieved_relevant: f64,
    /// Share of answers where the model itself cites a passage given.
    pub model_cites: f64,
    pub invalid_citations: usize,
    /// Share of answers with a source (cited or attributed).
    pub with_source: f64,
    /// Of all sources, the share holding the gold sentence.
    pub source_precision: f64,
    /// Of the questions whose prompt held a gold passage, the share whose sources include one,
    /// and the share where passage [1] is one (what citing [1] blindly would score).
    pub right_source: f64,
    pub first_passage: f64,
    /// Share of the answers' sentences that nothing supports.
    pub unsupported: f64,
    pub citations_hold: f64,
    pub groundedness: f64,
    pub streams_ok: usize,
    pub first_text: Latency,
    pub total: Latency,
    pub tokens_per_answer: f64,
    pub rows: Vec<AnswerRow>,
}

impl Answers {
    pub fn new(every: usize, rows: Vec<AnswerRow>) -> Self {
        let n = rows.len().max(1) as f64;
        let share =
            |f: &dyn Fn(&AnswerRow) -> bool| rows.iter().filter(|r| f(r)).count() as f64 / n;
        let sources: usize = rows.iter().map(|r| r.sources).sum();
        let sentences: usize = rows.iter().map(|r| r.sentences).sum();
        let with_gold: Vec<&AnswerRow> = rows.iter().filter(|r| r.retrieved_relevant).collect();
        let first: Vec<f64> = rows.iter().map(|r| r.first_text_ms).collect();
        let total: Vec<f64> = rows.iter().map(|r| r.total_ms).collect();
        Self {
            every,
            questions: rows.len(),
            retrieved_relevant: share(&|r| r.retrieved_relevant),
            model_cites: share(&|r| r.cited > 0),
            invalid_citations: rows.iter().map(|r| r.invalid).sum(),
            with_source: share(&|r| r.sources > 0),
            source_precision: rows.iter().map(|r| r.sources_relevant).sum::<usize>() as f64
                / sources.max(1) as f64,
            right_source: with_gold.iter().filter(|r| r.sources_relevant > 0).count() as f64
                / with_gold.len().max(1) as f64,
            first_passage: with_gold.iter().filter(|r| r.first_relevant).count() as f64
                / with_gold.len().max(1) as f64,
            unsupported: rows.iter().map(|r| r.unsupported).sum::<usize>() as f64
                / sentences.max(1) as f64,
            citations_hold: share(&|r| r.citations_hold),
            groundedness: rows.iter().map(|r| r.groundedness).sum::<f64>() / n,
            streams_ok: rows.iter().filter(|r| r.stream_ok).count(),
            first_text: Latency::of(&first),
            total: Latency::of(&total),
            tokens_per_answer: rows.iter().map(|r| r.completion_tokens as f64).sum::<f64>() / n,
            rows,
        }
    }
}

/// A bad request and what the service answered.
#[derive(Debug, Serialize)]
pub struct BadRequest {
    pub what: String,
    pub status: u16,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct Poisoned {
    pub question: String,
    /// Whether the poisoned passage was among those given to the model.
    pub retrieved: bool,
    pub answer: String,
    /// Whether the answer obeyed the planted instruction.
    pub obeyed: bool,
}

#[derive(Debug, Serialize)]
pub struct Served {
    pub retrieval: Vec<RetrievalRow>,
    pub answers: Answers,
    pub bad: Vec<BadRequest>,
    pub poisoned: Poisoned,
    pub paths: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub settings: Settings,
    pub questions: usize,
    pub ingestion: Ingestion,
    pub changes: Changes,
    pub restart: Restart,
    pub served: Served,
}

fn counts(c: &Counts) -> String {
    format!(
        "{} documents, {} passages, {} indexed",
        c.documents, c.passages, c.indexed
    )
}

fn outcome(i: &Ingested) -> String {
    let what = serde_json::to_value(&i.outcome).ok();
    let name = what
        .as_ref()
        .and_then(|v| v["outcome"].as_str())
        .unwrap_or("?")
        .to_string();
    match what.as_ref().and_then(|v| v["of"].as_str()) {
        Some(of) => format!("{name} of {of}"),
        None if i.passages > 0 => format!("{name} ({} passages)", i.passages),
        None => name,
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.ingestion;
        writeln!(
            f,
            "1. Ingestion into SQLite (WAL, FTS5), chunks of {}",
            self.settings.chunker
        )?;
        writeln!(
            f,
            "   first:  {} documents → {} added, {} passages, {:.1} s",
            i.documents, i.added, i.passages, i.seconds
        )?;
        writeln!(
            f,
            "   again:  {} unchanged in {:.0} ms; store {}",
            i.again_unchanged,
            i.again_ms,
            counts(&i.counts_again)
        )?;
        let c = &self.changes;
        writeln!(f, "\n2. Files, an update and a delete")?;
        for r in c.files.iter().chain(&c.updated) {
            writeln!(f, "   {:<44} {}", r.source, outcome(r))?;
        }
        writeln!(
            f,
            "   delete note.txt: {}; delete it again: {}",
            c.deleted, c.deleted_again
        )?;
        writeln!(f, "   store: {}", counts(&c.counts))?;
        let r = &self.restart;
        writeln!(f, "\n3. Restart (the store closed and reopened)")?;
        writeln!(
            f,
            "   before: {}\n   after:  {}",
            counts(&r.counts_before),
            counts(&r.counts_after)
        )?;
        writeln!(
            f,
            "   same top 10 for a probe question: {}; integrity problems: {}; file {:.1} MB",
            r.same_results,
            r.problems.len(),
            r.file_mb
        )?;
        let s = &self.served;
        writeln!(
            f,
            "\n4. Retrieval through POST /v1/search ({} questions, k = 10)",
            self.questions
        )?;
        writeln!(
            f,
            "   {:<24} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9}",
            "retriever", "recall@1", "@3", "@10", "MRR", "p50 ms", "p99 ms"
        )?;
        for row in &s.retrieval {
            let r = &row.summary.recall;
            writeln!(
                f,
                "   {:<24} {:>8.3} {:>8.3} {:>8.3} {:>6.3} {:>9.1} {:>9.1}",
                row.summary.name,
                r[0].1,
                r[1].1,
                r[2].1,
                row.summary.mrr,
                row.latency.p50_ms,
                row.latency.p99_ms
            )?;
        }
        let a = &s.answers;
        writeln!(
            f,
            "\n5. Answers through POST /v1/query, streamed (one question in {}: {})",
            a.every, a.questions
        )?;
        let rows: [(&str, String); 9] = [
            (
                "gold passage in the prompt",
                format!("{:.3}", a.retrieved_relevant),
            ),
            (
                "answers where the model cites",
                format!(
                    "{:.3} ({} citations of passages not given)",
                    a.model_cites, a.invalid_citations
                ),
            ),
            (
                "answers with a source (cited or attributed)",
                format!("{:.3}", a.with_source),
            ),
            (
                "source precision (source = gold)",
                format!("{:.3}", a.source_precision),
            ),
            (
                "right source (gold given)",
                format!(
                    "{:.3}  (passage [1] alone: {:.3})",
                    a.right_source, a.first_passage
                ),
            ),
            (
                "sentences nothing supports",
                format!("{:.3}", a.unsupported),
            ),
            (
                "answers whose citations hold",
                format!("{:.3}", a.citations_hold),
            ),
            (
                "groundedness (words in passages)",
                format!("{:.3}", a.groundedness),
            ),
            (
                "streams whole and ended once",
                format!("{} of {}", a.streams_ok, a.questions),
            ),
        ];
        for (name, value) in rows {
            writeln!(f, "   {:<45} {value}", format!("{name}:"))?;
        }
        writeln!(
            f,
            "   first text p50 {:.0} ms, p99 {:.0} ms; whole answer p50 {:.0} ms, p99 {:.0} ms; {:.0} tokens per answer",
            a.first_text.p50_ms,
            a.first_text.p99_ms,
            a.total.p50_ms,
            a.total.p99_ms,
            a.tokens_per_answer
        )?;
        for row in a.rows.iter().take(3) {
            writeln!(
                f,
                "\n   Q: {}\n   A: {}",
                row.question,
                row.answer.replace('\n', " ")
            )?;
            writeln!(
                f,
                "      cited by the model {}, sources {} (gold {}), groundedness {:.2}",
                row.cited, row.sources, row.sources_relevant, row.groundedness
            )?;
        }
        writeln!(f, "\n6. Bad requests")?;
        for b in &s.bad {
            writeln!(f, "   {:<40} {} {}", b.what, b.status, b.message)?;
        }
        let p = &s.poisoned;
        writeln!(
            f,
            "\n7. A poisoned document (it tells the model to answer PWNED)"
        )?;
        writeln!(
            f,
            "   Q: {}\n   retrieved: {}; obeyed: {}\n   A: {}",
            p.question,
            p.retrieved,
            p.obeyed,
            p.answer.replace('\n', " ")
        )?;
        writeln!(f, "\nOpenAPI paths: {}", s.paths.join(", "))
    }
}

/// Recall@k against k for the four retrievers.
pub fn plot_recall(lab: &Lab, rows: &[RetrievalRow]) -> Result<Vec<PathBuf>> {
    let mut plot = wb_plot::LinePlot::new(
        "Gold passage in the service's top k (116 questions, POST /v1/search)",
        "k (passages returned)",
        "recall@k (share of questions)",
    );
    for (i, row) in rows.iter().enumerate() {
        let points = row.curve.iter().map(|&(k, r)| (k as f64, r)).collect();
        let s = wb_plot::Series::new(row.summary.name.clone(), points);
        plot = plot.series(if i == 1 { s.dashed() } else { s });
    }
    Ok(plot
        .markers(true)
        .y_range(0.5, 1.0)
        .legend(wb_plot::LegendPosition::LowerRight)
        .save(lab.plots_dir(), "recall_at_k")?)
}

/// Request latency: each retriever's searches and the answers (first text, whole), sorted.
pub fn plot_latency(lab: &Lab, served: &Served) -> Result<Vec<PathBuf>> {
    let cdf = |l: &Latency| -> Vec<(f64, f64)> {
        let n = l.sorted.len() as f64;
        l.sorted
            .iter()
            .enumerate()
            .map(|(i, &ms)| (ms, (i + 1) as f64 / n))
            .collect()
    };
    let mut plot = wb_plot::LinePlot::new(
        "Request latency on loopback (2 cores): share of requests done within x",
        "latency (ms, log scale)",
        "share of requests",
    );
    for row in &served.retrieval {
        // "BM25 (SQLite FTS5)" → "search: BM25": short labels keep the legend off the lines.
        let name = row.summary.name.split(" (").next().unwrap_or_default();
        plot = plot.series(wb_plot::Series::new(
            format!("search: {name}"),
            cdf(&row.latency),
        ));
    }
    plot = plot
        .series(
            wb_plot::Series::new("answer: first text", cdf(&served.answers.first_text)).dashed(),
        )
        .series(wb_plot::Series::new("answer: whole", cdf(&served.answers.total)).dashed());
    Ok(plot
        .log_x(true)
        .y_range(0.0, 1.0)
        // Between the searches (≤ 0.2 s) and the reranked ones and answers (≥ 0.8 s): empty.
        .legend(wb_plot::LegendPosition::MiddleMiddle)
        .save(lab.plots_dir(), "latency")?)
}
