//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use wb_lab::Lab;

/// Percentiles of request times (ms), nearest rank.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(ms: &[f64]) -> Self {
        let mut sorted = ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            sorted
                .get(((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1)) - 1)
                .copied()
                .unwrap_or(f64::NAN)
        };
        Self {
            p50_ms: rank(0.5),
            p90_ms: rank(0.9),
            max_ms: rank(1.0),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct StreamDemo {
    pub prompt: String,
    pub answer: String,
    pub text_events: usize,
    pub in_order: bool,
    pub ended_once: bool,
    pub first_text_ms: f64,
    pub total_ms: f64,
}

/// One strategy at one fault rate.
#[derive(Debug, Serialize)]
pub struct FaultRow {
    pub rate: f64,
    pub strategy: String,
    pub requests: usize,
    pub succeeded: usize,
    /// Answers equal to the fault-free run's.
    pub identical: usize,
    /// Streams with ids in order and exactly one end.
    pub clean_streams: usize,
    /// Attempts that reached the proxy (the load on the model server).
    pub attempts: u64,
    pub faults: BTreeMap<String, u64>,
    pub latency: Latency,
}

#[derive(Debug, Serialize)]
pub struct OutageArm {
    pub strategy: String,
    pub requests: usize,
    pub succeeded: usize,
    pub statuses: Vec<u16>,
    pub attempts: usize,
    pub attempts_during_outage: usize,
    /// From the outage's end to the first request sent after it that succeeded (s).
    pub first_success_after_s: f64,
    pub transitions: Vec<(f64, String)>,
    #[serde(skip)]
    pub connections: Vec<(f64, String)>,
}

#[derive(Debug, Serialize)]
pub struct Disconnect {
    pub pieces_read: usize,
    pub server_stopped_after_ms: f64,
    pub server_cancelled: u64,
    pub open_upstream_streams: i64,
    pub active_streams: i64,
    pub abandoned: u64,
}

#[derive(Debug, Serialize)]
pub struct IdempotencyArm {
    pub keyed: bool,
    pub status: u16,
    pub client_attempts: u32,
    pub model_calls: u64,
    pub replayed: u64,
    pub answer: String,
}

#[derive(Debug, Serialize)]
pub struct Guarded {
    pub case: String,
    pub status: u16,
    pub reply: Value,
}

/// Detection counts of one kind of planted personal data.
#[derive(Debug, Serialize)]
pub struct PiiRecall {
    pub kind: String,
    pub planted: usize,
    pub found: usize,
}

/// The guardrails measured on the SpamAssassin mail.
#[derive(Debug, Serialize)]
pub struct Guardrails {
    pub ham: usize,
    pub spam: usize,
    pub flagged_ham: usize,
    pub flagged_spam: usize,
    /// Flagged mails: id, rules, an excerpt around the match.
    pub flagged: Vec<(String, Vec<String>, String)>,
    pub known_found: usize,
    pub known_planted: usize,
    pub paraphrased_found: usize,
    pub paraphrased_planted: usize,
    /// Personal data found in the mails as they are, by kind.
    pub pii_in_mail: BTreeMap<String, usize>,
    pub fixtures: usize,
    pub recall: Vec<PiiRecall>,
    pub invalid_planted: usize,
    pub invalid_flagged: usize,
    /// Fixtures whose redaction is exactly the expected text.
    pub exact: usize,
    pub scan_mb: f64,
    pub scan_mb_per_s: f64,
}

/// The lab's results: the JSON of `--json` (its fields) and the printed report (`Display`).
#[derive(Serialize)]
pub struct Report {
    pub stream: StreamDemo,
    pub faults: Vec<FaultRow>,
    pub outage: Vec<OutageArm>,
    pub outage_window_s: (f64, f64),
    pub disconnect: Disconnect,
    pub idempotency: Vec<IdempotencyArm>,
    pub guarded: Vec<Guarded>,
    pub bad_requests: Vec<(String, u16, String)>,
    pub guardrails: Guardrails,
}

fn pct(n: usize, d: usize) -> f64 {
    100.0 * n as f64 / d.max(1) as f64
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stream;
        writeln!(
            f,
            "streaming (SmolLM2 → model server → gateway → client, SSE)"
        )?;
        writeln!(f, "  {:?}", s.prompt)?;
        writeln!(
            f,
            "  {} text events, ids in order: {}, ended once: {}; first text {:.0} ms, whole {:.0} ms",
            s.text_events, s.in_order, s.ended_once, s.first_text_ms, s.total_ms
        )?;
        writeln!(f, "  → {}", s.answer.trim())?;
        writeln!(f)?;
        writeln!(
            f,
            "faults between the gateway and the model server (the fault proxy: failures split evenly between reset, 503 and a truncated stream; as many again delayed 150 ms, at most the rest)"
        )?;
        writeln!(
            f,
            "  {:>5}  {:<30} {:>9} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8}",
            "rate",
            "strategy",
            "succeeded",
            "identical",
            "clean",
            "attempts",
            "p50 ms",
            "p90 ms",
            "max ms"
        )?;
        for r in &self.faults {
            writeln!(
                f,
                "  {:>5.2}  {:<30} {:>6}/{:<2} {:>9} {:>7} {:>9.2} {:>8.0} {:>8.0} {:>8.0}",
                r.rate,
                r.strategy,
                r.succeeded,
                r.requests,
                r.identical,
                r.clean_streams,
                r.attempts as f64 / r.requests as f64,
                r.latency.p50_ms,
                r.latency.p90_ms,
                r.latency.max_ms
            )?;
        }
        writeln!(
            f,
            "  (identical: the answer equals the fault-free one; clean: ids in order and exactly one end; attempts: per request)"
        )?;
        writeln!(f)?;
        let (a, b) = self.outage_window_s;
        writeln!(
            f,
            "an outage: the model server unreachable from {a} s to {b} s, one request every 0.4 s"
        )?;
        for arm in &self.outage {
            writeln!(
                f,
                "  {:<30} {:>2}/{} succeeded, {:>3} connections ({:>3} during the outage), first success {:.1} s after it",
                arm.strategy,
                arm.succeeded,
                arm.requests,
                arm.attempts,
                arm.attempts_during_outage,
                arm.first_success_after_s
            )?;
            if !arm.transitions.is_empty() {
                let t: Vec<String> = arm
                    .transitions
                    .iter()
                    .map(|(t, s)| format!("{s} at {t:.2} s"))
                    .collect();
                writeln!(f, "      breaker: {}", t.join(" → "))?;
            }
        }
        writeln!(f)?;
        let d = &self.disconnect;
        writeln!(
            f,
            "a client that goes away after {} pieces of a 256-token answer",
            d.pieces_read
        )?;
        writeln!(
            f,
            "  the model server stopped generating {:.0} ms later (cancelled: {}); open upstream streams {}, active gateway streams {}, abandoned {}",
            d.server_stopped_after_ms,
            d.server_cancelled,
            d.open_upstream_streams,
            d.active_streams,
            d.abandoned
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "answers cut off on their way back (twice), the client retrying"
        )?;
        for arm in &self.idempotency {
            writeln!(
                f,
                "  {:<22} status {} after {} attempts; the model ran {} time(s); replayed {}",
                if arm.keyed {
                    "with Idempotency-Key"
                } else {
                    "without a key"
                },
                arm.status,
                arm.client_attempts,
                arm.model_calls,
                arm.replayed
            )?;
        }
        writeln!(f)?;
        writeln!(f, "guardrails at the gateway (SmolLM2)")?;
        for g in &self.guarded {
            let what = if g.status == 200 {
                format!(
                    "redacted {} · violations {} · {:?}",
                    g.reply["redacted"],
                    g.reply["violations"],
                    g.reply["answer"].as_str().unwrap_or_default()
                )
            } else {
                format!("{}", g.reply)
            };
            writeln!(f, "  {:<14} {} {}", g.case, g.status, what)?;
        }
        writeln!(f)?;
        writeln!(f, "bad requests")?;
        for (what, status, message) in &self.bad_requests {
            writeln!(f, "  {what:<32} {status} {message}")?;
        }
        writeln!(f)?;
        let g = &self.guardrails;
        writeln!(f, "guardrails on SpamAssassin mail")?;
        writeln!(
            f,
            "  injection heuristics, false positives: ham {}/{} ({:.2} %), spam {}/{} ({:.2} %)",
            g.flagged_ham,
            g.ham,
            pct(g.flagged_ham, g.ham),
            g.flagged_spam,
            g.spam,
            pct(g.flagged_spam, g.spam)
        )?;
        for (id, rules, excerpt) in &g.flagged {
            writeln!(f, "    {id} {rules:?}: {excerpt}")?;
        }
        writeln!(
            f,
            "  planted injections found: known phrasings {}/{} ({:.0} %), paraphrases {}/{} ({:.0} %)",
            g.known_found,
            g.known_planted,
            pct(g.known_found, g.known_planted),
            g.paraphrased_found,
            g.paraphrased_planted,
            pct(g.paraphrased_found, g.paraphrased_planted)
        )?;
        writeln!(
            f,
            "  personal data in the mail as it is: {:?}",
            g.pii_in_mail
        )?;
        writeln!(f, "  planted in {} clean bodies:", g.fixtures)?;
        for r in &g.recall {
            writeln!(f, "    {:<6} found {}/{}", r.kind, r.found, r.planted)?;
        }
        writeln!(
            f,
            "    invalid card numbers and IBANs (one digit off) flagged: {}/{}; redactions exactly as expected: {}/{}",
            g.invalid_flagged, g.invalid_planted, g.exact, g.fixtures
        )?;
        writeln!(
            f,
            "  scanned {:.1} MB of mail (personal data and injection rules) at {:.1} MB/s",
            g.scan_mb, g.scan_mb_per_s
        )
    }
}

