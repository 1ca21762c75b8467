//! Week 20: `cargo run -p week20-rag-retrieval` runs the whole lab: four chunkers, BM25 (from
//! scratch and in tantivy), dense and hybrid retrieval and an LLM reranker, each measured on
//! the 116 labelled questions.

mod report;

use anyhow::Result;
use clap::Parser;
use report::*;
use std::time::Instant;
use wb_lab::{Lab, LabArgs};
use week20_rag_retrieval::bm25::{Bm25, Params};
use week20_rag_retrieval::chunk::{Chunker, Tokens, chunk_corpus, coverage};
use week20_rag_retrieval::document::{Document, MAX_BYTES};
use week20_rag_retrieval::engine::Engine;
use week20_rag_retrieval::fuse::{RRF_C, rrf};
use week20_rag_retrieval::metrics::evaluate;
use week20_rag_retrieval::questions::{Question, load_questions, relevant};
use week20_rag_retrieval::rerank::{Reranker, SentenceScorer};
use week20_rag_retrieval::week19::corpus::{Chunk, Speech, load_speeches};
use week20_rag_retrieval::week19::embed::embed_cached;
use week20_rag_retrieval::week19::wb_llm::{Embedder, LocalModel, WeightFormat};
use week20_rag_retrieval::{Scored, dense};

/// Week 20: RAG retrieval — chunking, BM25 from scratch and in tantivy, dense and hybrid search,
/// an LLM reranker, and recall@k, MRR and nDCG on 116 labelled questions over the State of the
/// Union addresses.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Candidates each retriever hands to fusion
    #[arg(long, default_value_t = 100, value_parser = wb_lab::at_least_one)]
    depth: usize,
    /// Candidates of the hybrid list the LLM re-scores
    #[arg(long, default_value_t = 10, value_parser = wb_lab::at_least_one)]
    rerank_depth: usize,
    /// Rerank every n-th question with the LLM (each costs `rerank_depth` forward passes)
    #[arg(long, default_value_t = 8, value_parser = wb_lab::at_least_one)]
    rerank_every: usize,
    #[command(flatten)]
    lab: LabArgs,
}

wb_lab::main!(
    "Week 20 — RAG retrieval: chunking, BM25, dense and hybrid search, evaluation",
    run
);

/// The chunkers compared; the third is week 19's, whose embeddings are cached.
const CHUNKERS: [Chunker; 5] = [
    Chunker::FixedTokens {
        size: 128,
        overlap: 0,
    },
    Chunker::FixedTokens {
        size: 128,
        overlap: 32,
    },
    Chunker::Sentences {
        max_words: 80,
        overlap: 0,
    },
    Chunker::Sentences {
        max_words: 80,
        overlap: 1,
    },
    Chunker::Recursive { max_bytes: 480 },
];
/// The chunking every retriever is measured on.
const MAIN: usize = 2;
/// The cut-offs of recall@k in the tables.
const KS: [usize; 4] = [1, 5, 10, 20];

