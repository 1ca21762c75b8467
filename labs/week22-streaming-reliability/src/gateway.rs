//! The gateway (axum): `POST /v1/chat` answers a prompt from the model server behind it, whole
//! or streamed as server-sent events, with guardrails on the way in and out, idempotency keys,
//! and the resilient [`Upstream`] client in between; `GET /healthz` reports its counters.
//!
//! The stream: `text` events with ids 1, 2, 3, … (the client checks they arrive in order, none
//! missing), then exactly one `done` (the whole answer, attempts, redactions, violations) or one
//! `error`. A client that goes away drops the stream; the next piece of text finds no one to
//! take it, the upstream call is cancelled and its connection closed, and the model server
//! stops generating at its next token.
//!
//! Status codes: 400 for a body that is not the request (the field named), 409 for a key whose
//! request is still running, 413 for a body over 1 MiB, 422 for a request the guardrails refuse
//! (or a key reused with another body), 502/503/504 when the model server failed (503 with
//! `Retry-After` while the breaker is open, 504 when the deadline passed).

use crate::guard::{OutputRules, PiiKind, Violation, check_output, find_pii, injection, redact};
use crate::idempotency::{Claim, Keys};
use crate::retry::Failure;
use crate::upstream::{Call, CallError, Upstream};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// The largest request body.
pub const MAX_BODY: usize = 1 << 20;
/// The longest prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 8000;
/// The most tokens an answer may ask for.
pub const MAX_TOKENS: usize = 512;

/// A request to `POST /v1/chat`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    pub prompt: String,
    #[serde(default)]
    pub system: Option<String>,
    /// Default 64, at most [`MAX_TOKENS`].
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub stream: bool,
    /// A JSON Schema the answer must satisfy (the model is constrained to it, and the gateway
    /// checks it again).
    #[serde(default)]
    pub schema: Option<Value>,
    /// The most characters the answer may have.
    #[serde(default)]
    pub max_chars: Option<usize>,
}

/// The gateway's counters (beside the upstream's).
#[derive(Debug, Default)]
pub struct GatewayStats {
    /// Streams being sent now.
    pub active_streams: AtomicI64,
    /// Requests refused by the injection heuristics.
    pub refused_injection: AtomicU64,
    /// Prompts in which personal data was redacted.
    pub redacted_prompts: AtomicU64,
    /// Answers replayed for an idempotency key.
    pub replayed: AtomicU64,
    /// Streams whose client went away before the end.
    pub abandoned: AtomicU64,
}

/// The gateway's shared state.
#[derive(Clone)]
pub struct Gateway {
    pub upstream: Arc<Upstream>,
    pub keys: Keys,
    pub stats: Arc<GatewayStats>,
    /// Refuse prompts the injection heuristics flag (otherwise they are only counted).
    pub block_injection: bool,
}

impl Gateway {
    pub fn new(upstream: Upstream, keys: Keys) -> Self {
        Self {
            upstream: Arc::new(upstream),
            keys,
            stats: Arc::new(GatewayStats::default()),
            block_injection: true,
        }
    }

    /// The gateway's routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/chat", post(chat))
            .route("/healthz", get(healthz))
            .fallback(|| async {
                refuse(
                    StatusCode::NOT_FOUND,
                    "no such route: the gateway answers POST /v1/chat and GET /healthz",
                )
            })
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self)
    }
}

/// An error answer: `{"error": message}` with `status`.
fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// The status a failed upstream call is answered with.
fn failed_status(e: &CallError) -> StatusCode {
    match e {
        CallError::Failed {
            last: Failure::BreakerOpen,
            ..
        } => StatusCode::SERVICE_UNAVAILABLE,
        CallError::Failed {
            last: Failure::Timeout,
            ..
        } => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    }
}

fn failed_json(e: &CallError) -> Value {
    match e {
        CallError::Failed { last, attempts, .. } => {
            json!({"error": e.to_string(), "kind": last.kind(), "attempts": attempts})
        }
        CallError::Cancelled { attempts } => {
            json!({"error": e.to_string(), "kind": "cancelled", "attempts": attempts})
        }
    }
}

/// A request checked and prepared for the model.
struct Prepared {
    call: Call,
    rules: OutputRules,
    redacted: Vec<PiiKind>,
    stream: bool,
}

