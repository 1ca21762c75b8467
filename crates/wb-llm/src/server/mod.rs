//! An OpenAI-compatible server for the local models (axum): `POST /v1/chat/completions` (whole
//! or streamed as server-sent events, tools, JSON-Schema output), `POST /v1/embeddings`,
//! `GET /v1/models`, `GET /healthz`.
//!
//! One thread owns the models and answers one request at a time, in order, from a bounded
//! queue: a request that finds the queue full is refused at once with 429 and `Retry-After`
//! (the queue's expected wait), not left to time out. A streamed request whose client goes
//! away stops its generation at the next token; a queued one whose client went away is
//! skipped. A request the runtime refuses is a 400 naming the field, in OpenAI's error shape.

pub mod api;

use crate::chat_model::{ChatModel, Reply};
use crate::embed::Embedder;
use crate::model::FinishReason;
use api::{ApiError, ChatJob, ChatRequest, EmbeddingInput, EmbeddingRequest, Output};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use futures_util::StreamExt as _;
use serde::Serialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// The embedding model's name in the API.
pub const EMBEDDING_MODEL: &str = "all-minilm-l6-v2";

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Requests that may wait for the model (the one being answered not counted).
    pub queue: usize,
    /// The largest request body, in bytes.
    pub max_body: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            queue: 8,
            max_body: 1 << 20,
        }
    }
}

/// Counters `GET /healthz` reports.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests waiting for the model.
    pub queued: AtomicU64,
    /// 1 while the model works on a request.
    pub busy: AtomicU64,
    /// Requests answered to the end.
    pub completed: AtomicU64,
    /// Generations stopped because their client went away (or skipped, still queued).
    pub cancelled: AtomicU64,
    /// Requests refused because the queue was full.
    pub rejected: AtomicU64,
    /// The mean time of a request's work, in milliseconds (an exponential average).
    pub mean_ms: AtomicU64,
}

/// What a chat job sends back while the model works on it.
enum Progress {
    Text(String),
    Done(crate::Result<Reply>),
}

enum Job {
    Chat {
        job: ChatJob,
        events: mpsc::UnboundedSender<Progress>,
    },
    Embed {
        texts: Vec<String>,
        reply: oneshot::Sender<crate::Result<(Vec<Vec<f32>>, usize)>>,
    },
}

#[derive(Clone)]
struct AppState {
    jobs: mpsc::Sender<Job>,
    stats: Arc<Stats>,
    chat_model: String,
    embeddings: bool,
    next_id: Arc<AtomicU64>,
}

/// The server's routes, and the thread that owns the models (it ends once the router and every
/// request in it are gone, after the queued work is done).
pub fn router(
    chat: Box<dyn ChatModel + Send>,
    embedder: Option<Embedder>,
    config: &Config,
) -> (Router, Arc<Stats>, std::thread::JoinHandle<()>) {
    let (jobs, queue) = mpsc::channel(config.queue.max(1));
    let stats = Arc::new(Stats::default());
    let state = AppState {
        jobs,
        stats: stats.clone(),
        chat_model: chat.name().to_string(),
        embeddings: embedder.is_some(),
        next_id: Arc::new(AtomicU64::new(1)),
    };
    let worker = {
        let stats = stats.clone();
        std::thread::Builder::new()
            .name("model".into())
            .spawn(move || work(chat, embedder, queue, &stats))
            .expect("spawning the model thread")
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/v1/models/{id}", get(model))
        .route("/healthz", get(healthz))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route: the server answers /v1/chat/completions, /v1/embeddings, /v1/models and /healthz",
            )
        })
        .layer(DefaultBodyLimit::max(config.max_body))
        .with_state(state);
    (app, stats, worker)
}

