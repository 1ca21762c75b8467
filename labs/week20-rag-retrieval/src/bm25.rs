//! BM25 from scratch: an inverted index (for each word, the passages holding it and how often)
//! scored by Robertson and Spärck Jones's formula,
//!
//! score(q, d) = Σ_{t ∈ q} idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·|d| / avgdl)).
//!
//! Two families of settings are compared with real libraries: Lucene's (tantivy: k1 = 1.2,
//! b = 0.75, idf = ln(1 + (N − n + 0.5)/(n + 0.5)), lengths stored in one byte) and rank-bm25's
//! `BM25Okapi` (k1 = 1.5, idf = ln((N − n + 0.5)/(n + 0.5)), negative ones floored at
//! ε × the mean idf).

use crate::{Result, Scored, invalid, top_k};
use std::collections::HashMap;

/// Words longer than this many bytes are dropped (tantivy's default `RemoveLongFilter`).
pub const MAX_WORD_BYTES: usize = 40;

/// The words of `text` as tantivy's default analyser finds them: runs of letters and digits,
/// lower-cased, those of 40 bytes or more dropped.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() < MAX_WORD_BYTES)
        .map(str::to_lowercase)
        .collect()
}

/// How rare words are weighted.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Idf {
    /// ln(1 + (N − n + 0.5)/(n + 0.5)): never negative (Lucene, tantivy, Elasticsearch).
    Lucene,
    /// ln((N − n + 0.5)/(n + 0.5)), negative for words in more than half the passages; those
    /// are set to `epsilon` × the mean idf of the vocabulary (rank-bm25's `BM25Okapi`).
    Okapi { epsilon: f64 },
}

/// BM25's settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Params {
    /// How fast repeated words saturate (0: a word counts once).
    pub k1: f64,
    /// How much a passage's length discounts its counts (0: not at all, 1: fully).
    pub b: f64,
    pub idf: Idf,
    /// Lengths rounded down to the 256 values tantivy stores in one byte.
    pub quantised: bool,
}

impl Params {
    /// tantivy's scoring (and Lucene's, lengths aside).
    pub const TANTIVY: Params = Params {
        k1: 1.2,
        b: 0.75,
        idf: Idf::Lucene,
        quantised: true,
    };
    /// Lucene's formula with exact lengths: the lab's BM25.
    pub const LUCENE: Params = Params {
        quantised: false,
        ..Params::TANTIVY
    };
    /// rank-bm25's `BM25Okapi` defaults.
    pub const RANK_BM25: Params = Params {
        k1: 1.5,
        b: 0.75,
        idf: Idf::Okapi { epsilon: 0.25 },
        quantised: false,
    };

    fn check(&self) -> Result<()> {
        if !(self.k1.is_finite() && self.k1 >= 0.0) {
            return Err(invalid(
                "k1",
                format!("must be a number ≥ 0, got {}", self.k1),
            ));
        }
        if !(0.0..=1.0).contains(&self.b) {
            return Err(invalid(
                "b",
                format!("must be between 0 and 1, got {}", self.b),
            ));
        }
        if let Idf::Okapi { epsilon } = self.idf
            && !(epsilon.is_finite() && epsilon >= 0.0)
        {
            return Err(invalid(
                "epsilon",
                format!("must be a number ≥ 0, got {epsilon}"),
            ));
        }
        Ok(())
    }
}

/// The length tantivy keeps for a passage of `len` words: exact up to 40, then on a
/// logarithmic scale of 256 steps (its field norms fit in one byte).
pub fn quantise(len: u32) -> u32 {
    use tantivy::fieldnorm::FieldNormReader;
    FieldNormReader::id_to_fieldnorm(FieldNormReader::fieldnorm_to_id(len))
}

// ANCHOR: term_score
/// One word's share of a passage's score: `idf` × saturated term frequency, normalised by the
/// passage's length `len` against the mean `avg_len`.
pub fn term_score(tf: f64, len: f64, avg_len: f64, idf: f64, k1: f64, b: f64) -> f64 {
    // BEGIN SOLUTION term_score
    idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * len / avg_len))
    // END SOLUTION
}
// ANCHOR_END: term_score