fn run(args: &Args, lab: &mut Lab) -> Result<Report> {
    let progress = lab.progress();
    let mut say = |m: &str| {
        if progress {
            eprintln!("{m}")
        }
    };
    let speeches = lab.timed("load", load_speeches)?;
    let questions = load_questions(&speeches)?;
    let tokens = Tokens::minilm(&mut say)?;

    // 1. Chunkers: sizes, coverage, and what BM25 finds with each.
    let mut chunkings = Vec::new();
    let mut main_chunks = Vec::new();
    for (i, chunker) in CHUNKERS.iter().enumerate() {
        let chunks = lab.timed(&format!("chunk {i}"), || {
            chunk_corpus(&speeches, chunker, Some(&tokens))
        })?;
        chunkings.push(chunking_row(
            chunker, &speeches, &chunks, &questions, &tokens,
        )?);
        if i == MAIN {
            main_chunks = chunks;
        }
    }
    let chunks = main_chunks;
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    let rel: Vec<Vec<usize>> = questions.iter().map(|q| relevant(&chunks, q)).collect();

    // 2. BM25 from scratch against tantivy.
    let started = Instant::now();
    let ours = Bm25::build(&texts, Params::LUCENE)?;
    let bm25_build_s = started.elapsed().as_secs_f64();
    let ours_quantised = Bm25::build(&texts, Params::TANTIVY)?;
    let started = Instant::now();
    let engine = Engine::build(&texts)?;
    let engine_build_s = started.elapsed().as_secs_f64();
    let qtexts: Vec<&str> = questions.iter().map(|q| q.question.as_str()).collect();
    let (bm25_runs, bm25_qps) = timed_runs(&qtexts, |q| ours.search(q, args.depth))?;
    let (quantised_runs, _) = timed_runs(&qtexts, |q| ours_quantised.search(q, 10))?;
    let (engine_runs, engine_qps) = timed_runs(&qtexts, |q| engine.search(q, args.depth))?;
    let agreement = Agreement::new(&quantised_runs, &engine_runs, &bm25_runs);
    let lexical = Lexical {
        passages: chunks.len(),
        vocabulary: ours.vocabulary(),
        avg_len: ours.avg_len(),
        bm25_build_s,
        engine_build_s,
        bm25_qps,
        engine_qps,
        agreement,
    };

    // 3. Dense: the passages' MiniLM vectors (week 19's cache), the questions embedded here.
    let embedder = Embedder::minilm(&mut say)?;
    let mut tick = |done: usize, total: usize| {
        if progress && (done % 512 < 16 || done == total) {
            eprintln!("embedded {done} of {total} passages");
        }
    };
    let started = Instant::now();
    let (vectors, cached) = embed_cached(&embedder, &texts, &mut tick)?;
    let embed_s = started.elapsed().as_secs_f64();
    let qv = dense::embed_queries(&embedder, &tokens, &qtexts)?;
    let (dense_runs, dense_qps) = timed_runs_indexed(questions.len(), |i| {
        dense::search(&vectors, qv.row(i), args.depth)
    })?;

    // 4. Hybrid: reciprocal-rank fusion of the two lists.
    let hybrid_runs = bm25_runs
        .iter()
        .zip(&dense_runs)
        .map(|(b, d)| rrf(&[b, d], RRF_C, args.depth))
        .collect::<week20_rag_retrieval::Result<Vec<_>>>()?;

    let summaries = vec![
        evaluate("BM25 (ours)", &bm25_runs, &rel, &KS)?,
        evaluate("BM25 (tantivy)", &engine_runs, &rel, &KS)?,
        evaluate("dense (MiniLM)", &dense_runs, &rel, &KS)?,
        evaluate("hybrid (RRF)", &hybrid_runs, &rel, &KS)?,
    ];
    let wins = Wins::new(&bm25_runs, &dense_runs, &hybrid_runs, &rel);

    // 5. Second stages over the hybrid top candidates: MiniLM per sentence on every question,
    // the LLM on every n-th.
    // The hybrid top `rerank_depth` of each question: what both second stages re-order.
    let shortlists: Vec<Vec<Scored>> = hybrid_runs
        .iter()
        .map(|r| r.iter().take(args.rerank_depth).copied().collect())
        .collect();
    let candidates: Vec<usize> = shortlists.iter().flatten().map(|h| h.id).collect();
    let started = Instant::now();
    let scorer = SentenceScorer::build(&embedder, &texts, &candidates, &mut tick)?;
    let by_sentence = shortlists
        .iter()
        .enumerate()
        .map(|(i, top)| scorer.rerank(qv.row(i), top))
        .collect::<week20_rag_retrieval::Result<Vec<_>>>()?;
    let sentence_s = started.elapsed().as_secs_f64();
    let curve = |runs: &[Vec<Scored>], upto: usize| -> Result<Vec<(f64, f64)>> {
        let ks: Vec<usize> = (1..=upto).collect();
        Ok(evaluate("", runs, &rel, &ks)?
            .recall
            .into_iter()
            .map(|(k, r)| (k as f64, r))
            .collect())
    };
    let plot = wb_plot::LinePlot::new(
        &format!(
            "Gold passage found in the top k ({} questions, {} passages)",
            questions.len(),
            chunks.len()
        ),
        "k (passages retrieved)",
        "recall@k (share of questions)",
    )
    .series(wb_plot::Series::new(
        "hybrid (RRF of BM25 and dense)",
        curve(&hybrid_runs, 20)?,
    ))
    .series(wb_plot::Series::new("BM25", curve(&bm25_runs, 20)?))
    .series(wb_plot::Series::new("dense (MiniLM)", curve(&dense_runs, 20)?).dashed())
    .series(wb_plot::Series::new(
        format!(
            "hybrid, top {} reranked by MiniLM per sentence",
            args.rerank_depth
        ),
        curve(&by_sentence, args.rerank_depth)?,
    ))
    .markers(true)
    .y_range(0.5, 1.0)
    .legend(wb_plot::LegendPosition::LowerRight)
    .save(lab.plots_dir(), "recall_at_k")?;
    lab.saved(plot);
    let ks_deep: Vec<usize> = KS
        .iter()
        .copied()
        .filter(|&k| k <= args.rerank_depth)
        .collect();
    let sentence = SentenceReport {
        sentences: scorer.sentences(),
        cached: scorer.cached(),
        seconds: sentence_s,
        before: evaluate("hybrid", &shortlists, &rel, &ks_deep)?,
        after: evaluate("hybrid + MiniLM per sentence", &by_sentence, &rel, &ks_deep)?,
    };

    let sample: Vec<usize> = (0..questions.len()).step_by(args.rerank_every).collect();
    let model = LocalModel::smollm2(WeightFormat::Quantized, &mut say)?;
    let mut reranker = Reranker::new(model)?;
    let started = Instant::now();
    let mut reranked = Vec::new();
    for &i in &sample {
        reranked.push(reranker.rerank(&questions[i].question, &shortlists[i], &texts)?);
    }
    let rerank_s = started.elapsed().as_secs_f64();
    let pairs: usize = reranked.iter().map(Vec::len).sum();
    let sample_lists: Vec<Vec<Scored>> = sample.iter().map(|&i| shortlists[i].clone()).collect();
    let sample_rel: Vec<Vec<usize>> = sample.iter().map(|&i| rel[i].clone()).collect();
    let rerank = RerankReport {
        every: args.rerank_every,
        questions: sample.len(),
        depth: args.rerank_depth,
        seconds: rerank_s,
        per_pair_ms: rerank_s * 1e3 / pairs.max(1) as f64,
        before: evaluate("hybrid", &sample_lists, &sample_rel, &ks_deep)?,
        after: evaluate("hybrid + SmolLM2 rerank", &reranked, &sample_rel, &ks_deep)?,
    };

    // 6. One question through every retriever.
    let example = Example::new(
        &questions[EXAMPLE],
        &chunks,
        &[
            ("BM25", &bm25_runs[EXAMPLE]),
            ("dense", &dense_runs[EXAMPLE]),
            ("hybrid", &hybrid_runs[EXAMPLE]),
        ],
        &rel[EXAMPLE],
    );

    Ok(Report {
        speeches: speeches.len(),
        questions: questions.len(),
        two_relevant: rel.iter().filter(|r| r.len() > 1).count(),
        chunkings,
        main: CHUNKERS[MAIN].to_string(),
        lexical,
        embed_s,
        cached,
        dense_qps,
        summaries,
        wins,
        sentence,
        rerank,
        example,
        refused: refusals(&engine, &ours, &tokens, chunks.len())?,
    })
}