/// The model thread: one job at a time, in order. A panic in the runtime is caught and answered
/// as a 500; the thread goes on serving.
fn work(
    mut chat: Box<dyn ChatModel + Send>,
    embedder: Option<Embedder>,
    mut queue: mpsc::Receiver<Job>,
    stats: &Stats,
) {
    while let Some(job) = queue.blocking_recv() {
        stats.queued.fetch_sub(1, Ordering::SeqCst);
        let start = Instant::now();
        stats.busy.store(1, Ordering::SeqCst);
        match job {
            Job::Chat { job, events } => {
                if events.is_closed() {
                    stats.cancelled.fetch_add(1, Ordering::SeqCst);
                    stats.busy.store(0, Ordering::SeqCst);
                    continue;
                }
                let mut on_text = |t: &str| events.send(Progress::Text(t.to_string())).is_ok();
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &job.output {
                        Output::Text => chat.chat_stream(&job.messages, &job.opts, &mut on_text),
                        Output::Json(schema) | Output::ToolCall { schema, .. } => {
                            chat.chat_json_stream(&job.messages, schema, &job.opts, &mut on_text)
                        }
                    }))
                    .unwrap_or_else(|_| Err(crate::LlmError::Format("the model panicked".into())));
                let counter = match &result {
                    Ok(r) if r.finish == FinishReason::Cancelled => &stats.cancelled,
                    _ => &stats.completed,
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = events.send(Progress::Done(result));
            }
            Job::Embed { texts, reply } => {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let e = embedder
                        .as_ref()
                        .ok_or_else(|| crate::LlmError::Format("no embedding model".into()))?;
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    let tokens = texts
                        .iter()
                        .map(|t| e.tokenize(t).map(|ids| ids.len()))
                        .sum::<crate::Result<usize>>()?;
                    Ok((e.embed(&refs)?, tokens))
                }))
                .unwrap_or_else(|_| Err(crate::LlmError::Format("the model panicked".into())));
                stats.completed.fetch_add(1, Ordering::SeqCst);
                let _ = reply.send(result);
            }
        }
        stats.busy.store(0, Ordering::SeqCst);
        let ms = start.elapsed().as_millis() as u64;
        let mean = stats.mean_ms.load(Ordering::SeqCst);
        let mean = if mean == 0 { ms } else { (3 * mean + ms) / 4 };
        stats.mean_ms.store(mean.max(1), Ordering::SeqCst);
    }
}

impl AppState {
    // ANCHOR: enqueue
    /// Puts a job in the queue, or refuses it: 429 when the queue is full (`Retry-After`: the
    /// expected wait), 503 when the model thread is gone.
    fn enqueue(&self, job: Job) -> Result<(), ApiError> {
        self.stats.queued.fetch_add(1, Ordering::SeqCst);
        self.jobs.try_send(job).map_err(|e| {
            self.stats.queued.fetch_sub(1, Ordering::SeqCst);
            match e {
                mpsc::error::TrySendError::Full(_) => {
                    self.stats.rejected.fetch_add(1, Ordering::SeqCst);
                    let waiting = self.stats.queued.load(Ordering::SeqCst) + 1;
                    let mean = self.stats.mean_ms.load(Ordering::SeqCst).max(1000);
                    ApiError {
                        retry_after: Some((waiting * mean).div_ceil(1000)),
                        ..ApiError::new(
                            StatusCode::TOO_MANY_REQUESTS,
                            "queue_full",
                            format!(
                                "the server is busy: {} requests wait for the model; retry later",
                                waiting - 1
                            ),
                        )
                    }
                }
                mpsc::error::TrySendError::Closed(_) => ApiError {
                    retry_after: Some(5),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "the model is not serving (shutting down)",
                    )
                },
            }
        })
    }
    // ANCHOR_END: enqueue

    fn check_model(&self, model: &str, embedding: bool) -> Result<(), ApiError> {
        let ok = if embedding {
            self.embeddings && model == EMBEDDING_MODEL
        } else {
            model == self.chat_model
        };
        if ok {
            return Ok(());
        }
        let served = if embedding {
            if self.embeddings {
                EMBEDDING_MODEL
            } else {
                "none"
            }
        } else {
            &self.chat_model
        };
        Err(ApiError {
            param: Some("model".into()),
            ..ApiError::new(
                StatusCode::NOT_FOUND,
                "model_not_found",
                format!("the model `{model}` does not exist here (this endpoint serves: {served})"),
            )
        })
    }
}

