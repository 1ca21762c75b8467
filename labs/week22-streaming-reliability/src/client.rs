//! A client of the gateway: reads a stream and checks it (ids in order, none missing, one end),
//! and sends a whole request with retries and an idempotency key, the way a careful caller does.

use crate::retry::{Failure, RetryPolicy};
use crate::upstream::find_blank_line;
use rand::Rng;
use serde_json::Value;
use std::time::{Duration, Instant};

/// One stream as the client saw it.
#[derive(Debug, Clone, Default)]
pub struct Streamed {
    pub status: u16,
    /// The ids of every event, in arrival order.
    pub ids: Vec<u64>,
    /// The `text` events' pieces, in order.
    pub texts: Vec<String>,
    /// The `done` event's document.
    pub done: Option<Value>,
    /// The `error` event's document, or the body of a refused request.
    pub error: Option<Value>,
    /// Events after `done` or `error` (a stream must end with exactly one of them).
    pub after_end: usize,
    /// Whether the body ended without `done` or `error` (cut off).
    pub cut: bool,
    /// From sending to the first `text` event, and to the end (ms).
    pub first_text_ms: Option<f64>,
    pub total_ms: f64,
}

impl Streamed {
    /// Whether the ids are 1, 2, 3, … with none missing or repeated.
    pub fn in_order(&self) -> bool {
        self.ids
            .iter()
            .enumerate()
            .all(|(i, id)| *id == i as u64 + 1)
    }

    /// Ended exactly once, by `done` or `error`.
    pub fn ended_once(&self) -> bool {
        (self.done.is_some() ^ self.error.is_some()) && self.after_end == 0 && !self.cut
    }
}

/// The events of an SSE block: `(event, id, data)`.
fn parse_event(block: &str) -> (String, Option<u64>, String) {
    let mut event = String::from("message");
    let mut id = None;
    let mut data = Vec::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (event, id, data.join("\n"))
}

/// Posts `body` (with `"stream": true`) to the gateway at `base` and reads the stream; stops
/// reading after `stop_after` text events when given (the client going away mid-answer).
pub async fn chat_streamed(
    client: &reqwest::Client,
    base: &str,
    body: &Value,
    key: Option<&str>,
    stop_after: Option<usize>,
) -> reqwest::Result<Streamed> {
    let started = Instant::now();
    let mut request = client.post(format!("{base}/v1/chat")).json(body);
    if let Some(k) = key {
        request = request.header("idempotency-key", k);
    }
    let mut response = request.send().await?;
    let mut out = Streamed {
        status: response.status().as_u16(),
        ..Streamed::default()
    };
    if out.status != 200 {
        out.error = Some(response.json().await.unwrap_or_default());
        out.total_ms = started.elapsed().as_secs_f64() * 1e3;
        return Ok(out);
    }
    let mut buffer = Vec::new();
    let mut ended = false;
    'read: loop {
        let chunk = match response.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) | Err(_) => break,
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = find_blank_line(&buffer) {
            let block: Vec<u8> = buffer.drain(..end).collect();
            let (event, id, data) = parse_event(&String::from_utf8_lossy(&block));
            if data.is_empty() {
                continue;
            }
            if ended {
                out.after_end += 1;
                continue;
            }
            out.ids.extend(id);
            let value: Value = serde_json::from_str(&data).unwrap_or(Value::String(data));
            match event.as_str() {
                "text" => {
                    out.first_text_ms
                        .get_or_insert_with(|| started.elapsed().as_secs_f64() * 1e3);
                    out.texts
                        .push(value["text"].as_str().unwrap_or_default().to_string());
                    if stop_after.is_some_and(|n| out.texts.len() >= n) {
                        break 'read;
                    }
                }
                "done" => {
                    out.done = Some(value);
                    ended = true;
                }
                "error" => {
                    out.error = Some(value);
                    ended = true;
                }
                _ => {}
            }
        }
    }
    out.cut = !ended && stop_after.is_none();
    out.total_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(out)
}

/// A whole (not streamed) request sent until it succeeds or the policy gives up: the same
/// `key` every time (none: the request is sent bare), waits drawn by the policy. Returns the
/// last status, its body and the attempts made.
pub async fn chat_with_retries(
    client: &reqwest::Client,
    base: &str,
    body: &Value,
    key: Option<&str>,
    policy: &RetryPolicy,
    rng: &mut (impl Rng + Send),
) -> (u16, Value, u32) {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut request = client.post(format!("{base}/v1/chat"));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let sent = request
            .json(body)
            .timeout(policy.attempt_timeout)
            .send()
            .await;
        let (failure, status, value) = match sent {
            Err(e) => (
                if e.is_timeout() {
                    Failure::Timeout
                } else {
                    Failure::Connect(e.to_string())
                },
                0,
                Value::Null,
            ),
            Ok(r) => {
                let status = r.status().as_u16();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse::<f64>().ok())
                    .map(|s| Duration::from_secs_f64(s.clamp(0.0, 60.0)));
                match r.json::<Value>().await {
                    Ok(v) if status == 200 => return (status, v, attempt),
                    Ok(v) => (
                        Failure::Status {
                            code: status,
                            retry_after,
                        },
                        status,
                        v,
                    ),
                    // The answer was cut off: the request may have run; the key makes the retry safe.
                    Err(_) => (Failure::Truncated, status, Value::Null),
                }
            }
        };
        // 409: the first attempt is still running at the gateway; waiting is the answer.
        let retryable = failure.retryable() || status == 409;
        let wait = policy
            .wait(attempt - 1, &failure, rng)
            .max(if status == 409 {
                Duration::from_millis(50)
            } else {
                Duration::ZERO
            });
        if !retryable
            || attempt >= policy.max_attempts
            || started.elapsed() + wait >= policy.deadline
        {
            return (status, value, attempt);
        }
        tokio::time::sleep(wait).await;
    }
}
