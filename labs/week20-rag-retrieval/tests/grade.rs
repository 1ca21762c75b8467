//! Grader checks for week 20: the chunkers (worked by hand, and covering every address with
//! bounded sizes), BM25 (the formula by hand, rank-bm25 on a fixture, tantivy in the same run),
//! the metrics (by hand, and nDCG against scikit-learn), reciprocal-rank fusion, hybrid against
//! its parts on the labelled questions, the LLM reranker, and bad input refused.
//!
//! References: `crates/grader/fixtures/week20.json` (rank-bm25's `BM25Okapi` and scikit-learn's
//! `ndcg_score`, made by `make_fixtures.py`), tantivy 0.27, cases worked by hand.

use grader::{Called, Failure, Tol, check, close, ensure, expect_err, fixture};
use std::sync::OnceLock;
use week20_rag_retrieval::bm25::{Bm25, Idf, Params, term_score};
use week20_rag_retrieval::chunk::{
    Chunker, Tokens, by_sentences, chunk_corpus, coverage, fixed_tokens, recursive,
};
use week20_rag_retrieval::document::{Document, MAX_BYTES};
use week20_rag_retrieval::engine::Engine;
use week20_rag_retrieval::fuse::{RRF_C, rrf};
use week20_rag_retrieval::metrics::{evaluate, ndcg_at_k, recall_at_k, reciprocal_rank};
use week20_rag_retrieval::questions::{Question, load_questions, relevant};
use week20_rag_retrieval::rerank::{Reranker, SentenceScorer};
use week20_rag_retrieval::week19::corpus::{Chunk, Speech, load_speeches, sentences};
use week20_rag_retrieval::week19::embed::embed_cached;
use week20_rag_retrieval::week19::wb_llm::{Embedder, LocalModel, WeightFormat};
use week20_rag_retrieval::{Scored, dense};

/// The corpus, the questions and the lab's passages (whole sentences of ≤ 80 words).
struct Corpus {
    speeches: Vec<Speech>,
    questions: Vec<Question>,
    chunks: Vec<Chunk>,
}

fn corpus() -> Result<&'static Corpus, Failure> {
    static CORPUS: OnceLock<Result<Corpus, String>> = OnceLock::new();
    CORPUS
        .get_or_init(|| {
            let speeches = load_speeches().map_err(|e| e.to_string())?;
            let questions = load_questions(&speeches).map_err(|e| e.to_string())?;
            let chunker = Chunker::Sentences {
                max_words: 80,
                overlap: 0,
            };
            let chunks = chunk_corpus(&speeches, &chunker, None).map_err(|e| e.to_string())?;
            Ok(Corpus {
                speeches,
                questions,
                chunks,
            })
        })
        .as_ref()
        .map_err(|e| Failure::new("loading the corpus", e.clone()))
}

fn tokens() -> Result<&'static Tokens, Failure> {
    static TOKENS: OnceLock<Result<Tokens, String>> = OnceLock::new();
    TOKENS
        .get_or_init(|| Tokens::minilm(&mut |_| {}).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Failure::new("loading MiniLM's tokenizer", e.clone()))
}

fn pieces<'a>(text: &'a str, spans: &[(usize, usize)]) -> Vec<&'a str> {
    spans.iter().map(|&(s, e)| &text[s..e]).collect()
}

/// No non-white-space text outside the chunks of `text`.
fn covers(what: &str, text: &str, spans: &[(usize, usize)]) -> Result<(), Failure> {
    let c = coverage(text, spans).called("coverage")?;
    match c.lost {
        None => Ok(()),
        Some((s, e)) => Err(Failure::new(
            what,
            format!(
                "text lost at {s}..{e}: {:?}",
                text[s..e].chars().take(60).collect::<String>()
            ),
        )),
    }
}

fn scored(ids: &[usize]) -> Vec<Scored> {
    ids.iter()
        .enumerate()
        .map(|(i, &id)| Scored {
            id,
            score: -(i as f64),
        })
        .collect()
}

