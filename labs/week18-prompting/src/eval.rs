//! The approaches side by side, through the `ChatModel` interface: any backend (the local model,
//! an OpenAI-compatible server, a scripted model) answers the same conversations.

use crate::PromptError;
use crate::email::{Email, Label};
use crate::prompts::{Prompts, Task, few_shot_messages, parse_label, zero_shot_messages};
use crate::repair::ask_json;
use crate::schema::{Triage, validate};
use serde::Serialize;
use serde_json::Value;
use std::time::Instant;
use wb_llm::{ChatModel, FinishReason, GenerateOptions, Message};

/// One way of getting the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Approach {
    /// The instruction alone; a one-word answer.
    ZeroShot,
    /// The instruction after labelled examples chosen by similarity; a one-word answer.
    FewShot,
    /// JSON asked for in the prompt, validated, and sent back with the error until valid.
    JsonRepair,
    /// The same after examples answered in JSON (chosen by similarity).
    JsonFewShot,
    /// JSON by constrained decoding: tokens that would break the schema are never sampled.
    Constrained,
}

impl Approach {
    pub const ALL: [Approach; 5] = [
        Approach::ZeroShot,
        Approach::FewShot,
        Approach::JsonRepair,
        Approach::JsonFewShot,
        Approach::Constrained,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Approach::ZeroShot => "zero-shot",
            Approach::FewShot => "few-shot",
            Approach::JsonRepair => "JSON + repair",
            Approach::JsonFewShot => "few-shot JSON",
            Approach::Constrained => "constrained JSON",
        }
    }

    pub fn is_json(self) -> bool {
        matches!(
            self,
            Approach::JsonRepair | Approach::JsonFewShot | Approach::Constrained
        )
    }
}

/// Replies the repair loop asks for at most.
pub const REPAIR_ATTEMPTS: usize = 2;

/// One e-mail's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub label: Option<Label>,
    pub sender: Option<String>,
    pub subject: Option<String>,
    /// For JSON: the first reply was valid for the schema.
    pub valid_first: bool,
    /// For JSON: a valid document came in the end.
    pub valid: bool,
    pub attempts: usize,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub ms: f64,
    /// The reply as the model wrote it; for the repair loop, the error of its last refused reply
    /// (empty when the first was valid).
    pub text: String,
}

/// Generation settings: greedy unless `temperature` > 0; one word is 8 tokens at most, a JSON
/// object 80.
pub fn options(approach: Approach, temperature: f64, seed: u64) -> GenerateOptions {
    GenerateOptions {
        max_tokens: if approach.is_json() { 80 } else { 8 },
        temperature,
        seed,
        ..GenerateOptions::default()
    }
}

/// The conversation of `approach` for `email` (`examples` only matter for few-shot).
pub fn messages(
    prompts: &Prompts,
    approach: Approach,
    email: &Email,
    examples: &[&Email],
) -> Result<Vec<Message>, PromptError> {
    match approach {
        Approach::ZeroShot => zero_shot_messages(prompts, Task::Classify, email),
        Approach::FewShot => few_shot_messages(prompts, Task::Classify, examples, email),
        Approach::JsonRepair => zero_shot_messages(prompts, Task::Extract, email),
        Approach::Constrained => zero_shot_messages(prompts, Task::ExtractConstrained, email),
        Approach::JsonFewShot => few_shot_messages(prompts, Task::Extract, examples, email),
    }
}

/// Asks `model` for `email`'s answer by `approach`.
pub fn answer(
    model: &mut dyn ChatModel,
    prompts: &Prompts,
    approach: Approach,
    email: &Email,
    examples: &[&Email],
    schema: &Value,
    opts: &GenerateOptions,
) -> Result<Answer, PromptError> {
    let conversation = messages(prompts, approach, email, examples)?;
    let start = Instant::now();
    let mut a = Answer {
        label: None,
        sender: None,
        subject: None,
        valid_first: false,
        valid: false,
        attempts: 1,
        prompt_tokens: 0,
        completion_tokens: 0,
        ms: 0.0,
        text: String::new(),
    };
    let doc = match approach {
        Approach::ZeroShot | Approach::FewShot => {
            let reply = model.chat(&conversation, opts)?;
            a.label = parse_label(&reply.text);
            a.prompt_tokens = reply.prompt_tokens;
            a.completion_tokens = reply.completion_tokens;
            a.text = reply.text;
            None
        }
        Approach::JsonRepair | Approach::JsonFewShot => {
            let out = ask_json(model, prompts, &conversation, schema, opts, REPAIR_ATTEMPTS)?;
            a.attempts = out.attempts;
            a.valid_first = out.value.is_some() && out.attempts == 1;
            a.prompt_tokens = out.prompt_tokens;
            a.completion_tokens = out.completion_tokens;
            a.text = out.errors.last().cloned().unwrap_or_default();
            out.value
        }
        Approach::Constrained => {
            let reply = model.chat_json(&conversation, schema, opts)?;
            a.prompt_tokens = reply.prompt_tokens;
            a.completion_tokens = reply.completion_tokens;
            let doc = serde_json::from_str::<Value>(&reply.text)
                .ok()
                .filter(|d| reply.finish != FinishReason::Length && validate(d, schema).is_ok());
            a.valid_first = doc.is_some();
            a.text = reply.text;
            doc
        }
    };
    if let Some(doc) = doc {
        a.valid = true;
        if let Ok(t) = serde_json::from_value::<Triage>(doc) {
            a.label = Some(t.label);
            a.sender = Some(t.sender);
            a.subject = Some(t.subject);
        }
    }
    a.ms = start.elapsed().as_secs_f64() * 1e3;
    Ok(a)
}

