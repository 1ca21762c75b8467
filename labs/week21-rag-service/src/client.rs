//! A client of the service's streamed answers: reads `POST /v1/query` with `"stream": true` as
//! server-sent events, timing the first text and the end (what the lab and its checks measure).

use serde_json::Value;
use std::time::Instant;

/// One streamed answer as the client saw it.
#[derive(Debug, Clone, Default)]
pub struct Streamed {
    pub status: u16,
    /// The `passages` event's list.
    pub passages: Vec<Value>,
    /// The `text` events, in order.
    pub texts: Vec<String>,
    /// The `done` event's answer.
    pub done: Option<Value>,
    /// The `error` event's message, or the body of a refused request.
    pub error: Option<String>,
    /// Events after `done` or `error` (a stream must end with exactly one of them).
    pub after_end: usize,
    /// From sending the request to the first `text` event, and to the end of the stream (ms).
    pub first_text_ms: Option<f64>,
    pub total_ms: f64,
}

/// The events of an SSE body so far: `(event, data)` for each complete event; the unfinished
/// tail stays in `buffer`.
pub fn take_events(buffer: &mut String) -> Vec<(String, String)> {
    // Lines may end in CRLF (the SSE format allows both): read them as LF.
    if buffer.contains("\r\n") {
        *buffer = buffer.replace("\r\n", "\n");
    }
    let mut out = Vec::new();
    while let Some(end) = buffer.find("\n\n") {
        let block: String = buffer.drain(..end + 2).collect();
        let mut event = String::from("message");
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if !data.is_empty() {
            out.push((event, data.join("\n")));
        }
    }
    out
}

/// Asks `question` of the service at `base`, streamed; stops reading after `stop_after` text
/// events when given (the client going away mid-answer).
pub async fn ask_streamed(
    client: &reqwest::Client,
    base: &str,
    question: &str,
    stop_after: Option<usize>,
) -> reqwest::Result<Streamed> {
    let started = Instant::now();
    let mut response = client
        .post(format!("{base}/v1/query"))
        .json(&serde_json::json!({ "question": question, "stream": true }))
        .send()
        .await?;
    let mut out = Streamed {
        status: response.status().as_u16(),
        ..Streamed::default()
    };
    if !response.status().is_success() {
        out.error = Some(response.text().await?);
        out.total_ms = started.elapsed().as_secs_f64() * 1e3;
        return Ok(out);
    }
    let mut buffer = String::new();
    let mut ended = false;
    while let Some(bytes) = response.chunk().await? {
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        for (event, data) in take_events(&mut buffer) {
            if ended {
                out.after_end += 1;
                continue;
            }
            let value: Value = serde_json::from_str(&data).unwrap_or(Value::String(data));
            match event.as_str() {
                "passages" => out.passages = value.as_array().cloned().unwrap_or_default(),
                "text" => {
                    out.first_text_ms
                        .get_or_insert_with(|| started.elapsed().as_secs_f64() * 1e3);
                    out.texts
                        .push(value["text"].as_str().unwrap_or_default().to_string());
                }
                "done" => {
                    out.done = Some(value);
                    ended = true;
                }
                "error" => {
                    out.error = Some(value["error"].as_str().unwrap_or_default().to_string());
                    ended = true;
                }
                _ => {}
            }
        }
        if stop_after.is_some_and(|n| out.texts.len() >= n) {
            break;
        }
    }
    out.total_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(out)
}