check! {
    /// Windows of 2 tokens overlapping by 1, worked by hand; then MiniLM's tokens over every
    /// address in windows of 128 overlapping by 32: nothing lost, no window over 128 tokens,
    /// each starting 96 tokens after the one before.
    fn fixed_token_windows_cover_the_text(exercise = "fixed_tokens") {
        let text = "  alpha beta gamma delta epsilon  ";
        let offsets = [(2, 7), (8, 12), (13, 18), (19, 24), (25, 32)];
        let got = fixed_tokens(text, &offsets, 2, 1).called("fixed_tokens(size 2, overlap 1)")?;
        let expected = ["alpha beta", "beta gamma", "gamma delta", "delta epsilon"];
        ensure(pieces(text, &got) == expected, "fixed_tokens(size 2, overlap 1)", format!("expected {expected:?}, got {:?}", pieces(text, &got)))?;
        let got = fixed_tokens(text, &offsets, 3, 0).called("fixed_tokens(size 3)")?;
        let expected = ["alpha beta gamma", "delta epsilon"];
        ensure(pieces(text, &got) == expected, "fixed_tokens(size 3)", format!("expected {expected:?}, got {:?}", pieces(text, &got)))?;
        let tokens = tokens()?;
        for (i, s) in corpus()?.speeches.iter().enumerate() {
            let offsets = tokens.offsets(&s.text).called("Tokens::offsets")?;
            let spans = fixed_tokens(&s.text, &offsets, 128, 32).called("fixed_tokens(128, 32)")?;
            covers(&format!("address {i}"), &s.text, &spans)?;
            let starts: Vec<usize> = offsets.iter().map(|o| o.0).collect();
            for (j, &(start, end)) in spans.iter().enumerate() {
                let inside = offsets.iter().filter(|o| o.0 >= start && o.1 <= end).count();
                ensure(inside <= 128, "window size", format!("address {i}, window {j}: {inside} tokens"))?;
                if j > 0 {
                    ensure(start == starts[j * 96], "window start", format!("address {i}, window {j} starts at byte {start}, not at token {}", j * 96))?;
                }
            }
        }
        let e = expect_err("fixed_tokens(overlap = size)", fixed_tokens(text, &offsets, 2, 2))?;
        ensure(e.contains("overlap"), "the error", format!("should name overlap: {e}"))?;
        let e = expect_err("fixed_tokens(a token inside a character)", fixed_tokens("né", &[(0, 2)], 2, 0))?;
        ensure(e.contains("offsets"), "the error", format!("should name offsets: {e}"))
    }
}

check! {
    /// Sentences grouped up to 5 words with one sentence of overlap, a sentence of 8 words cut
    /// into pieces of its own (by hand); then every address at 80 words: nothing lost, no chunk
    /// over 80 words, every chunk starting where a sentence starts (or inside one longer than
    /// 80 words), and with overlap 1 each chunk starting inside the one before or right after.
    fn sentence_chunks_keep_sentences_whole(exercise = "by_sentences") {
        let text = "A b. C d e. F g. H i j k l m n o.";
        let got = by_sentences(text, 5, 1).called("by_sentences(5, overlap 1)")?;
        let expected = ["A b. C d e.", "C d e. F g.", "H i j k l", "m n o."];
        ensure(pieces(text, &got) == expected, "by_sentences(5, overlap 1)", format!("expected {expected:?}, got {:?}", pieces(text, &got)))?;
        let got = by_sentences(text, 5, 0).called("by_sentences(5, overlap 0)")?;
        let expected = ["A b. C d e.", "F g.", "H i j k l", "m n o."];
        ensure(pieces(text, &got) == expected, "by_sentences(5, overlap 0)", format!("expected {expected:?}, got {:?}", pieces(text, &got)))?;
        for (i, s) in corpus()?.speeches.iter().enumerate() {
            let sents = sentences(&s.text);
            for overlap in [0, 1] {
                let spans = by_sentences(&s.text, 80, overlap).called("by_sentences(80)")?;
                covers(&format!("address {i}"), &s.text, &spans)?;
                for (j, &(start, end)) in spans.iter().enumerate() {
                    let words = s.text[start..end].split_whitespace().count();
                    ensure(words <= 80, "chunk size", format!("address {i}: a chunk of {words} words"))?;
                    let ok = sents.iter().any(|&(a, b)| a == start || (a < start && start < b && s.text[a..b].split_whitespace().count() > 80));
                    ensure(ok, "chunk start", format!("address {i}, overlap {overlap}: chunk {j} starts mid-sentence: {:?}", s.text[start..end].chars().take(50).collect::<String>()))?;
                    if overlap == 1 && j > 0 {
                        let prev = spans[j - 1];
                        ensure(start > prev.0 && s.text[prev.1..start.max(prev.1)].trim().is_empty(), "overlap", format!("address {i}: chunk {j} does not continue chunk {}", j - 1))?;
                    }
                }
            }
        }
        let e = expect_err("by_sentences(max_words = 0)", by_sentences(text, 0, 0))?;
        ensure(e.contains("max_words"), "the error", format!("should name max_words: {e}"))
    }
}

