//! The evaluation harness: runs a model behind the OpenAI-compatible API over a question set,
//! scores every answer (exact match, token F1, ROUGE-L against the gold sentence; groundedness in
//! the context), and writes the run: one JSON line per item, a summary, a Markdown report.

use crate::ground::lexical_groundedness;
use crate::quality::{exact_match, rouge_l, token_f1};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Instant;

/// One question of the set.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: String,
    pub question: String,
    /// The retrieved context; empty to ask the model without one.
    pub context: String,
    /// The gold answer (the sentence of the address that answers it).
    pub reference: String,
}

/// What the client saw of one request.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    pub text: String,
    pub status: u16,
    pub seconds: f64,
    pub first_token_seconds: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// How a request is sent.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub stream: bool,
    pub temperature: f64,
    pub seed: u64,
    pub max_tokens: usize,
}

/// The chat messages for an item: an instruction to answer from the context alone, or (without a
/// context) from what the model knows.
pub fn messages(item: &Item) -> Value {
    if item.context.is_empty() {
        json!([
            {"role": "system", "content": "Answer the question in one short sentence."},
            {"role": "user", "content": item.question},
        ])
    } else {
        json!([
            {"role": "system", "content": "Answer the question in one short sentence, using only the context."},
            {"role": "user", "content": format!("Context: {}\n\nQuestion: {}", item.context, item.question)},
        ])
    }
}

/// Sends one chat request to `base` and reads the answer (streamed or whole), timing it as the
/// client sees it.
pub async fn ask(client: &reqwest::Client, base: &str, body: &Value) -> anyhow::Result<Call> {
    let start = Instant::now();
    let mut response = client
        .post(format!("{base}/v1/chat/completions"))
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let stream = body["stream"].as_bool() == Some(true);
    let mut call = Call {
        text: String::new(),
        status,
        seconds: 0.0,
        first_token_seconds: None,
        prompt_tokens: 0,
        completion_tokens: 0,
    };
    if status != 200 || !stream {
        let v: Value = response.json().await.unwrap_or(Value::Null);
        call.text = v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        call.prompt_tokens = v
            .pointer("/usage/prompt_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        call.completion_tokens = v
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        call.seconds = start.elapsed().as_secs_f64();
        return Ok(call);
    }
    let mut pending = String::new();
    while let Some(chunk) = response.chunk().await? {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if let Some(delta) = event
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                && !delta.is_empty()
            {
                call.first_token_seconds
                    .get_or_insert(start.elapsed().as_secs_f64());
                call.text.push_str(delta);
            }
            if let Some(u) = event.get("usage").filter(|u| u.is_object()) {
                call.prompt_tokens = u["prompt_tokens"].as_u64().unwrap_or(0);
                call.completion_tokens = u["completion_tokens"].as_u64().unwrap_or(0);
            }
        }
    }
    call.seconds = start.elapsed().as_secs_f64();
    Ok(call)
}

/// The request body for `item`.
pub fn body(model: &str, item: &Item, how: Ask) -> Value {
    let mut b = json!({
        "model": model,
        "messages": messages(item),
        "max_tokens": how.max_tokens,
        "temperature": how.temperature,
        "seed": how.seed,
    });
    if how.stream {
        b["stream"] = json!(true);
        b["stream_options"] = json!({"include_usage": true});
    }
    b
}

/// One scored answer.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    pub id: String,
    pub answer: String,
    pub exact_match: f64,
    pub f1: f64,
    pub rouge_l: f64,
    /// Lexical groundedness in the context (None when asked without one or the answer is empty).
    pub grounded: Option<f64>,
    pub seconds: f64,
    pub first_token_seconds: Option<f64>,
    pub completion_tokens: u64,
}

/// Scores `call` as the answer to `item`.
pub fn score(item: &Item, call: &Call) -> Scored {
    Scored {
        id: item.id.clone(),
        answer: call.text.clone(),
        exact_match: exact_match(&call.text, &item.reference),
        f1: token_f1(&call.text, &item.reference),
        rouge_l: rouge_l(&call.text, &item.reference).f,
        grounded: lexical_groundedness(&call.text, &item.context).ok(),
        seconds: call.seconds,
        first_token_seconds: call.first_token_seconds,
        completion_tokens: call.completion_tokens,
    }
}

/// The means of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub items: usize,
    pub exact_match: f64,
    pub f1: f64,
    pub rouge_l: f64,
    pub grounded: f64,
    /// Answers whose least supported claim has less than half its words in the context.
    pub ungrounded: usize,
    pub mean_seconds: f64,
}

/// The means of `scored` (an error if it is empty).
pub fn summarise(scored: &[Scored]) -> anyhow::Result<Summary> {
    anyhow::ensure!(!scored.is_empty(), "a run needs at least one scored item");
    let n = scored.len() as f64;
    let mean = |f: &dyn Fn(&Scored) -> f64| scored.iter().map(f).sum::<f64>() / n;
    let grounded: Vec<f64> = scored.iter().filter_map(|s| s.grounded).collect();
    Ok(Summary {
        items: scored.len(),
        exact_match: mean(&|s| s.exact_match),
        f1: mean(&|s| s.f1),
        rouge_l: mean(&|s| s.rouge_l),
        grounded: grounded.iter().sum::<f64>() / grounded.len().max(1) as f64,
        ungrounded: grounded.iter().filter(|g| **g < 0.5).count(),
        mean_seconds: mean(&|s| s.seconds),
    })
}

/// Writes a run to `dir`: `items.jsonl` (one scored item a line), `summary.json` and `report.md`
/// (the summary and the five weakest answers by F1, for a reader).
pub fn write_run(
    dir: &Path,
    items: &[Item],
    scored: &[Scored],
    summary: &Summary,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut lines = String::new();
    for s in scored {
        lines.push_str(&serde_json::to_string(s)?);
        lines.push('\n');
    }
    std::fs::write(dir.join("items.jsonl"), lines)?;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(summary)?,
    )?;
    let mut md = format!(
        "# Evaluation run\n\n| items | exact match | token F1 | ROUGE-L | groundedness | ungrounded | mean latency |\n|---|---|---|---|---|---|---|\n| {} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {:.2} s |\n\n## The weakest answers\n\n",
        summary.items,
        summary.exact_match,
        summary.f1,
        summary.rouge_l,
        summary.grounded,
        summary.ungrounded,
        summary.mean_seconds
    );
    let mut order: Vec<usize> = (0..scored.len()).collect();
    order.sort_by(|&a, &b| scored[a].f1.total_cmp(&scored[b].f1));
    for &i in order.iter().take(5) {
        let q = items.iter().find(|it| it.id == scored[i].id);
        md.push_str(&format!(
            "- **{}** {}\n  - answer: {}\n  - gold: {}\n  - F1 {:.3}, groundedness {}\n",
            scored[i].id,
            q.map(|q| q.question.as_str()).unwrap_or(""),
            scored[i].answer.trim(),
            q.map(|q| q.reference.as_str()).unwrap_or(""),
            scored[i].f1,
            scored[i].grounded.map_or("—".into(), |g| format!("{g:.2}")),
        ));
    }
    std::fs::write(dir.join("report.md"), md)?;
    Ok(())
}