/// The question the report follows through every retriever.
const EXAMPLE: usize = 0;

/// Runs `search` on every query, timed: the results and queries per second.
fn timed_runs(
    queries: &[&str],
    search: impl Fn(&str) -> week20_rag_retrieval::Result<Vec<Scored>>,
) -> Result<(Vec<Vec<Scored>>, f64)> {
    timed_runs_indexed(queries.len(), |i| search(queries[i]))
}

fn timed_runs_indexed(
    n: usize,
    search: impl Fn(usize) -> week20_rag_retrieval::Result<Vec<Scored>>,
) -> Result<(Vec<Vec<Scored>>, f64)> {
    let started = Instant::now();
    let runs = (0..n)
        .map(search)
        .collect::<week20_rag_retrieval::Result<Vec<_>>>()?;
    Ok((runs, n as f64 / started.elapsed().as_secs_f64()))
}

/// One chunker over the corpus: its sizes, that it loses nothing, and BM25's results with it.
fn chunking_row(
    chunker: &Chunker,
    speeches: &[Speech],
    chunks: &[Chunk],
    questions: &[Question],
    tokens: &Tokens,
) -> Result<ChunkingRow> {
    let mut lost = 0;
    let mut repeated = 0;
    let mut total = 0;
    for (i, s) in speeches.iter().enumerate() {
        let ranges: Vec<(usize, usize)> = chunks
            .iter()
            .filter(|c| c.speech == i)
            .map(|c| (c.start, c.end))
            .collect();
        let cover = coverage(&s.text, &ranges)?;
        lost += usize::from(cover.lost.is_some());
        repeated += cover.repeated;
        total += s.text.len();
    }
    let mut sizes = Vec::with_capacity(chunks.len());
    for c in chunks {
        sizes.push(tokens.count(&c.text)? - 2);
    }
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    let bm25 = Bm25::build(&texts, Params::LUCENE)?;
    let runs = questions
        .iter()
        .map(|q| bm25.search(&q.question, 20))
        .collect::<week20_rag_retrieval::Result<Vec<_>>>()?;
    let rel: Vec<Vec<usize>> = questions.iter().map(|q| relevant(chunks, q)).collect();
    // Found: any passage holding half the gold sentence in the top 5.
    let found5 = runs
        .iter()
        .zip(&rel)
        .filter(|(r, rel)| r.iter().take(5).any(|h| rel.contains(&h.id)))
        .count() as f64
        / questions.len() as f64;
    let s = evaluate("", &runs, &rel, &[5])?;
    let split_gold = questions
        .iter()
        .filter(|q| {
            !chunks
                .iter()
                .any(|c| c.speech == q.speech && c.start <= q.start && q.end <= c.end)
        })
        .count();
    Ok(ChunkingRow {
        split_gold,
        chunker: chunker.to_string(),
        chunks: chunks.len(),
        mean_tokens: sizes.iter().sum::<usize>() as f64 / sizes.len() as f64,
        max_tokens: sizes.iter().copied().max().unwrap_or(0),
        over_minilm: sizes
            .iter()
            .filter(|&&n| n + 2 > week20_rag_retrieval::week19::wb_llm::embed::MAX_TOKENS)
            .count(),
        addresses_losing_text: lost,
        repeated_share: repeated as f64 / total as f64,
        found5,
        mrr: s.mrr,
    })
}