check! {
    /// `coverage` by hand (covered and repeated bytes, the first lost text). Paragraphs, then
    /// lines, then words, merged back while they fit 16 bytes (by hand); then
    /// every address at 480 bytes: nothing lost, no chunk over 480 bytes, and no cut inside a
    /// word.
    fn recursive_chunks_fit_and_cover(exercise = "recursive") {
        // `coverage` itself, by hand: covered and repeated bytes, the first lost text.
        let text = "abc def ghi";
        let c = coverage(text, &[(0, 3), (4, 11)]).called("coverage")?;
        ensure(c.lost.is_none() && c.covered == 10 && c.repeated == 0, "coverage(tiled)", format!("{c:?}"))?;
        let c = coverage(text, &[(0, 7), (4, 11)]).called("coverage")?;
        ensure(c.lost.is_none() && c.covered == 11 && c.repeated == 3, "coverage(overlap)", format!("{c:?}"))?;
        let c = coverage(text, &[(0, 3), (8, 11)]).called("coverage")?;
        ensure(c.lost == Some((3, 8)), "coverage(gap)", format!("should find 3..8 lost: {c:?}"))?;
        let e = expect_err("coverage(past the end)", coverage(text, &[(0, 12)]))?;
        ensure(e.contains("chunks[0]"), "the error", format!("should name the chunk: {e}"))?;
        let text = "One two.\n\nThree four five six.\nSeven.";
        let got = recursive(text, 16).called("recursive(16)")?;
        let expected = ["One two.\n\nThree", "four five six.", "Seven."];
        ensure(pieces(text, &got) == expected, "recursive(16)", format!("expected {expected:?}, got {:?}", pieces(text, &got)))?;
        let got = recursive("abcdéfgh", 4).called("recursive(one long word, 4)")?;
        let expected = ["abcd", "éfg", "h"];
        ensure(pieces("abcdéfgh", &got) == expected, "recursive(one long word)", format!("cut on character boundaries: expected {expected:?}, got {:?}", pieces("abcdéfgh", &got)))?;
        for (i, s) in corpus()?.speeches.iter().enumerate() {
            let spans = recursive(&s.text, 480).called("recursive(480)")?;
            covers(&format!("address {i}"), &s.text, &spans)?;
            for &(start, end) in &spans {
                ensure(end - start <= 480, "chunk size", format!("address {i}: a chunk of {} bytes", end - start))?;
                let next = s.text[end..].chars().next();
                ensure(next.is_none_or(|c| c.is_whitespace()), "cut", format!("address {i}: a cut inside a word at byte {end}"))?;
            }
        }
        let e = expect_err("recursive(max_bytes = 2)", recursive(text, 2))?;
        ensure(e.contains("max_bytes"), "the error", format!("should name max_bytes: {e}"))
    }
}

