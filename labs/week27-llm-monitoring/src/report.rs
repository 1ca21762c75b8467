//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;
use week27_llm_monitoring::eval::{Scored, Summary};
use week27_llm_monitoring::ground::Detection;
use week27_llm_monitoring::sets::{FireRates, Study};

/// A hallucination detector on the planted set's test half.
#[derive(Serialize)]
pub struct Detector {
    pub name: String,
    /// At the threshold tuned on the other half.
    pub test: Detection,
    /// (kind, flagged, items) on the test half.
    pub by_kind: Vec<(String, usize, usize)>,
}

#[derive(Serialize)]
pub struct PlantedReport {
    pub items: usize,
    pub hallucinations: usize,
    pub detectors: Vec<Detector>,
    pub lexical: Vec<f64>,
    pub semantic: Vec<f64>,
    pub kinds: Vec<String>,
}

/// What the middleware exported, next to what the client counted.
#[derive(Serialize)]
pub struct Monitoring {
    pub requests_ok: u64,
    pub requests_bad: u64,
    pub client_ok: u64,
    pub client_bad: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub client_prompt_tokens: u64,
    pub client_completion_tokens: u64,
    pub cost_nanodollars: u64,
    pub expected_cost: u64,
    pub p50_histogram: f64,
    pub p95_histogram: f64,
    pub p50_client: f64,
    pub p95_client: f64,
    pub ttft_p50_histogram: f64,
    pub ttft_mean_client: f64,
    pub streamed: usize,
    pub exposition_lines: Vec<String>,
    pub latencies: Vec<f64>,
}

/// Self-consistency of the local model with and without the context.
#[derive(Serialize)]
pub struct SelfCheck {
    pub questions: usize,
    pub samples: usize,
    pub consistency_with: f64,
    pub consistency_without: f64,
    pub grounded_with: f64,
    pub grounded_without: f64,
    /// Flagging "asked without context" by low consistency, threshold chosen on these items.
    pub detection: Detection,
    /// The chance that a question asked without context is less consistent than one with it.
    pub auc: f64,
    /// The first question's samples, with and without context.
    pub example: (Vec<String>, Vec<String>),
    pub with: Vec<f64>,
    pub without: Vec<f64>,
}