/// Requests that succeeded, by fault rate, one line per strategy.
pub fn plot_success(lab: &Lab, rows: &[FaultRow]) -> Result<Vec<PathBuf>> {
    let mut plot = wb_plot::LinePlot::new(
        "Requests answered through a faulty network",
        "share of connections failing (reset, 503, truncated)",
        "requests answered (%)",
    );
    for (i, name) in order(rows).iter().enumerate() {
        let points = rows
            .iter()
            .filter(|r| r.strategy == *name)
            .map(|r| (r.rate, pct(r.succeeded, r.requests)))
            .collect();
        let s = wb_plot::Series::new(name.to_string(), points);
        plot = plot.series(if i % 2 == 1 { s.dashed() } else { s });
    }
    Ok(plot
        .markers(true)
        .y_range(0.0, 105.0)
        .legend(wb_plot::LegendPosition::LowerLeft)
        .save(lab.plots_dir(), "answered")?)
}

/// The strategies in the order they were run.
fn order(rows: &[FaultRow]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows {
        if !out.contains(&r.strategy) {
            out.push(r.strategy.clone());
        }
    }
    out
}

/// Attempts per request (the load on the model server), by fault rate.
pub fn plot_attempts(lab: &Lab, rows: &[FaultRow]) -> Result<Vec<PathBuf>> {
    let mut plot = wb_plot::LinePlot::new(
        "Load on the model server",
        "share of connections failing (reset, 503, truncated)",
        "attempts per request",
    );
    for (i, name) in order(rows).iter().enumerate() {
        let points = rows
            .iter()
            .filter(|r| r.strategy == *name)
            .map(|r| (r.rate, r.attempts as f64 / r.requests as f64))
            .collect();
        let s = wb_plot::Series::new(name.to_string(), points);
        plot = plot.series(if i % 2 == 1 { s.dashed() } else { s });
    }
    Ok(plot
        .markers(true)
        .legend(wb_plot::LegendPosition::UpperLeft)
        .save(lab.plots_dir(), "attempts")?)
}

/// Connections reaching the proxy over time during the outage, with and without the breaker.
pub fn plot_outage(lab: &Lab, arms: &[OutageArm], window: (f64, f64)) -> Result<Vec<PathBuf>> {
    let mut plot = wb_plot::LinePlot::new(
        "An outage: connections the gateway opens to the model server",
        "time (s)",
        "connections so far",
    );
    let mut top: f64 = 1.0;
    for (i, arm) in arms.iter().enumerate() {
        let mut points = vec![(0.0, 0.0)];
        for (n, (t, _)) in arm.connections.iter().enumerate() {
            points.push((*t, n as f64));
            points.push((*t, n as f64 + 1.0));
        }
        top = top.max(arm.connections.len() as f64);
        let s = wb_plot::Series::new(arm.strategy.clone(), points);
        plot = plot.series(if i == 1 { s.dashed() } else { s });
    }
    for (x, name) in [(window.0, "outage begins"), (window.1, "outage ends")] {
        plot = plot.series(wb_plot::Series::new(name, vec![(x, 0.0), (x, top)]).dashed());
    }
    Ok(plot
        .legend(wb_plot::LegendPosition::UpperLeft)
        .save(lab.plots_dir(), "outage")?)
}
