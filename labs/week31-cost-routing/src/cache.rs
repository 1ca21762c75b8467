//! Response caches: an answer computed once is served again without calling the model.
//!
//! - [`ExactCache`]: the same question, up to case, punctuation and spacing ([`normalise`]);
//! - [`SemanticCache`]: a question whose MiniLM embedding is within a cosine similarity
//!   threshold of one already answered — it catches paraphrases, and, below the right threshold,
//!   answers a *different* question with a cached answer (a false hit, measured in the lab);
//! - [`admit`]: what may be cached at all. A cache serves one answer to many people, so an
//!   answer that a single request could plant (sampled, personal, steered by an injected
//!   instruction) is refused. Entries are per tenant: one tenant never reads another's.
//!
//! Both caches evict the least recently used entry when full.

use crate::week22::guard;
use anyhow::{Result, bail, ensure};
use std::collections::HashMap;

// ANCHOR: normalise
/// The cache key of a question: lower-cased, every run of characters that are not letters or
/// digits turned into one space, no space at either end. "What is BM25?" and "what is  bm25"
/// share a key; "BM-25" and "BM25" do not.
pub fn normalise(text: &str) -> String {
    // BEGIN SOLUTION normalise
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
    // END SOLUTION
}
// ANCHOR_END: normalise

/// Counters of a cache's lookups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub lookups: u64,
    pub hits: u64,
    pub inserts: u64,
    pub evictions: u64,
}

impl Stats {
    pub fn hit_rate(&self) -> f64 {
        if self.lookups == 0 {
            0.0
        } else {
            self.hits as f64 / self.lookups as f64
        }
    }
}

fn check_capacity(capacity: usize) -> Result<()> {
    ensure!(
        capacity >= 1,
        "invalid `capacity`: expected at least 1 entry, got 0"
    );
    Ok(())
}

fn check_tenant(tenant: &str) -> Result<()> {
    ensure!(
        !tenant.is_empty() && tenant.len() <= 64,
        "invalid `tenant`: expected 1 to 64 bytes, got {}",
        tenant.len()
    );
    Ok(())
}

/// An exact-match cache keyed by tenant and normalised question, least recently used evicted.
#[derive(Debug, Clone)]
pub struct ExactCache<V> {
    capacity: usize,
    clock: u64,
    entries: HashMap<(String, String), (V, u64)>,
    pub stats: Stats,
}

impl<V: Clone> ExactCache<V> {
    pub fn new(capacity: usize) -> Result<Self> {
        check_capacity(capacity)?;
        Ok(Self {
            capacity,
            clock: 0,
            entries: HashMap::new(),
            stats: Stats::default(),
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The answer cached for `question` by `tenant`, if any (it becomes the most recently used).
    pub fn get(&mut self, tenant: &str, question: &str) -> Option<V> {
        self.stats.lookups += 1;
        self.clock += 1;
        let key = (tenant.to_string(), normalise(question));
        let entry = self.entries.get_mut(&key)?;
        entry.1 = self.clock;
        self.stats.hits += 1;
        Some(entry.0.clone())
    }

    /// Stores `answer` for `question`; when full, the least recently used entry goes first.
    /// A question with no letter or digit has no key and is refused.
    pub fn put(&mut self, tenant: &str, question: &str, answer: V) -> Result<()> {
        check_tenant(tenant)?;
        let key = normalise(question);
        ensure!(
            !key.is_empty(),
            "invalid `question`: {question:?} has no letter or digit to key it by"
        );
        self.clock += 1;
        let key = (tenant.to_string(), key);
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
                self.stats.evictions += 1;
            }
        }
        self.entries.insert(key, (answer, self.clock));
        self.stats.inserts += 1;
        Ok(())
    }
}

/// One entry of the semantic cache.
#[derive(Debug, Clone)]
pub struct Entry<V> {
    pub tenant: String,
    pub question: String,
    /// The question's embedding, unit length.
    pub vector: Vec<f32>,
    pub answer: V,
    used: u64,
}

/// A hit of the semantic cache: the entry's index and its cosine similarity to the question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub index: usize,
    pub similarity: f32,
}

/// A semantic cache: questions as unit vectors, a lookup answers with the most similar entry of
/// the same tenant if its similarity reaches the threshold. A linear scan: exact, and fast
/// enough for the few thousand entries a cache holds (week 19's indexes take over beyond).
#[derive(Debug, Clone)]
pub struct SemanticCache<V> {
    capacity: usize,
    threshold: f32,
    dim: usize,
    clock: u64,
    pub entries: Vec<Entry<V>>,
    pub stats: Stats,
}