/// Bad input, and what each part says to it.
fn refusals(
    engine: &Engine,
    bm25: &Bm25,
    tokens: &Tokens,
    n: usize,
) -> Result<Vec<(String, String)>> {
    let say = |what: &str, r: std::result::Result<String, String>| {
        (what.to_string(), r.unwrap_or_else(|e| e))
    };
    let err = |r: week20_rag_retrieval::Result<Vec<Scored>>| match r {
        Ok(h) => Ok(format!("accepted ({} hits)", h.len())),
        Err(e) => Err(e.to_string()),
    };
    let doc = |r: week20_rag_retrieval::Result<Document>| match r {
        Ok(d) => Ok(format!("accepted ({} bytes)", d.text.len())),
        Err(e) => Err(e.to_string()),
    };
    let long_query = "why ".repeat(300);
    Ok(vec![
        say(
            "an empty document",
            doc(Document::new("doc", String::new())),
        ),
        say(
            "invalid UTF-8",
            doc(Document::from_bytes("doc", b"caf\xe9 au lait".to_vec())),
        ),
        say(
            "a 17 MiB document",
            doc(Document::new("doc", "a".repeat(MAX_BYTES + (1 << 20)))),
        ),
        say(
            "a 300-word query (dense)",
            dense::check_query(tokens, &long_query)
                .map(|()| "accepted".into())
                .map_err(|e| e.to_string()),
        ),
        say("k = 0", err(bm25.search("taxes", 0))),
        say(
            &format!("k = {} (> corpus)", n + 1),
            err(engine.search("taxes", n + 1)),
        ),
        say("a query of punctuation", err(bm25.search("?!", 5))),
    ])
}