/// Checks the body; `Err` is the answer refusing it (boxed: a response is large).
fn prepare(gateway: &Gateway, body: &Value) -> Result<Prepared, Box<Response>> {
    let request: ChatBody = serde_path_to_error::deserialize(body).map_err(|e| {
        Box::new(refuse(
            StatusCode::BAD_REQUEST,
            format!("field `{}`: {}", e.path(), e.inner()),
        ))
    })?;
    let unprocessable = |m: String| Box::new(refuse(StatusCode::UNPROCESSABLE_ENTITY, m));
    if request.prompt.trim().is_empty() {
        return Err(unprocessable(
            "`prompt`: expected some text, got none".into(),
        ));
    }
    let chars = request.prompt.chars().count();
    if chars > MAX_PROMPT_CHARS {
        return Err(unprocessable(format!(
            "`prompt`: expected at most {MAX_PROMPT_CHARS} characters, got {chars}"
        )));
    }
    let max_tokens = request.max_tokens.unwrap_or(64);
    if !(1..=MAX_TOKENS).contains(&max_tokens) {
        return Err(unprocessable(format!(
            "`max_tokens`: expected 1 to {MAX_TOKENS}, got {max_tokens}"
        )));
    }
    if let Some(schema) = &request.schema
        && let Err(e) = crate::wb_llm::constrain::Node::compile(schema)
    {
        return Err(unprocessable(format!("`schema`: {e}")));
    }
    let mut texts = vec![request.prompt.as_str()];
    texts.extend(request.system.as_deref());
    for text in texts {
        let found = injection(text);
        if found.flagged {
            gateway
                .stats
                .refused_injection
                .fetch_add(1, Ordering::SeqCst);
            if gateway.block_injection {
                return Err(Box::new(
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        axum::Json(json!({
                            "error": "the prompt looks like a prompt injection",
                            "rules": found.rules,
                        })),
                    )
                        .into_response(),
                ));
            }
        }
    }
    let findings = find_pii(&request.prompt);
    let mut redacted: Vec<PiiKind> = findings.iter().map(|f| f.kind).collect();
    redacted.sort();
    redacted.dedup();
    if !findings.is_empty() {
        gateway
            .stats
            .redacted_prompts
            .fetch_add(1, Ordering::SeqCst);
    }
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": redact(&request.prompt, &findings)}));
    Ok(Prepared {
        call: Call {
            messages,
            max_tokens,
            schema: request.schema.clone(),
        },
        rules: OutputRules {
            max_chars: request.max_chars,
            schema: request.schema,
            no_pii: true,
        },
        redacted,
        stream: request.stream,
    })
}

/// The `done` document of an answer.
fn done_json(
    answer: &crate::upstream::Answer,
    redacted: &[PiiKind],
    violations: &[Violation],
) -> Value {
    json!({
        "answer": answer.text,
        "finish": answer.finish,
        "attempts": answer.attempts,
        "retried": answer.retried,
        "redacted": redacted,
        "violations": violations,
        "replayed": false,
    })
}

/// `POST /v1/chat`.
async fn chat(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return refuse(e.status(), e.body_text()),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let prepared = match prepare(&gateway, &value) {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.trim().is_empty() && k.len() <= 255 => Some(k.to_string()),
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "header `Idempotency-Key`: expected 1 to 255 visible ASCII characters",
            );
        }
    };
    let ticket = match key.as_deref().map(|k| gateway.keys.claim(k, &value)) {
        None => None,
        Some(Claim::Run(t)) => Some(t),
        Some(Claim::Replay(mut done)) => {
            gateway.stats.replayed.fetch_add(1, Ordering::SeqCst);
            done["replayed"] = json!(true);
            return replay(done, prepared.stream);
        }
        Some(Claim::InFlight) => {
            let mut r = refuse(
                StatusCode::CONFLICT,
                "a request with this Idempotency-Key is running: try again when it has finished",
            );
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            return r;
        }
        Some(Claim::Mismatch) => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was used with another request body",
            );
        }
    };
    if prepared.stream {
        return stream(gateway, prepared, ticket);
    }
    match gateway.upstream.chat(&prepared.call, &mut |_| true).await {
        Ok(answer) => {
            let violations = check_output(&answer.text, &prepared.rules).unwrap_or_default();
            let done = done_json(&answer, &prepared.redacted, &violations);
            if let Some(t) = ticket {
                t.finish(done.clone());
            }
            axum::Json(done).into_response()
        }
        Err(e) => {
            let mut r = (failed_status(&e), axum::Json(failed_json(&e))).into_response();
            if failed_status(&e) == StatusCode::SERVICE_UNAVAILABLE {
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from_static("1"));
            }
            r
        }
    }
}