check! {
    /// BM25 on three passages, every number worked out here from the formula: idf by hand for
    /// both families, the length normalisation, a word given twice counting twice.
    fn bm25_equals_the_formula(exercise = "scores") {
        let docs = ["the cat sat", "the dog", "cat cat dog bird"];
        let bm = Bm25::build(&docs, Params::LUCENE).called("Bm25::build")?;
        let avg = 9.0 / 3.0;
        let idf_cat = (1.0f64 + (3.0 - 2.0 + 0.5) / (2.0 + 0.5)).ln();
        close("idf(cat)", idf_cat, bm.idf("cat"), Tol::rel(1e-14))?;
        let score = |tf: f64, len: f64| idf_cat * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avg));
        let got = bm.scores("Cat? CAT!").called("scores(cat cat)")?;
        close("score(doc 0)", 2.0 * score(1.0, 3.0), got[0], Tol::rel(1e-12))?;
        ensure(got[1] == 0.0, "score(doc 1)", format!("a passage without the word scores 0, got {}", got[1]))?;
        close("score(doc 2)", 2.0 * score(2.0, 4.0), got[2], Tol::rel(1e-12))?;
        close("term_score", score(2.0, 4.0), term_score(2.0, 4.0, avg, idf_cat, 1.2, 0.75), Tol::rel(1e-12))?;
        // rank-bm25's idf: ln((N − n + 0.5)/(n + 0.5)); "the" (2 of 3) is negative, floored at
        // ε × the mean idf over the vocabulary {the, cat, sat, dog, bird}.
        let okapi = Bm25::build(&docs, Params::RANK_BM25).called("Bm25::build(okapi)")?;
        let raw = |n: f64| (3.0 - n + 0.5f64).ln() - (n + 0.5f64).ln();
        let mean = (3.0 * raw(2.0) + 2.0 * raw(1.0)) / 5.0;
        close("okapi idf(the)", 0.25 * mean, okapi.idf("the"), Tol::rel(1e-12))?;
        close("okapi idf(bird)", raw(1.0), okapi.idf("bird"), Tol::rel(1e-12))?;
        let top = bm.search("dog", 3).called("search(dog)")?;
        ensure(top.iter().map(|h| h.id).collect::<Vec<_>>() == [1, 2], "search(dog)", format!("the shorter passage first, none without the word: {top:?}"))?;
        let e = expect_err("Bm25::build(b = 1.5)", Bm25::build(&docs, Params { b: 1.5, ..Params::LUCENE }))?;
        ensure(e.contains("`b`"), "the error", format!("should name b: {e}"))
    }
}

check! {
    /// rank-bm25's BM25Okapi on the 79 addresses (fixture; two settings, 20 questions, every
    /// address's score): the same vocabulary and the same 3,160 scores to 1e-9.
    fn bm25_equals_rank_bm25(exercise = "term_score") {
        let f = fixture("week20");
        let c = corpus()?;
        let texts: Vec<&str> = c.speeches.iter().map(|s| s.text.as_str()).collect();
        for case in f["bm25"].as_array().into_iter().flatten() {
            let num = |k: &str| case[k].as_f64().unwrap_or(f64::NAN);
            let params = Params { k1: num("k1"), b: num("b"), idf: Idf::Okapi { epsilon: num("epsilon") }, quantised: false };
            let bm = Bm25::build(&texts, params).called("Bm25::build")?;
            ensure(bm.vocabulary() as u64 == case["vocabulary"].as_u64().unwrap_or(0), "vocabulary", format!("{} words here, {} in rank-bm25's", bm.vocabulary(), case["vocabulary"]))?;
            for q in case["queries"].as_array().into_iter().flatten() {
                let query = q["query"].as_str().unwrap_or("");
                let got = bm.scores(query).called("Bm25::scores")?;
                let want: Vec<f64> = q["scores"].as_array().into_iter().flatten().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
                ensure(got.len() == want.len(), "scores", format!("{} scores for {} addresses", got.len(), want.len()))?;
                for (d, (g, w)) in got.iter().zip(&want).enumerate() {
                    close(&format!("k1 {}: {query:?}, address {d}", params.k1), *w, *g, Tol::rel(1e-9).and_abs(1e-12))?;
                }
            }
        }
        Ok(())
    }
}

check! {
    /// tantivy, a real search engine, over the 7,281 passages: for all 116 questions, the lab's
    /// BM25 with tantivy's settings returns the same top 10 in the same order, scores within
    /// 1e-5 (tantivy sums in f32).
    fn bm25_equals_tantivy(exercise = "scores", timeout_s = 600) {
        let c = corpus()?;
        let texts: Vec<&str> = c.chunks.iter().map(|ch| ch.text.as_str()).collect();
        let engine = Engine::build(&texts).called("Engine::build")?;
        let ours = Bm25::build(&texts, Params::TANTIVY).called("Bm25::build")?;
        for q in &c.questions {
            ensure(engine.words(&q.question).called("Engine::words")? == week20_rag_retrieval::bm25::tokenize(&q.question), "tokenize", format!("differs from tantivy's analyser on {:?}", q.question))?;
            let want = engine.search(&q.question, 10).called("Engine::search")?;
            let got = ours.search(&q.question, 10).called("Bm25::search")?;
            ensure(got.iter().map(|h| h.id).eq(want.iter().map(|h| h.id)), "top 10", format!("{}: ours {:?}, tantivy {:?}", q.id, got, want))?;
            for (g, w) in got.iter().zip(&want) {
                close(&format!("{}: passage {}", q.id, g.id), w.score, g.score, Tol::rel(1e-5))?;
            }
        }
        Ok(())
    }
}