fn check_unit(vector: &[f32], dim: usize) -> Result<()> {
    ensure!(
        vector.len() == dim,
        "invalid `vector`: expected {dim} dimensions, got {}",
        vector.len()
    );
    ensure!(
        vector.iter().all(|v| v.is_finite()),
        "invalid `vector`: it holds a value that is not finite"
    );
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    ensure!(
        (norm - 1.0).abs() < 1e-3,
        "invalid `vector`: expected unit length (cosine = dot product), got length {norm}"
    );
    Ok(())
}

impl<V: Clone> SemanticCache<V> {
    /// `threshold`: the least cosine similarity that counts as the same question (−1 to 1).
    pub fn new(capacity: usize, dim: usize, threshold: f32) -> Result<Self> {
        check_capacity(capacity)?;
        ensure!(dim >= 1, "invalid `dim`: expected at least 1, got 0");
        ensure!(
            (-1.0..=1.0).contains(&threshold),
            "invalid `threshold`: a cosine similarity is between -1 and 1, got {threshold}"
        );
        Ok(Self {
            capacity,
            threshold,
            dim,
            clock: 0,
            entries: Vec::new(),
            stats: Stats::default(),
        })
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    // ANCHOR: lookup
    /// The entry of `tenant` most similar to `vector` (unit length), if its cosine similarity is
    /// at least the threshold; it becomes the most recently used. Entries of other tenants are
    /// never considered. Ties go to the earlier entry.
    pub fn lookup(&mut self, tenant: &str, vector: &[f32]) -> Result<Option<Hit>> {
        check_unit(vector, self.dim)?;
        self.stats.lookups += 1;
        self.clock += 1;
        // BEGIN SOLUTION lookup
        let mut best: Option<Hit> = None;
        for (index, e) in self.entries.iter().enumerate() {
            if e.tenant != tenant {
                continue;
            }
            let similarity: f32 = e.vector.iter().zip(vector).map(|(a, b)| a * b).sum();
            if best.is_none_or(|b| similarity > b.similarity) {
                best = Some(Hit { index, similarity });
            }
        }
        let hit = best.filter(|b| b.similarity >= self.threshold);
        if let Some(h) = hit {
            self.entries[h.index].used = self.clock;
            self.stats.hits += 1;
        }
        Ok(hit)
        // END SOLUTION
    }
    // ANCHOR_END: lookup

    /// Stores `answer` for `question` (its embedding `vector`); when full, the least recently
    /// used entry goes first.
    pub fn insert(
        &mut self,
        tenant: &str,
        question: &str,
        vector: Vec<f32>,
        answer: V,
    ) -> Result<()> {
        check_tenant(tenant)?;
        check_unit(&vector, self.dim)?;
        self.clock += 1;
        if self.entries.len() >= self.capacity {
            let oldest = (0..self.entries.len()).min_by_key(|&i| self.entries[i].used);
            if let Some(i) = oldest {
                self.entries.swap_remove(i);
                self.stats.evictions += 1;
            }
        }
        self.entries.push(Entry {
            tenant: tenant.to_string(),
            question: question.to_string(),
            vector,
            answer,
            used: self.clock,
        });
        self.stats.inserts += 1;
        Ok(())
    }
}

/// Why an answer was not cached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Sampled (temperature above 0): another run would answer differently.
    Sampled,
    /// The model did not finish (an error, a cut-off stream): nothing to serve again.
    Unfinished,
    /// The question or the answer holds personal data (week 22's detectors): it is one
    /// person's, not everyone's.
    PersonalData(String),
    /// The question carries instructions to the model (week 22's injection heuristics): its
    /// answer may be the attacker's text, planted for everyone who asks something similar.
    Injection(Vec<&'static str>),
    /// Empty answer.
    Empty,
}

/// A request and its answer, as the cache sees them.
#[derive(Debug, Clone)]
pub struct Answered<'a> {
    pub question: &'a str,
    pub answer: &'a str,
    pub temperature: f64,
    pub finished: bool,
}

/// Whether an answer may be cached, and why not.
pub fn admit(a: &Answered<'_>) -> Result<std::result::Result<(), Refusal>> {
    if !(a.temperature.is_finite() && a.temperature >= 0.0) {
        bail!(
            "invalid `temperature`: expected a number ≥ 0, got {}",
            a.temperature
        );
    }
    if a.temperature > 0.0 {
        return Ok(Err(Refusal::Sampled));
    }
    if !a.finished {
        return Ok(Err(Refusal::Unfinished));
    }
    if a.answer.trim().is_empty() {
        return Ok(Err(Refusal::Empty));
    }
    let injected = guard::injection(a.question);
    if injected.flagged {
        return Ok(Err(Refusal::Injection(injected.rules)));
    }
    for (what, text) in [("question", a.question), ("answer", a.answer)] {
        if let Some(f) = guard::find_pii(text).first() {
            return Ok(Err(Refusal::PersonalData(format!(
                "{:?} in the {what}",
                f.kind
            ))));
        }
    }
    Ok(Ok(()))
}