/// A stored answer sent again: whole, or as a stream of one text event and its `done`.
fn replay(done: Value, stream: bool) -> Response {
    let mut r = if stream {
        let text = done["answer"].as_str().unwrap_or_default().to_string();
        let events = vec![
            Event::default()
                .id("1")
                .event("text")
                .data(json!({ "text": text }).to_string()),
            Event::default()
                .id("2")
                .event("done")
                .data(done.to_string()),
        ];
        Sse::new(futures_util::stream::iter(
            events.into_iter().map(Ok::<_, Infallible>),
        ))
        .into_response()
    } else {
        axum::Json(done).into_response()
    };
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    r
}

enum Step {
    Text(String),
    End(Event),
}

/// Counts a stream as active while it lives.
struct Active(Arc<GatewayStats>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Streams the answer: a task calls the model and sends each piece down a channel; the SSE
/// body reads the channel. A client that goes away drops the body, so the task's next send
/// fails and the call is cancelled.
fn stream(
    gateway: Gateway,
    prepared: Prepared,
    ticket: Option<crate::idempotency::Ticket>,
) -> Response {
    let (tx, rx) = mpsc::unbounded_channel::<Step>();
    gateway.stats.active_streams.fetch_add(1, Ordering::SeqCst);
    let active = Active(gateway.stats.clone());
    tokio::spawn(async move {
        let _active = active;
        let sink = tx.clone();
        let result = gateway
            .upstream
            .chat(&prepared.call, &mut |t| {
                sink.send(Step::Text(t.to_string())).is_ok()
            })
            .await;
        let end = match result {
            Ok(answer) => {
                let violations = check_output(&answer.text, &prepared.rules).unwrap_or_default();
                let done = done_json(&answer, &prepared.redacted, &violations);
                if let Some(t) = ticket {
                    t.finish(done.clone());
                }
                Event::default().event("done").data(done.to_string())
            }
            Err(CallError::Cancelled { .. }) => {
                gateway.stats.abandoned.fetch_add(1, Ordering::SeqCst);
                return;
            }
            Err(e) => Event::default()
                .event("error")
                .data(failed_json(&e).to_string()),
        };
        let _ = tx.send(Step::End(end));
    });
    let events = futures_util::stream::unfold((rx, 0u64, false), |(mut rx, n, ended)| async move {
        if ended {
            return None;
        }
        let step = rx.recv().await?;
        let n = n + 1;
        let (event, ended) = match step {
            Step::Text(t) => (
                Event::default()
                    .id(n.to_string())
                    .event("text")
                    .data(json!({ "text": t }).to_string()),
                false,
            ),
            Step::End(e) => (e.id(n.to_string()), true),
        };
        Some((Ok::<_, Infallible>(event), (rx, n, ended)))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
        .into_response()
}

/// `GET /healthz`: the gateway's and the upstream client's counters.
async fn healthz(State(gateway): State<Gateway>) -> axum::Json<Value> {
    let up = &gateway.upstream;
    let s = &gateway.stats;
    let failures = up
        .stats
        .failures
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    axum::Json(json!({
        "breaker": up.breaker().map(|(state, _)| state),
        "breaker_refused": up.breaker().map(|(_, refused)| refused),
        "budget": up.budget().map(|b| b.balance()),
        "calls": up.stats.calls.load(Ordering::SeqCst),
        "attempts": up.stats.attempts.load(Ordering::SeqCst),
        "succeeded": up.stats.succeeded.load(Ordering::SeqCst),
        "failures": failures,
        "open_upstream_streams": up.stats.open_streams.load(Ordering::SeqCst),
        "active_streams": s.active_streams.load(Ordering::SeqCst),
        "abandoned_streams": s.abandoned.load(Ordering::SeqCst),
        "refused_injection": s.refused_injection.load(Ordering::SeqCst),
        "redacted_prompts": s.redacted_prompts.load(Ordering::SeqCst),
        "replayed": s.replayed.load(Ordering::SeqCst),
        "keys": gateway.keys.len(),
    }))
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