check! {
    /// recall@k and reciprocal rank worked by hand, and their means over two queries.
    fn metrics_are_hand_worked(exercise = "reciprocal_rank") {
        let ranked = [7, 3, 9, 1, 4];
        close("recall@2 of {3, 4}", 0.5, recall_at_k(&ranked, &[3, 4], 2).called("recall_at_k")?, Tol::abs(1e-15))?;
        close("recall@5 of {3, 4}", 1.0, recall_at_k(&ranked, &[3, 4], 5).called("recall_at_k")?, Tol::abs(1e-15))?;
        close("RR of {9}", 1.0 / 3.0, reciprocal_rank(&ranked, &[9]).called("reciprocal_rank")?, Tol::abs(1e-15))?;
        close("RR of {4, 1}", 0.25, reciprocal_rank(&ranked, &[4, 1]).called("reciprocal_rank")?, Tol::abs(1e-15))?;
        close("RR of {8}", 0.0, reciprocal_rank(&ranked, &[8]).called("reciprocal_rank")?, Tol::abs(1e-15))?;
        let s = evaluate("two", &[scored(&ranked), scored(&[5, 6])], &[vec![9], vec![5]], &[1, 3]).called("evaluate")?;
        ensure(s.recall == vec![(1, 0.5), (3, 1.0)], "mean recall", format!("expected [(1, 0.5), (3, 1.0)], got {:?}", s.recall))?;
        close("MRR", (1.0 / 3.0 + 1.0) / 2.0, s.mrr, Tol::abs(1e-15))?;
        // nDCG@10 with one relevant passage at rank 3: (1/log2 4) / (1/log2 2) = 0.5.
        close("nDCG@10 (rank 3, then rank 1)", (0.5 + 1.0) / 2.0, s.ndcg10, Tol::abs(1e-15))?;
        let e = expect_err("recall_at_k(no relevant)", recall_at_k(&ranked, &[], 3))?;
        ensure(e.contains("relevant"), "the error", format!("should name relevant: {e}"))
    }
}

check! {
    /// nDCG@k equals scikit-learn's `ndcg_score` on 24 cases (fixture: graded and binary
    /// gains, k from 1 to all).
    fn ndcg_equals_sklearn(exercise = "ndcg") {
        let f = fixture("week20");
        for (i, case) in f["ndcg"].as_array().into_iter().flatten().enumerate() {
            let nums = |k: &str| -> Vec<f64> { case[k].as_array().into_iter().flatten().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect() };
            let (gains, scores) = (nums("gains"), nums("scores"));
            let mut order: Vec<usize> = (0..gains.len()).collect();
            order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
            let ranked: Vec<f64> = order.iter().map(|&j| gains[j]).collect();
            let k = case["k"].as_u64().map_or(gains.len(), |k| k as usize);
            let got = ndcg_at_k(&ranked, &gains, k).called("ndcg_at_k")?;
            close(&format!("case {i}: nDCG@{k}"), case["ndcg"].as_f64().unwrap_or(f64::NAN), got, Tol::abs(1e-12))?;
        }
        let e = expect_err("ndcg_at_k(k = 0)", ndcg_at_k(&[1.0], &[1.0], 0))?;
        ensure(e.contains('k'), "the error", format!("should name k: {e}"))
    }
}

check! {
    /// Reciprocal-rank fusion by hand: lists [a, b, c] and [c, d] give c 1/63 + 1/61, a 1/61,
    /// then b and d tied at 1/62 (the smaller id first).
    fn rrf_is_hand_worked(exercise = "rrf") {
        let (a, b, c, d) = (10, 11, 12, 13);
        let got = rrf(&[&scored(&[a, b, c]), &scored(&[c, d])], RRF_C, 4).called("rrf")?;
        let expected = [(c, 1.0 / 63.0 + 1.0 / 61.0), (a, 1.0 / 61.0), (b, 1.0 / 62.0), (d, 1.0 / 62.0)];
        ensure(got.len() == 4, "rrf", format!("4 passages, got {got:?}"))?;
        for (g, (id, s)) in got.iter().zip(expected) {
            ensure(g.id == id, "rrf order", format!("expected {expected:?}, got {got:?}"))?;
            close(&format!("rrf score of {id}"), s, g.score, Tol::abs(1e-15))?;
        }
        let top = rrf(&[&scored(&[a, b, c]), &scored(&[c, d])], RRF_C, 1).called("rrf(k = 1)")?;
        ensure(top.len() == 1 && top[0].id == c, "rrf(k = 1)", format!("{top:?}"))?;
        let e = expect_err("rrf(k = 0)", rrf(&[&scored(&[a])], RRF_C, 0))?;
        ensure(e.contains('k'), "the error", format!("should name k: {e}"))
    }
}

