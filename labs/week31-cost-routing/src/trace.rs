//! A replayed request trace: support questions asked by many users, popular ones far more often
//! (a Zipf law over intents), each time in one of its wordings. The data file groups wordings by
//! intent and marks *near misses*: intents worded like another but asking something else ("turn
//! on 2FA" / "turn off 2FA"), the questions a semantic cache answers wrongly.

use crate::cache::{ExactCache, SemanticCache};
use anyhow::{Context, Result, ensure};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// One intent: what is asked, in several wordings.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Intent {
    pub intent: String,
    /// The intent this one is worded like, if it is a near miss.
    #[serde(default)]
    pub near: Option<String>,
    pub variants: Vec<String>,
}

/// The intents of `data/support-questions.jsonl`, checked: unique names, at least one wording
/// each, every `near` naming another intent.
pub fn load_intents(path: &Path) -> Result<Vec<Intent>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut intents = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let intent: Intent = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not an intent", path.display(), i + 1))?;
        ensure!(
            !intent.variants.is_empty(),
            "{}:{}: intent {:?} has no wording",
            path.display(),
            i + 1,
            intent.intent
        );
        intents.push(intent);
    }
    let names: HashMap<&str, usize> = intents
        .iter()
        .enumerate()
        .map(|(i, t)| (t.intent.as_str(), i))
        .collect();
    ensure!(
        names.len() == intents.len(),
        "{}: an intent's name is used twice",
        path.display()
    );
    for t in &intents {
        if let Some(n) = &t.near {
            ensure!(
                names.contains_key(n.as_str()) && n != &t.intent,
                "{}: intent {:?} is near {n:?}, which is not another intent",
                path.display(),
                t.intent
            );
        }
    }
    Ok(intents)
}

/// One request of the trace: which intent, in which wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Request {
    pub intent: usize,
    pub variant: usize,
}

/// `n` requests: intent k (by rank in a seeded shuffle) drawn with probability ∝ 1/(k+1)^s, its
/// wording uniformly.
pub fn make_trace(intents: &[Intent], n: usize, zipf_s: f64, seed: u64) -> Result<Vec<Request>> {
    ensure!(!intents.is_empty(), "invalid `intents`: none given");
    ensure!(
        zipf_s.is_finite() && zipf_s >= 0.0,
        "invalid `zipf_s`: expected an exponent ≥ 0, got {zipf_s}"
    );
    let order = wb_data::shuffled_indices(intents.len(), seed);
    let weights: Vec<f64> = (0..intents.len())
        .map(|k| 1.0 / ((k + 1) as f64).powf(zipf_s))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut rng = SmallRng::seed_from_u64(seed);
    Ok((0..n)
        .map(|_| {
            let mut u = rng.r#gen::<f64>() * total;
            let mut k = 0;
            while k + 1 < weights.len() && u >= weights[k] {
                u -= weights[k];
                k += 1;
            }
            let intent = order[k];
            let variant = rng.gen_range(0..intents[intent].variants.len());
            Request { intent, variant }
        })
        .collect())
}

/// What a replay of the trace through a cache gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Replay {
    pub requests: usize,
    /// Answered from the exact cache.
    pub exact_hits: usize,
    /// Answered from the semantic cache with the right intent's answer.
    pub semantic_hits: usize,
    /// Answered from the semantic cache with another intent's answer: a wrong answer served.
    pub false_hits: usize,
    /// Sent to the model (and their answers cached).
    pub misses: usize,
}

impl Replay {
    pub fn hit_rate(&self) -> f64 {
        (self.exact_hits + self.semantic_hits + self.false_hits) as f64
            / self.requests.max(1) as f64
    }
    /// Wrong answers among the answers served from the cache.
    pub fn false_hit_rate(&self) -> f64 {
        let hits = self.exact_hits + self.semantic_hits + self.false_hits;
        if hits == 0 {
            0.0
        } else {
            self.false_hits as f64 / hits as f64
        }
    }
}

/// Replays `trace` for one tenant through an exact cache and, when `threshold` is given, a
/// semantic cache behind it (each of `capacity` entries); `vector(intent, variant)` is a
/// wording's unit embedding. A miss calls the model: its answer (the intent, here) is cached.
pub fn replay(
    trace: &[Request],
    capacity: usize,
    threshold: Option<f32>,
    dim: usize,
    vector: &dyn Fn(Request) -> Vec<f32>,
    intents: &[Intent],
) -> Result<Replay> {
    let mut exact = ExactCache::new(capacity)?;
    let mut semantic = match threshold {
        Some(t) => Some(SemanticCache::new(capacity, dim, t)?),
        None => None,
    };
    let mut out = Replay {
        requests: trace.len(),
        ..Replay::default()
    };
    for &r in trace {
        let question = intents
            .get(r.intent)
            .and_then(|t| t.variants.get(r.variant))
            .with_context(|| format!("invalid `trace`: no wording {r:?}"))?;
        if exact.get("t", question).is_some() {
            out.exact_hits += 1;
            continue;
        }
        if let Some(sem) = semantic.as_mut() {
            let v = vector(r);
            if let Some(hit) = sem.lookup("t", &v)? {
                if sem.entries[hit.index].answer == r.intent {
                    out.semantic_hits += 1;
                } else {
                    out.false_hits += 1;
                }
                continue;
            }
            sem.insert("t", question, v, r.intent)?;
        }
        out.misses += 1;
        exact.put("t", question, r.intent)?;
    }
    Ok(out)
}