/// The answer when the model thread ended without replying (it does not, but a 500 beats a
/// panic).
fn gone() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the model thread is gone",
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError {
        status: e.status(),
        ..ApiError::bad_request("body", e.body_text())
    })
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: usize,
    completion_tokens: usize,
    total_tokens: usize,
}

impl From<&Reply> for Usage {
    fn from(r: &Reply) -> Self {
        Self {
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            total_tokens: r.prompt_tokens + r.completion_tokens,
        }
    }
}

/// The assistant's message and finish reason: a tool call is split into its name and arguments;
/// the `answer` alternative of `tool_choice: "auto"` becomes plain content.
fn assistant_message(output: &Output, reply: &Reply, call_id: &str) -> (Value, &'static str) {
    let finish = match reply.finish {
        FinishReason::Length => "length",
        _ => "stop",
    };
    if let (Output::ToolCall { answer, .. }, FinishReason::Stop) = (output, reply.finish)
        && let Some((name, arguments)) = api::split_call(&reply.text)
    {
        if *answer && name == api::ANSWER_TOOL {
            let text = serde_json::from_str::<Value>(&arguments)
                .ok()
                .and_then(|a| a.get("text").and_then(Value::as_str).map(String::from))
                .unwrap_or_default();
            return (json!({"role": "assistant", "content": text}), "stop");
        }
        let call = json!({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}});
        return (
            json!({"role": "assistant", "content": null, "tool_calls": [call]}),
            "tool_calls",
        );
    }
    (json!({"role": "assistant", "content": reply.text}), finish)
}

