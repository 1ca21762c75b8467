//! Monitoring a running LLM service from the outside: a middleware in front of the OpenAI-compatible
//! server of `wb-llm` (the week 21 service pattern) that times every chat request, finds the first
//! token in a streamed answer, reads the token usage the server reports, prices it, and exports
//! it all at `GET /metrics` for Prometheus — without one line changed in the handlers.

use crate::monitor::{LlmMetrics, Outcome};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// Nano-dollars per prompt token and per completion token: week 24's list price for SmolLM2
/// ($0.15 and $0.60 per million tokens).
pub const PRICE_PER_TOKEN: (u64, u64) = (150, 600);

/// What the middleware needs: the metrics, the model's name (the one label value the service
/// chooses, so that clients cannot grow the label set) and the largest body it reads.
pub struct Meter {
    pub metrics: LlmMetrics,
    pub model: String,
    pub max_body: usize,
}

impl Meter {
    fn observe(&self, status: &str, seconds: f64, first: Option<f64>, usage: (u64, u64)) {
        let (p, c) = usage;
        let cost = p
            .saturating_mul(PRICE_PER_TOKEN.0)
            .saturating_add(c.saturating_mul(PRICE_PER_TOKEN.1));
        // Times measured by `Instant` are finite and ≥ 0, the only outcomes `observe` refuses.
        let _ = self.metrics.observe(&Outcome {
            model: &self.model,
            status,
            seconds,
            first_token_seconds: first,
            prompt_tokens: p,
            completion_tokens: c,
            cost_nanodollars: cost,
        });
    }
}

/// `app` with `GET /metrics` added and every `POST /v1/chat/completions` measured.
pub fn instrument(app: Router, meter: Arc<Meter>) -> Router {
    let exposition = meter.clone();
    app.route(
        "/metrics",
        get(move || async move {
            match exposition.metrics.render() {
                Ok(text) => {
                    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
                }
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
            }
        }),
    )
    .layer(middleware::from_fn_with_state(meter, track))
}

/// The status label of an answer: "ok", or the kind of error its HTTP status says.
pub fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "ok",
        413 => "too_large",
        429 | 503 => "overloaded",
        400..=499 => "bad_request",
        _ => "server_error",
    }
}

/// The `usage` of a chat completion (prompt and completion tokens), if it has one.
fn usage_of(v: &Value) -> Option<(u64, u64)> {
    let u = v.get("usage")?;
    Some((
        u.get("prompt_tokens")?.as_u64()?,
        u.get("completion_tokens")?.as_u64()?,
    ))
}

// ANCHOR: track
async fn track(State(meter): State<Arc<Meter>>, request: Request, next: Next) -> Response {
    if request.uri().path() != "/v1/chat/completions" {
        return next.run(request).await;
    }
    let start = Instant::now();
    let (parts, body) = request.into_parts();
    // The request is read here (the server would read it anyway) to learn whether it streams.
    let Ok(bytes) = axum::body::to_bytes(body, meter.max_body).await else {
        meter.observe("too_large", start.elapsed().as_secs_f64(), None, (0, 0));
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let streamed = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("stream").and_then(Value::as_bool))
        == Some(true);
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    if !status.is_success() {
        meter.observe(
            status_label(status),
            start.elapsed().as_secs_f64(),
            None,
            (0, 0),
        );
        return response;
    }
    let (parts, body) = response.into_parts();
    if !streamed {
        // A whole answer: its usage says the tokens; there is no first token to see.
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            meter.observe("server_error", start.elapsed().as_secs_f64(), None, (0, 0));
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let usage = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .as_ref()
            .and_then(usage_of)
            .unwrap_or((0, 0));
        meter.observe("ok", start.elapsed().as_secs_f64(), None, usage);
        return Response::from_parts(parts, Body::from(bytes));
    }
    // A stream: each frame passes through `StreamMeter`, which records when the stream is
    // dropped — at its end, or when the client goes away ("cancelled").
    let mut watch = StreamMeter {
        meter,
        start,
        pending: String::new(),
        first_token: None,
        deltas: 0,
        usage: None,
        done: false,
    };
    let frames = body.into_data_stream().map(move |frame| {
        if let Ok(bytes) = &frame {
            watch.feed(bytes);
        }
        frame
    });
    Response::from_parts(parts, Body::from_stream(frames))
}
// ANCHOR_END: track

/// Reads a server-sent event stream as it passes: the first content delta is the first token.
struct StreamMeter {
    meter: Arc<Meter>,
    start: Instant,
    /// The start of a line that has not ended yet (frames need not end on a line).
    pending: String,
    first_token: Option<f64>,
    /// Content deltas seen: the completion tokens when the server reports no usage.
    deltas: u64,
    usage: Option<(u64, u64)>,
    done: bool,
}

impl StreamMeter {
    fn feed(&mut self, bytes: &Bytes) {
        self.pending.push_str(&String::from_utf8_lossy(bytes));
        while let Some(end) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=end).collect();
            let Some(data) = line.trim_end().strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                self.done = true;
                continue;
            }
            let Ok(event) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if let Some(u) = usage_of(&event) {
                self.usage = Some(u);
            }
            let content = event
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !content.is_empty() {
                self.deltas += 1;
                self.first_token
                    .get_or_insert_with(|| self.start.elapsed().as_secs_f64());
            }
        }
    }
}

impl Drop for StreamMeter {
    fn drop(&mut self) {
        let status = if self.done { "ok" } else { "cancelled" };
        let usage = self.usage.unwrap_or((0, self.deltas));
        self.meter.observe(
            status,
            self.start.elapsed().as_secs_f64(),
            self.first_token,
            usage,
        );
    }
}