check! {
    /// On the 116 labelled questions, hybrid search (RRF of BM25 and dense, 100 candidates
    /// each) finds more gold passages in its top 10 and top 20 than either part — what the
    /// chapter claims (it loses to BM25 at the very top, and says so).
    fn hybrid_beats_both_parts_in_the_top_10(exercise = "rrf", timeout_s = 1500) {
        let c = corpus()?;
        let texts: Vec<&str> = c.chunks.iter().map(|ch| ch.text.as_str()).collect();
        let embedder = Embedder::minilm(&mut |_| {}).called("Embedder::minilm")?;
        let (vectors, _) = embed_cached(&embedder, &texts, &mut |_, _| {}).called("embed_cached")?;
        let questions: Vec<&str> = c.questions.iter().map(|q| q.question.as_str()).collect();
        let qv = dense::embed_queries(&embedder, tokens()?, &questions).called("embed_queries")?;
        let bm = Bm25::build(&texts, Params::LUCENE).called("Bm25::build")?;
        let rel: Vec<Vec<usize>> = c.questions.iter().map(|q| relevant(&c.chunks, q)).collect();
        ensure(rel.iter().all(|r| !r.is_empty()), "relevant", "every question has its gold passage among the chunks")?;
        let mut runs = [Vec::new(), Vec::new(), Vec::new()];
        for (i, q) in questions.iter().enumerate() {
            let b = bm.search(q, 100).called("Bm25::search")?;
            let d = dense::search(&vectors, qv.row(i), 100).called("dense::search")?;
            runs[2].push(rrf(&[&b, &d], RRF_C, 100).called("rrf")?);
            runs[0].push(b);
            runs[1].push(d);
        }
        let s: Vec<_> = ["BM25", "dense", "hybrid"].iter().zip(&runs).map(|(n, r)| evaluate(n, r, &rel, &[10, 20])).collect::<Result<_, _>>().called("evaluate")?;
        for k in 0..2 {
            let (b, d, h) = (s[0].recall[k].1, s[1].recall[k].1, s[2].recall[k].1);
            ensure(h > b && h > d, "hybrid", format!("recall@{}: hybrid {h:.3}, BM25 {b:.3}, dense {d:.3}", s[0].recall[k].0))?;
        }
        Ok(())
    }
}

check! {
    /// The rerankers: for a question, SmolLM2 scores the passage that answers it above two
    /// that do not, MiniLM per sentence finds the answering sentence inside a passage; a
    /// passage longer than the LLM's context is refused, not cut.
    fn reranker_prefers_the_answering_passage(exercise = "rerank", timeout_s = 600) {
        let model = LocalModel::smollm2(WeightFormat::default(), &mut |_| {}).called("LocalModel::smollm2")?;
        let mut reranker = Reranker::new(model).called("Reranker::new")?;
        let q = "What is the capital of France?";
        let passages = ["Paris is the capital and largest city of France.", "The budget deficit fell by two percent last year.", "Our farmers grew more wheat than ever before."];
        let scores: Vec<f64> = passages.iter().map(|p| reranker.score(q, p)).collect::<Result<_, _>>().called("Reranker::score")?;
        ensure(scores[0] > scores[1] && scores[0] > scores[2], "Reranker::score", format!("log-odds {scores:?}: the answering passage should come first"))?;
        let hits = reranker.rerank(q, &scored(&[2, 1, 0]), &passages).called("Reranker::rerank")?;
        ensure(hits[0].id == 0, "Reranker::rerank", format!("{hits:?}"))?;
        // MiniLM per sentence: the passage whose second sentence answers comes first.
        let embedder = Embedder::minilm(&mut |_| {}).called("Embedder::minilm")?;
        let texts = ["The capital gains tax rose. Markets fell sharply.", "Bread is cheap in Lyon. Paris is the capital of France."];
        let scorer = SentenceScorer::build(&embedder, &texts, &[0, 1], &mut |_, _| {}).called("SentenceScorer::build")?;
        ensure(scorer.sentences() == 4, "SentenceScorer::build", format!("4 sentences, got {}", scorer.sentences()))?;
        let qv = embedder.embed(&[q]).called("Embedder::embed")?;
        let hits = scorer.rerank(&qv[0], &scored(&[0, 1])).called("SentenceScorer::rerank")?;
        ensure(hits[0].id == 1, "SentenceScorer::rerank", format!("{hits:?}"))?;
        let long = "word ".repeat(9000);
        let e = expect_err("Reranker::score(9,000-word passage)", reranker.score(q, &long))?;
        ensure(e.contains("context"), "the error", format!("should say the context is too small: {e}"))
    }
}

