//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;
use week31_cost_routing::route::{Candidate, Task};
use week31_cost_routing::trace::Replay;
use week31_cost_routing::week24::pricing::dollars;

#[derive(Debug, Serialize)]
pub struct Spread {
    pub min: f64,
    pub p10: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
    pub n: usize,
}

#[derive(Debug, Serialize)]
pub struct NearPair {
    pub question: String,
    pub cached: String,
    pub similarity: f64,
}

#[derive(Debug, Serialize)]
pub struct AdmissionRow {
    pub question: String,
    pub answer: String,
    pub temperature: f64,
    pub finished: bool,
    /// Why it was not cached; None: cached.
    pub refused: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Caches {
    pub intents: usize,
    pub near_misses: usize,
    pub wordings: usize,
    pub trace: usize,
    pub distinct_asked: usize,
    pub paraphrase_similarity: Spread,
    pub near_similarity: Spread,
    pub near_pairs: Vec<NearPair>,
    pub exact: Replay,
    pub semantic: Vec<(f64, Replay)>,
    /// MiniLM per question, ms (one batch of all wordings).
    pub embed_ms: f64,
    /// SmolLM2 per answer, ms.
    pub miss_ms: f64,
    pub miss_prompt_tokens: u64,
    pub miss_completion_tokens: u64,
    /// Nano-dollars per miss at week 24's list price.
    pub miss_cost: u64,
    pub admission: Vec<AdmissionRow>,
}

#[derive(Debug, Serialize)]
pub struct BatchRow {
    pub batch: usize,
    pub ms_per_text: f64,
    pub texts: usize,
}

#[derive(Debug, Serialize)]
pub struct TaskSummary {
    pub emails: usize,
    pub spam: usize,
    pub nb_train: usize,
    pub vocabulary: usize,
    pub nb_accuracy: f64,
    pub nb_ms: f64,
    pub llm_accuracy: f64,
    /// E-mails SmolLM2 calls spam (after calibration).
    pub llm_says_spam: usize,
    /// Its log-odds of spam on a content-free e-mail, subtracted.
    pub llm_bias: f64,
    pub llm_ms: f64,
    pub llm_p95_ms: f64,
    pub llm_prompt_tokens: f64,
    /// Nano-dollars per e-mail.
    pub llm_cost: u64,
    pub arithmetic: usize,
    pub arithmetic_llm_right: usize,
    pub arithmetic_llm_ms: f64,
    /// (question, answer, what SmolLM2 said)
    pub arithmetic_examples: Vec<(String, i64, String)>,
}

#[derive(Debug, Serialize)]
pub struct CascadeRow {
    /// The share of e-mails sent on to SmolLM2 (NaN: SmolLM2 alone, no first stage).
    pub fraction: f64,
    pub threshold: f64,
    pub escalated: usize,
    pub accuracy: f64,
    /// Nano-dollars per 1,000 e-mails.
    pub cost_per_1000: f64,
    pub ms_per_item: f64,
}

#[derive(Debug, Serialize)]
pub struct Choice {
    pub task: Task,
    pub max_ms: f64,
    pub min_quality: f64,
    pub chosen: Result<String, String>,
}

#[derive(Debug, Serialize)]
pub struct Routing {
    pub candidates: Vec<(Task, Vec<Candidate>)>,
    pub choices: Vec<Choice>,
    pub requests: usize,
    pub routed: usize,
    pub misrouted: usize,
    pub cascade_threshold: f64,
}

#[derive(Debug, Serialize)]
pub struct Fallback {
    pub requests: usize,
    pub down_from: usize,
    pub down_to: usize,
    /// Naive Bayes down too, for these requests.
    pub nb_down_from: usize,
    pub nb_down_to: usize,
    /// (request, backend) of every call that failed.
    pub failed: Vec<(usize, usize)>,
    pub by_backend: Vec<(String, usize)>,
    pub right: usize,
    /// Calls made to SmolLM2 while it was down (each a 2 s timeout in real life).
    pub primary_calls_down: usize,
    /// SmolLM2's breaker: (seconds, state) at each change.
    pub transitions: Vec<(f64, String)>,
    /// (request, backend that answered)
    pub timeline: Vec<(usize, usize)>,
}

#[derive(Debug, Serialize)]
pub struct Bill {
    pub strategy: String,
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Nano-dollars, from the ledger.
    pub cost: u64,
    pub right: usize,
}

/// The lab's results: the JSON of `--json` (its fields) and the printed report (`Display`).
#[derive(Debug, Serialize)]
pub struct Report {
    pub caches: Caches,
    pub batching: Vec<BatchRow>,
    pub tasks: TaskSummary,
    pub cascade: Vec<CascadeRow>,
    pub routing: Routing,
    pub fallback: Fallback,
    pub ledger: Vec<Bill>,
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.caches;
        writeln!(
            f,
            "1. Response caches on a replayed trace: {} requests over {} intents ({} of them near misses of another), {} wordings; {} distinct wordings asked",
            c.trace, c.intents, c.near_misses, c.wordings, c.distinct_asked
        )?;
        let s = |x: &Spread| {
            format!(
                "min {:.3}, p10 {:.3}, median {:.3}, p90 {:.3}, max {:.3} ({} pairs)",
                x.min, x.p10, x.median, x.p90, x.max, x.n
            )
        };
        writeln!(
            f,
            "   MiniLM similarity of paraphrases:  {}",
            s(&c.paraphrase_similarity)
        )?;
        writeln!(
            f,
            "   MiniLM similarity of near misses:  {}",
            s(&c.near_similarity)
        )?;
        writeln!(
            f,
            "   the closest near misses (a different question, a cached answer):"
        )?;
        for p in c.near_pairs.iter().take(4) {
            writeln!(
                f,
                "     {:.3}  {:?} ~ {:?}",
                p.similarity, p.question, p.cached
            )?;
        }
        writeln!(
            f,
            "   {:<24} {:>9} {:>11} {:>13} {:>7}",
            "cache", "hit rate", "false hits", "wrong served", "misses"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: String, r: &Replay| {
            writeln!(
                f,
                "   {:<24} {:>9} {:>11} {:>13} {:>7}",
                name,
                pct(r.hit_rate()),
                r.false_hits,
                pct(r.false_hit_rate()),
                r.misses
            )
        };
        row(f, "exact (normalised)".into(), &c.exact)?;
        for (t, r) in &c.semantic {
            row(f, format!("exact + semantic ≥ {t:.2}"), r)?;
        }
        writeln!(
            f,
            "   a miss: SmolLM2 answers in {:.0} ms, {} prompt + {} answer tokens = {} at list price; a semantic lookup: MiniLM {:.1} ms",
            c.miss_ms,
            c.miss_prompt_tokens,
            c.miss_completion_tokens,
            dollars(c.miss_cost),
            c.embed_ms
        )?;
        writeln!(f, "   what the cache admits (poisoning attempts):")?;
        for a in &c.admission {
            let q: String = a.question.chars().take(60).collect();
            writeln!(
                f,
                "     {:<62} t={} {:<10} → {}",
                format!("{q:?}"),
                a.temperature,
                if a.finished { "finished" } else { "cut off" },
                a.refused
                    .as_deref()
                    .map_or("cached".to_string(), |r| format!("refused: {r}"))
            )?;
        }

        writeln!(
            f,
            "\n2. Batching: MiniLM embedding {} questions",
            self.batching.first().map_or(0, |b| b.texts)
        )?;
        for b in &self.batching {
            writeln!(
                f,
                "   batch {:>2}: {:.2} ms per question",
                b.batch, b.ms_per_text
            )?;
        }

        let t = &self.tasks;
        writeln!(
            f,
            "\n3. The task set: {} e-mails ({} spam), {} arithmetic questions",
            t.emails, t.spam, t.arithmetic
        )?;
        writeln!(
            f,
            "   naive Bayes (trained on {} e-mails, {} words): accuracy {}, {:.3} ms per e-mail",
            t.nb_train,
            t.vocabulary,
            pct(t.nb_accuracy),
            t.nb_ms
        )?;
        writeln!(
            f,
            "   SmolLM2 (two examples, first token, calibrated: bias {:+.2} subtracted): accuracy {}, says spam for {} of {}, {:.0} ms per e-mail (p95 {:.0} ms), {:.0} prompt tokens, {} per e-mail",
            t.llm_bias,
            pct(t.llm_accuracy),
            t.llm_says_spam,
            t.emails,
            t.llm_ms,
            t.llm_p95_ms,
            t.llm_prompt_tokens,
            dollars(t.llm_cost)
        )?;
        writeln!(
            f,
            "   arithmetic: SmolLM2 right on {} of {} ({:.0} ms each), the calculator on all",
            t.arithmetic_llm_right, t.arithmetic, t.arithmetic_llm_ms
        )?;
        for (q, a, said) in &t.arithmetic_examples {
            writeln!(f, "     {q} = {a}; SmolLM2: {said:?}")?;
        }

        writeln!(
            f,
            "\n4. The cascade: naive Bayes first, SmolLM2 when its confidence is below the threshold"
        )?;
        writeln!(
            f,
            "   {:>10} {:>10} {:>10} {:>9} {:>16} {:>10}",
            "escalated", "threshold", "e-mails", "accuracy", "$ per 1,000", "ms each"
        )?;
        for r in &self.cascade {
            let (share, threshold) = if r.fraction.is_nan() {
                ("LLM alone".to_string(), "-".to_string())
            } else {
                (pct(r.fraction), format!("{:.2}", r.threshold))
            };
            writeln!(
                f,
                "   {:>10} {:>10} {:>10} {:>9} {:>16} {:>10.1}",
                share,
                threshold,
                r.escalated,
                pct(r.accuracy),
                dollars(r.cost_per_1000.round() as u64),
                r.ms_per_item
            )?;
        }

        let r = &self.routing;
        writeln!(
            f,
            "\n5. Routing by task: {} requests, {} routed by the rules, {} misrouted",
            r.requests, r.routed, r.misrouted
        )?;
        for (task, list) in &r.candidates {
            for c in list {
                writeln!(
                    f,
                    "   {:<11} {:<28} {} per request, p95 {:.1} ms, quality {}",
                    format!("{task:?}"),
                    c.name,
                    dollars(c.cost),
                    c.p95_ms,
                    pct(c.quality)
                )?;
            }
        }
        for ch in &r.choices {
            writeln!(
                f,
                "   {:?} within {} ms at ≥ {}: {}",
                ch.task,
                ch.max_ms,
                pct(ch.min_quality),
                match &ch.chosen {
                    Ok(name) => name.clone(),
                    Err(e) => format!("refused — {e}"),
                }
            )?;
        }

        let b = &self.fallback;
        writeln!(
            f,
            "\n6. Fallbacks: {} spam requests, one a second; SmolLM2 down for requests {}–{}, naive Bayes for {}–{}",
            b.requests,
            b.down_from,
            b.down_to - 1,
            b.nb_down_from,
            b.nb_down_to - 1
        )?;
        let answered: Vec<String> = b
            .by_backend
            .iter()
            .map(|(n, k)| format!("{n} {k}"))
            .collect();
        writeln!(
            f,
            "   answered by: {}; right {} of {}; calls to SmolLM2 while down: {} (of {} requests)",
            answered.join(", "),
            b.right,
            b.requests,
            b.primary_calls_down,
            b.down_to - b.down_from
        )?;
        let states: Vec<String> = b
            .transitions
            .iter()
            .map(|(t, s)| format!("{s} at {t:.0} s"))
            .collect();
        writeln!(f, "   SmolLM2's breaker: {}", states.join(", "))?;

        writeln!(f, "\n7. The bill (week 24's ledger, list prices):")?;
        writeln!(
            f,
            "   {:<26} {:>8} {:>14} {:>12} {:>14} {:>9}",
            "strategy", "requests", "prompt tokens", "answer tok.", "cost", "right"
        )?;
        for l in &self.ledger {
            writeln!(
                f,
                "   {:<26} {:>8} {:>14} {:>12} {:>14} {:>9}",
                l.strategy,
                l.requests,
                l.prompt_tokens,
                l.completion_tokens,
                dollars(l.cost),
                format!("{}/{}", l.right, l.requests)
            )?;
        }
        Ok(())
    }
}
