//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use std::fmt;
use week18_prompting::email::Label;
use week18_prompting::eval::{Metrics, TemperaturePoint};
use week18_prompting::repair::JsonOutcome;

#[derive(Serialize)]
pub struct Report {
    pub usable_emails: usize,
    pub tasks: usize,
    pub pool: usize,
    pub examples: usize,
    pub same_label_examples: usize,
    pub body_chars: usize,
    pub schema: String,
    pub metrics: Vec<Metrics>,
    pub constrained_samples: Vec<Mistake>,
    pub study_subject: String,
    pub study_label: Label,
    pub temperature: Vec<TemperaturePoint>,
    pub http: Http,
    pub repair: JsonOutcome,
    pub repair_model_saw: usize,
}

#[derive(Serialize)]
pub struct Mistake {
    pub subject: String,
    pub truth: Label,
    pub right: bool,
    pub reply: String,
}

#[derive(Serialize)]
pub struct Http {
    pub base_url: String,
    pub requests: usize,
    pub same_as_local: usize,
    pub ms_per_request: f64,
}

fn pct(n: usize, of: usize) -> String {
    format!("{:.0} %", 100.0 * n as f64 / of.max(1) as f64)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "1. The task set: {} e-mails (half spam, half ham) of the {} usable in SpamAssassin; {} more to draw examples from",
            self.tasks, self.usable_emails, self.pool
        )?;
        writeln!(
            f,
            "   prompts show From, Subject and the first {} characters of the body",
            self.body_chars
        )?;
        writeln!(
            f,
            "   few-shot: the {} pool e-mails closest by MiniLM embedding; {} of the {} chosen share the task's label\n",
            self.examples,
            self.same_label_examples,
            self.examples * self.tasks
        )?;
        writeln!(
            f,
            "2. The JSON Schema of `Triage`, from the Rust type (schemars):\n   {}\n",
            self.schema
        )?;
        writeln!(f, "3. SmolLM2-135M-Instruct, greedy, five ways:")?;
        writeln!(
            f,
            "   {:<17} {:>8} {:>7} {:>6} {:>8} {:>8} {:>7} {:>8} {:>10} {:>9} {:>12}",
            "approach",
            "correct",
            "given",
            "spam",
            "JSON 1st",
            "JSON end",
            "sender",
            "subject",
            "prompt tok",
            "reply tok",
            "per e-mail"
        )?;
        for m in &self.metrics {
            let json = |n: usize| {
                if m.approach.is_json() {
                    pct(n, m.emails)
                } else {
                    "–".into()
                }
            };
            writeln!(
                f,
                "   {:<17} {:>8} {:>7} {:>6} {:>8} {:>8} {:>7} {:>8} {:>10.0} {:>9.1} {:>9.0} ms",
                m.approach.name(),
                pct(m.label_correct, m.emails),
                pct(m.label_answered, m.emails),
                pct(m.said_spam, m.emails),
                json(m.valid_first),
                json(m.valid),
                json(m.sender_correct),
                json(m.subject_correct),
                m.prompt_tokens as f64 / m.emails.max(1) as f64,
                m.completion_tokens as f64 / m.emails.max(1) as f64,
                m.ms / m.emails.max(1) as f64
            )?;
        }
        writeln!(
            f,
            "   (correct: the label right; given: a label named at all; spam: answers saying spam — half the e-mails are)"
        )?;
        for w in &self.constrained_samples {
            writeln!(
                f,
                "   constrained, {} ({:?}): {:?} → {}",
                if w.right { "right" } else { "wrong" },
                w.truth,
                w.subject,
                w.reply
            )?;
        }
        writeln!(
            f,
            "\n4. Temperature: the e-mail {:?} ({:?}), {} samples at each temperature",
            self.study_subject,
            self.study_label,
            self.temperature.first().map_or(0, |p| p.samples)
        )?;
        writeln!(
            f,
            "   {:>5} {:>14} {:>10} {:>17} {:>16}",
            "T", "label given", "distinct", "most frequent", "JSON valid"
        )?;
        for p in &self.temperature {
            writeln!(
                f,
                "   {:>5.1} {:>14} {:>10} {:>17} {:>16}",
                p.temperature,
                pct(p.label_answered, p.samples),
                p.distinct,
                format!("{:.0} %", 100.0 * p.agreement),
                pct(p.json_valid, p.samples)
            )?;
        }
        let h = &self.http;
        writeln!(
            f,
            "\n5. Over HTTP (the OpenAI-compatible server on a loopback port, OpenAiClient): {} of {} zero-shot replies identical to the in-process model's ({:.0} ms per request)",
            h.same_as_local, h.requests, h.ms_per_request
        )?;
        let r = &self.repair;
        writeln!(
            f,
            "\n6. The repair loop against a scripted model: valid after {} replies ({} conversations seen)",
            r.attempts, self.repair_model_saw
        )?;
        for (i, e) in r.errors.iter().enumerate() {
            writeln!(f, "   reply {} refused: {e}", i + 1)?;
        }
        write!(
            f,
            "   final: {}",
            r.value.as_ref().map_or("none".into(), |v| v.to_string())
        )
    }
}