check! {
    /// Bad input, refused with the argument named: an empty, a blank, a too-large and a
    /// non-UTF-8 document (the bad byte's offset given), a query MiniLM cannot read whole, a
    /// query without words, k = 0 and k beyond the corpus for every retriever.
    fn bad_input_is_refused(exercise = "scores", timeout_s = 300) {
        let e = expect_err("Document::new(\"\")", Document::new("doc", String::new()))?;
        ensure(e.contains("empty"), "the error", e.clone())?;
        let e = expect_err("Document::new(blank)", Document::new("doc", " \n\t".into()))?;
        ensure(e.contains("white space"), "the error", e.clone())?;
        let e = expect_err("Document::from_bytes(too large)", Document::from_bytes("doc", vec![b'a'; MAX_BYTES + 1]))?;
        ensure(e.contains("bytes"), "the error", e.clone())?;
        let e = expect_err("Document::from_bytes(latin-1)", Document::from_bytes("notes.txt", b"na\xefve".to_vec()))?;
        ensure(e.contains("notes.txt") && e.contains("byte 2"), "the error", format!("should name the document and byte 2: {e}"))?;
        let file = std::env::temp_dir().join(format!("week20-bad-{}.txt", std::process::id()));
        std::fs::write(&file, b"ok so far \xff\xfe").map_err(|e| Failure::new("writing a test file", e.to_string()))?;
        let read = Document::read(&file);
        let _ = std::fs::remove_file(&file);
        let e = expect_err("Document::read(bad bytes)", read)?;
        ensure(e.contains("week20-bad") && e.contains("byte 10"), "the error", format!("should name the file and byte 10: {e}"))?;
        let tokens = tokens()?;
        let e = expect_err("check_query(300 words)", dense::check_query(tokens, &"why ".repeat(300)))?;
        ensure(e.contains("256"), "the error", format!("should give MiniLM's limit: {e}"))?;
        dense::check_query(tokens, "a short question").called("check_query(short)")?;
        let docs = ["alpha beta", "beta gamma"];
        let bm = Bm25::build(&docs, Params::LUCENE).called("Bm25::build")?;
        let engine = Engine::build(&docs).called("Engine::build")?;
        for (what, r) in [("Bm25::search(k = 0)", bm.search("beta", 0)), ("Bm25::search(k = 3)", bm.search("beta", 3)), ("Engine::search(k = 0)", engine.search("beta", 0)), ("Engine::search(k = 3)", engine.search("beta", 3))] {
            let e = expect_err(what, r)?;
            ensure(e.contains("`k`"), "the error", format!("{what}: should name k: {e}"))?;
        }
        let vectors = week20_rag_retrieval::week19::Vectors::from_rows("v", &[vec![1.0, 0.0], vec![0.0, 1.0]]).called("Vectors::from_rows")?;
        let e = expect_err("dense::search(k = 3)", dense::search(&vectors, &[1.0, 0.0], 3))?;
        ensure(e.contains("`k`"), "the error", e.clone())?;
        let e = expect_err("Bm25::search(\"?!\")", bm.search("?!", 1))?;
        ensure(e.contains("query"), "the error", e.clone())?;
        let embedder = Embedder::minilm(&mut |_| {}).called("Embedder::minilm")?;
        let e = expect_err("SentenceScorer::build(no ids)", SentenceScorer::build(&embedder, &docs, &[], &mut |_, _| {}))?;
        ensure(e.contains("ids"), "the error", format!("should name ids: {e}"))?;
        let e = expect_err("Bm25::build([])", Bm25::build(&[], Params::LUCENE))?;
        ensure(e.contains("passages"), "the error", e)
    }
}