/// An inverted index scored by BM25.
#[derive(Debug, Clone)]
pub struct Bm25 {
    params: Params,
    /// For each word: (passage, how often it occurs there), passages in order.
    postings: HashMap<String, Vec<(u32, u32)>>,
    /// Each passage's length in words (as scored: quantised if the settings say so).
    lengths: Vec<f64>,
    avg_len: f64,
    idf: HashMap<String, f64>,
}

impl Bm25 {
    /// Indexes `passages` (at least one; a passage with no words is allowed and never found).
    pub fn build(passages: &[&str], params: Params) -> Result<Self> {
        params.check()?;
        if passages.is_empty() {
            return Err(invalid("passages", "nothing to index"));
        }
        if passages.len() > u32::MAX as usize {
            return Err(invalid(
                "passages",
                format!("{} is more than 2³² passages", passages.len()),
            ));
        }
        let mut postings: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        let mut lengths = Vec::with_capacity(passages.len());
        let mut total = 0u64;
        for (id, text) in passages.iter().enumerate() {
            let words = tokenize(text);
            total += words.len() as u64;
            let len = u32::try_from(words.len()).unwrap_or(u32::MAX);
            lengths.push(f64::from(if params.quantised {
                quantise(len)
            } else {
                len
            }));
            let mut counts: HashMap<String, u32> = HashMap::new();
            for w in words {
                *counts.entry(w).or_default() += 1;
            }
            for (w, tf) in counts {
                postings.entry(w).or_default().push((id as u32, tf));
            }
        }
        // The mean of the true lengths, as tantivy and rank-bm25 both take it.
        let avg_len = total as f64 / passages.len() as f64;
        let n = passages.len() as f64;
        let raw = |df: usize| {
            let df = df as f64;
            match params.idf {
                Idf::Lucene => (1.0 + (n - df + 0.5) / (df + 0.5)).ln(),
                Idf::Okapi { .. } => (n - df + 0.5).ln() - (df + 0.5).ln(),
            }
        };
        let mut idf: HashMap<String, f64> = postings
            .iter()
            .map(|(w, p)| (w.clone(), raw(p.len())))
            .collect();
        if let Idf::Okapi { epsilon } = params.idf
            && !idf.is_empty()
        {
            let mean = idf.values().sum::<f64>() / idf.len() as f64;
            for v in idf.values_mut() {
                if *v < 0.0 {
                    *v = epsilon * mean;
                }
            }
        }
        Ok(Self {
            params,
            postings,
            lengths,
            avg_len,
            idf,
        })
    }

    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    pub fn params(&self) -> Params {
        self.params
    }

    /// The mean passage length in words.
    pub fn avg_len(&self) -> f64 {
        self.avg_len
    }

    /// The weight of `word` (0 for a word no passage holds).
    pub fn idf(&self, word: &str) -> f64 {
        self.idf.get(word).copied().unwrap_or(0.0)
    }

    /// How many passages hold `word`.
    pub fn doc_freq(&self, word: &str) -> usize {
        self.postings.get(word).map_or(0, Vec::len)
    }

    /// The words of the vocabulary.
    pub fn vocabulary(&self) -> usize {
        self.postings.len()
    }

    // ANCHOR: scores
    /// The score of every passage for `query` (a word given twice counts twice, as in
    /// tantivy's and rank-bm25's sums). Only the passages in a query word's postings list are
    /// touched: the rest stay 0.
    pub fn scores(&self, query: &str) -> Result<Vec<f64>> {
        let words = tokenize(query);
        if words.is_empty() {
            return Err(invalid(
                "query",
                format!("{query:?} has no word to search for"),
            ));
        }
        let Params { k1, b, .. } = self.params;
        let mut scores = vec![0.0; self.len()];
        // BEGIN SOLUTION scores
        for w in &words {
            let Some(list) = self.postings.get(w) else {
                continue;
            };
            let idf = self.idf(w);
            for &(id, tf) in list {
                let id = id as usize;
                scores[id] += term_score(f64::from(tf), self.lengths[id], self.avg_len, idf, k1, b);
            }
        }
        // END SOLUTION
        Ok(scores)
    }
    // ANCHOR_END: scores

    /// The `k` best passages for `query`, best first, ties to the smaller id; passages holding
    /// no query word are never returned (so fewer than `k` may come back).
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Scored>> {
        let scores = self.scores(query)?;
        top_k(&scores, k, true)
    }
}