/// The lab's results: the JSON of `--json` (its fields) and the printed report (`Display`).
#[derive(Serialize)]
pub struct Report {
    pub old_prompts: usize,
    pub new_prompts: usize,
    pub old_mean_words: f64,
    pub new_mean_words: f64,
    pub study: Study,
    pub drift: Vec<FireRates>,
    pub planted: PlantedReport,
    pub summary: Summary,
    pub scored: Vec<Scored>,
    pub monitoring: Monitoring,
    pub self_check: SelfCheck,
    #[serde(skip)]
    pub embed_ms: f64,
    #[serde(skip)]
    pub drift_ms: f64,
    #[serde(skip)]
    pub served_ms: f64,
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.study;
        writeln!(
            f,
            "Drift: prompts of 1945–1969 ({}, {:.1} words on average) against 1997–2021 ({}, {:.1} words); MiniLM embeddings in {:.1} s",
            self.old_prompts,
            self.old_mean_words,
            self.new_prompts,
            self.new_mean_words,
            self.embed_ms / 1e3
        )?;
        writeln!(
            f,
            "  reference window {} prompts; {} current windows per share; KS and MMD ({} permutations, {} embeddings a side) at α = {}, PSI alarm > {}",
            s.window, s.windows, s.permutations, s.embedding_window, s.alpha, s.psi_alarm
        )?;
        writeln!(
            f,
            "  {:>10}  {:>12}  {:>12}  {:>14}",
            "new share", "KS (length)", "PSI (length)", "MMD (meaning)"
        )?;
        for r in &self.drift {
            writeln!(
                f,
                "  {:>10}  {:>12}  {:>12}  {:>14}",
                pct(r.share),
                pct(r.ks),
                pct(r.psi),
                pct(r.mmd)
            )?;
        }
        writeln!(
            f,
            "  (share 0 is the false-alarm rate; {:.1} s)",
            self.drift_ms / 1e3
        )?;
        let p = &self.planted;
        writeln!(
            f,
            "\nPlanted hallucinations: {} answers in their context, {} planted; thresholds tuned on odd questions, reported on even ones",
            p.items, p.hallucinations
        )?;
        for d in &p.detectors {
            writeln!(
                f,
                "  {:<8} flag below {:.3}: precision {:.3}, recall {:.3}, F1 {:.3}",
                d.name, d.test.threshold, d.test.precision, d.test.recall, d.test.f1
            )?;
            let kinds: Vec<String> = d
                .by_kind
                .iter()
                .map(|(k, flagged, n)| format!("{k} {flagged}/{n}"))
                .collect();
            writeln!(f, "           flagged by kind: {}", kinds.join(", "))?;
        }
        let m = &self.monitoring;
        writeln!(
            f,
            "\nThe local model behind the OpenAI-compatible server, metered by the middleware ({:.1} s):",
            self.served_ms / 1e3
        )?;
        writeln!(
            f,
            "  requests ok {} (client saw {}), bad_request {} (client saw {})",
            m.requests_ok, m.client_ok, m.requests_bad, m.client_bad
        )?;
        writeln!(
            f,
            "  tokens prompt {} / completion {} (client's usage: {} / {}); cost {} nano-$ (priced from the client's usage: {})",
            m.prompt_tokens,
            m.completion_tokens,
            m.client_prompt_tokens,
            m.client_completion_tokens,
            m.cost_nanodollars,
            m.expected_cost
        )?;
        writeln!(
            f,
            "  latency p50 {:.3} s, p95 {:.3} s by histogram_quantile (exact from the client: {:.3} s, {:.3} s)",
            m.p50_histogram, m.p95_histogram, m.p50_client, m.p95_client
        )?;
        writeln!(
            f,
            "  time to first token p50 {:.3} s by histogram ({} streamed answers, client mean {:.3} s)",
            m.ttft_p50_histogram, m.streamed, m.ttft_mean_client
        )?;
        let e = &self.summary;
        writeln!(
            f,
            "\nEvaluation harness: {} questions with their context, greedy, up to 48 tokens",
            e.items
        )?;
        writeln!(
            f,
            "  exact match {:.3}, token F1 {:.3}, ROUGE-L {:.3} against the gold sentence; groundedness {:.3} ({} answers below 0.5); mean latency {:.2} s",
            e.exact_match, e.f1, e.rouge_l, e.grounded, e.ungrounded, e.mean_seconds
        )?;
        if let Some(w) = self.scored.iter().min_by(|a, b| a.f1.total_cmp(&b.f1)) {
            writeln!(
                f,
                "  weakest: {} {:?} (F1 {:.3})",
                w.id,
                w.answer.trim(),
                w.f1
            )?;
        }
        let c = &self.self_check;
        writeln!(
            f,
            "\nSelf-consistency: {} questions × {} samples at temperature 0.8",
            c.questions, c.samples
        )?;
        writeln!(
            f,
            "  with the context: consistency {:.3}, groundedness {:.3}; without: consistency {:.3}, groundedness {:.3}",
            c.consistency_with, c.grounded_with, c.consistency_without, c.grounded_without
        )?;
        writeln!(
            f,
            "  flagging 'no context' below {:.3}: precision {:.3}, recall {:.3} (threshold chosen on these {} items); AUC {:.3}",
            c.detection.threshold,
            c.detection.precision,
            c.detection.recall,
            2 * c.questions,
            c.auc
        )?;
        if let (Some(a), Some(b)) = (c.example.0.first(), c.example.1.first()) {
            writeln!(
                f,
                "  e.g. with context: {:?}\n       without:      {:?}",
                a.trim(),
                b.trim()
            )?;
        }
        Ok(())
    }
}