async fn chat_completions(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let raw = body(raw)?;
    let request: ChatRequest = api::parse_body(&raw)?;
    state.check_model(&request.model, false)?;
    let seed = now() ^ state.next_id.load(Ordering::SeqCst).rotate_left(32);
    let job = request.into_job(seed)?;
    let (stream, include_usage, output) = (job.stream, job.include_usage, job.output.clone());
    let (events, mut rx) = mpsc::unbounded_channel();
    state.enqueue(Job::Chat { job, events })?;
    let n = state.next_id.fetch_add(1, Ordering::SeqCst);
    let (id, call_id) = (format!("chatcmpl-{n}"), format!("call-{n}"));
    let created = now();
    let model = state.chat_model.clone();

    if !stream {
        let mut reply = None;
        while let Some(event) = rx.recv().await {
            if let Progress::Done(r) = event {
                reply = Some(r);
                break;
            }
        }
        let reply = reply.ok_or_else(gone)??;
        let (message, finish) = assistant_message(&output, &reply, &call_id);
        return Ok(axum::Json(json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
            "usage": Usage::from(&reply),
        }))
        .into_response());
    }

    // Streaming: wait for the first event, so that a request the runtime refuses (a prompt
    // longer than the context) is still an HTTP error, not a broken stream.
    let first = rx.recv().await.ok_or_else(gone)?;
    if let Progress::Done(Err(e)) = first {
        return Err(e.into());
    }
    let chunk = move |delta: Value, finish: Option<&str>| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]})
    };
    let data = |v: Value| Event::default().data(v.to_string());
    // Text is sent as it comes; a tool call once complete (its name must be known first), with
    // an SSE comment per token meanwhile, so that a client that went away is noticed.
    let tool_mode = matches!(output, Output::ToolCall { .. });
    let opening = data(chunk(json!({"role": "assistant", "content": ""}), None));
    let state0 = (rx, Some(first), false);
    let events = futures_util::stream::unfold(state0, move |(mut rx, pending, done)| {
        let (chunk, output, call_id) = (chunk.clone(), output.clone(), call_id.clone());
        async move {
            if done {
                return None;
            }
            let event = match pending {
                Some(e) => e,
                None => rx.recv().await?,
            };
            let mut done = false;
            let out: Vec<Event> = match event {
                Progress::Text(t) if tool_mode => vec![Event::default().comment(t.len().to_string())],
                Progress::Text(t) => vec![data(chunk(json!({"content": t}), None))],
                Progress::Done(Ok(reply)) => {
                    done = true;
                    let (message, finish) = assistant_message(&output, &reply, &call_id);
                    let mut out = Vec::new();
                    if tool_mode {
                        let mut delta = message;
                        if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                            for (i, c) in calls.iter_mut().enumerate() {
                                c["index"] = json!(i);
                            }
                        }
                        if let Some(d) = delta.as_object_mut() {
                            d.remove("role");
                        }
                        out.push(data(chunk(delta, None)));
                    }
                    out.push(data(chunk(json!({}), Some(finish))));
                    if include_usage {
                        let mut last = chunk(json!({}), None);
                        last["choices"] = json!([]);
                        last["usage"] = json!(Usage::from(&reply));
                        out.push(data(last));
                    }
                    out.push(Event::default().data("[DONE]"));
                    out
                }
                Progress::Done(Err(e)) => {
                    done = true;
                    let e = ApiError::from(e);
                    vec![data(json!({"error": {"message": e.message, "type": "server_error", "param": e.param, "code": e.code}}))]
                }
            };
            Some((futures_util::stream::iter(out), (rx, None, done)))
        }
    })
    .flatten();
    let events = futures_util::stream::once(async move { opening })
        .chain(events)
        .map(Ok::<_, Infallible>);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn embeddings(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let raw = body(raw)?;
    let request: EmbeddingRequest = api::parse_body(&raw)?;
    state.check_model(&request.model, true)?;
    let texts = match request.input {
        EmbeddingInput::One(t) => vec![t],
        EmbeddingInput::Many(v) => v,
    };
    if texts.is_empty() || texts.len() > 2048 {
        return Err(ApiError::bad_request(
            "input",
            format!("`input`: expected 1 to 2048 texts, got {}", texts.len()),
        ));
    }
    if let Some(i) = texts.iter().position(|t| t.is_empty()) {
        return Err(ApiError::bad_request(
            format!("input[{i}]"),
            format!("`input[{i}]` is empty"),
        ));
    }
    if let Some(d) = request.dimensions.filter(|&d| d != 384) {
        return Err(ApiError::bad_request(
            "dimensions",
            format!("`dimensions`: {EMBEDDING_MODEL} gives 384, not {d}"),
        ));
    }
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "encoding_format",
                format!("`encoding_format`: expected \"float\" or \"base64\", got {other:?}"),
            ));
        }
    };
    let (reply, rx) = oneshot::channel();
    state.enqueue(Job::Embed { texts, reply })?;
    let (vectors, tokens) = rx.await.map_err(|_| gone())??;
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 {
                // Little-endian f32s, as OpenAI encodes them.
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Ok(axum::Json(json!({
        "object": "list", "data": data, "model": EMBEDDING_MODEL,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response())
}

fn model_card(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 0, "owned_by": "workbook"})
}

async fn models(State(state): State<AppState>) -> axum::Json<Value> {
    let mut data = vec![model_card(&state.chat_model)];
    if state.embeddings {
        data.push(model_card(EMBEDDING_MODEL));
    }
    axum::Json(json!({"object": "list", "data": data}))
}

async fn model(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let is_embedding = id == EMBEDDING_MODEL;
    state.check_model(&id, is_embedding)?;
    Ok(axum::Json(model_card(&id)))
}

async fn healthz(State(state): State<AppState>) -> axum::Json<Value> {
    let s = &state.stats;
    let get = |c: &AtomicU64| c.load(Ordering::SeqCst);
    axum::Json(json!({
        "status": "ok",
        "model": state.chat_model,
        "embeddings": state.embeddings.then_some(EMBEDDING_MODEL),
        "queued": get(&s.queued),
        "busy": get(&s.busy) == 1,
        "completed": get(&s.completed),
        "cancelled": get(&s.cancelled),
        "rejected": get(&s.rejected),
    }))
}