/// One approach's results over the task set.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub approach: Approach,
    pub emails: usize,
    pub label_correct: usize,
    /// Answers that named a label at all.
    pub label_answered: usize,
    /// Answers that said spam (a model that always says one word scores 50 % on a balanced set).
    pub said_spam: usize,
    pub valid_first: usize,
    pub valid: usize,
    pub sender_correct: usize,
    pub subject_correct: usize,
    pub attempts: usize,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub ms: f64,
}

impl Metrics {
    pub fn new(approach: Approach) -> Self {
        Self {
            approach,
            emails: 0,
            label_correct: 0,
            label_answered: 0,
            said_spam: 0,
            valid_first: 0,
            valid: 0,
            sender_correct: 0,
            subject_correct: 0,
            attempts: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            ms: 0.0,
        }
    }

    /// Adds one e-mail's answer.
    pub fn add(&mut self, email: &Email, a: &Answer) {
        self.emails += 1;
        self.label_answered += usize::from(a.label.is_some());
        self.label_correct += usize::from(a.label == Some(email.label));
        self.said_spam += usize::from(a.label == Some(Label::Spam));
        self.valid_first += usize::from(a.valid_first);
        self.valid += usize::from(a.valid);
        self.sender_correct += usize::from(
            a.sender
                .as_deref()
                .is_some_and(|s| s.trim().eq_ignore_ascii_case(&email.sender)),
        );
        self.subject_correct += usize::from(
            a.subject
                .as_deref()
                .is_some_and(|s| s.trim() == email.subject),
        );
        self.attempts += a.attempts;
        self.prompt_tokens += a.prompt_tokens;
        self.completion_tokens += a.completion_tokens;
        self.ms += a.ms;
    }

    /// `count` as a share of the e-mails.
    pub fn rate(&self, count: usize) -> f64 {
        count as f64 / self.emails.max(1) as f64
    }
}

/// What sampling at one temperature gave, over `samples` seeds.
#[derive(Debug, Clone, Serialize)]
pub struct TemperaturePoint {
    pub temperature: f64,
    pub samples: usize,
    /// One-word answers that named a label.
    pub label_answered: usize,
    /// Answers equal to the most frequent answer (1 = always the same).
    pub agreement: f64,
    /// Different answers (exact text).
    pub distinct: usize,
    /// Few-shot JSON replies (not constrained, no repair) valid for the schema.
    pub json_valid: usize,
}

/// The same e-mail answered `samples` times at each temperature: zero-shot in one word, and as
/// few-shot JSON (without repair).
pub fn temperature_study(
    model: &mut dyn ChatModel,
    prompts: &Prompts,
    email: &Email,
    examples: &[&Email],
    temperatures: &[f64],
    samples: usize,
    schema: &Value,
) -> Result<Vec<TemperaturePoint>, PromptError> {
    let mut out = Vec::new();
    for &t in temperatures {
        let mut answers: Vec<String> = Vec::new();
        let mut label_answered = 0;
        let mut json_valid = 0;
        for seed in 0..samples as u64 {
            let conv = messages(prompts, Approach::ZeroShot, email, &[])?;
            let reply = model.chat(&conv, &options(Approach::ZeroShot, t, seed))?;
            label_answered += usize::from(parse_label(&reply.text).is_some());
            answers.push(reply.text.trim().to_string());
            let conv = messages(prompts, Approach::JsonFewShot, email, examples)?;
            let reply = model.chat(&conv, &options(Approach::JsonFewShot, t, seed))?;
            json_valid += usize::from(
                crate::schema::extract_json(&reply.text)
                    .is_some_and(|d| validate(&d, schema).is_ok()),
            );
        }
        let mut counts = std::collections::HashMap::new();
        for a in &answers {
            *counts.entry(a.as_str()).or_insert(0usize) += 1;
        }
        out.push(TemperaturePoint {
            temperature: t,
            samples,
            label_answered,
            agreement: counts.values().copied().max().unwrap_or(0) as f64 / samples.max(1) as f64,
            distinct: counts.len(),
            json_valid,
        });
    }
    Ok(out)
}
