//! The HTTP API (axum), documented by OpenAPI at `GET /openapi.json`:
//!
//! - `POST /v1/documents` ingests documents (`{"documents": [{"source", "text", "title"?,
//!   "format"?}]}`); each is added, updated, left unchanged or recognised as a duplicate, and
//!   the answer comes after the commit: a 200 means the documents are on disk.
//! - `GET /v1/documents` lists them; `DELETE /v1/documents?source=…` removes one.
//! - `POST /v1/search` returns the best passages for a query (`mode`: bm25, dense, hybrid;
//!   `rerank`).
//! - `POST /v1/query` answers a question with cited passages, whole or streamed as server-sent
//!   events (`passages`, then `text` events, then `done` with the checked answer).
//! - `GET /healthz` reports the store's counts.
//!
//! One thread owns the store and the models and does one job at a time from a bounded queue (a
//! full queue is a 429 with `Retry-After`). A streamed answer whose client goes away stops at
//! the next token. Bad requests are 400 (not JSON, naming the field) or 422 (invalid values,
//! naming them), never a crash.

use crate::ingest::{Doc, Format, markdown_to_text};
use crate::pipeline::{Answer, Hit, Ingested, Mode, Progress, Rag};
use crate::store::{Counts, DocumentRow};
use crate::{ServiceError, invalid};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use utoipa::OpenApi;

/// The largest request body: a document may hold 16 MiB of text, JSON escapes add some.
pub const MAX_BODY: usize = 24 << 20;
/// The most documents one request may ingest.
pub const MAX_DOCUMENTS: usize = 1000;

/// The body of every error answer.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::InvalidArgument { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// One document of an ingest request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    /// Its unique name: ingesting the same source again replaces it.
    pub source: String,
    pub text: String,
    #[serde(default)]
    pub title: String,
    /// `text` (default) or `markdown` (the markup removed).
    #[serde(default)]
    pub format: Option<Format>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    pub documents: Vec<DocumentIn>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestResponse {
    pub results: Vec<Ingested>,
    pub counts: Counts,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    /// Passages to return (default 10).
    #[serde(default = "ten")]
    pub k: usize,
    #[serde(default)]
    pub mode: Mode,
    /// Re-score the best candidates by their best sentence (default true).
    #[serde(default = "yes")]
    pub rerank: bool,
}

fn ten() -> usize {
    10
}
fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    pub hits: Vec<Hit>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub question: String,
    /// Stream the answer as server-sent events (default false).
    #[serde(default)]
    pub stream: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteParams {
    /// The source of the document to remove.
    pub source: String,
}

/// What the worker streams back while it answers.
enum Step {
    Passages(Vec<Hit>),
    Text(String),
    Done(Result<Answer, ServiceError>),
}

type Reply<T> = oneshot::Sender<Result<T, ServiceError>>;

enum Job {
    Ingest {
        docs: Vec<Doc>,
        reply: Reply<Vec<Ingested>>,
    },
    Delete {
        source: String,
        reply: Reply<bool>,
    },
    Documents {
        reply: Reply<Vec<DocumentRow>>,
    },
    Search {
        request: SearchRequest,
        reply: Reply<Vec<Hit>>,
    },
    Answer {
        question: String,
        steps: mpsc::UnboundedSender<Step>,
    },
}

#[derive(Clone)]
struct AppState {
    jobs: mpsc::Sender<Job>,
    counts: Arc<Mutex<Counts>>,
}

/// The routes, and the worker thread that owns `rag` (it ends when the router is dropped, after
/// the queued jobs are done). `queue`: jobs that may wait for the worker.
pub fn router(rag: Rag, queue: usize) -> crate::Result<(Router, std::thread::JoinHandle<()>)> {
    let (jobs, rx) = mpsc::channel(queue.max(1));
    let counts = Arc::new(Mutex::new(rag.counts()?));
    let state = AppState {
        jobs,
        counts: counts.clone(),
    };
    let worker = std::thread::Builder::new()
        .name("rag".into())
        .spawn(move || work(rag, rx, &counts))?;
    let app = Router::new()
        .route("/v1/documents", post(ingest).get(documents).delete(delete))
        .route("/v1/search", post(search))
        .route("/v1/query", post(query))
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such route: see GET /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    Ok((app, worker))
}

/// The worker: one job at a time, in order; a panic is caught and answered as a 500. The shared
/// counts are brought up to date before a change is answered, so a client that reads them after
/// its reply sees its own change.
fn work(mut rag: Rag, mut rx: mpsc::Receiver<Job>, counts: &Mutex<Counts>) {
    let caught = |e: Box<dyn std::any::Any + Send>| {
        let what = e
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| e.downcast_ref::<String>().cloned());
        ServiceError::Internal(format!("the worker panicked: {}", what.unwrap_or_default()))
    };
    while let Some(job) = rx.blocking_recv() {
        let mut run = std::panic::AssertUnwindSafe(&mut rag);
        match job {
            Job::Ingest { docs, reply } => {
                let r = std::panic::catch_unwind(move || run.ingest(&docs, &mut |_, _| {}))
                    .unwrap_or_else(|e| Err(caught(e)));
                refresh(&rag, counts);
                let _ = reply.send(r);
            }
            Job::Delete { source, reply } => {
                let r = std::panic::catch_unwind(move || run.delete(&source))
                    .unwrap_or_else(|e| Err(caught(e)));
                refresh(&rag, counts);
                let _ = reply.send(r);
            }
            Job::Documents { reply } => {
                let r = std::panic::catch_unwind(move || run.store().documents())
                    .unwrap_or_else(|e| Err(caught(e)));
                let _ = reply.send(r);
            }
            Job::Search { request, reply } => {
                if reply.is_closed() {
                    continue;
                }
                let r = std::panic::catch_unwind(move || {
                    run.search(&request.query, request.mode, request.rerank, request.k)
                })
                .unwrap_or_else(|e| Err(caught(e)));
                let _ = reply.send(r);
            }
            Job::Answer { question, steps } => {
                if steps.is_closed() {
                    continue;
                }
                let on = &steps;
                let r = std::panic::catch_unwind(move || {
                    run.answer(&question, &mut |p| match p {
                        Progress::Passages(h) => on.send(Step::Passages(h.to_vec())).is_ok(),
                        Progress::Text(t) => on.send(Step::Text(t.to_string())).is_ok(),
                    })
                })
                .unwrap_or_else(|e| Err(caught(e)));
                let _ = steps.send(Step::Done(r));
            }
        }
    }
}

/// Copies the store's counts into `shared` (left as they were if the store cannot count).
fn refresh(rag: &Rag, shared: &Mutex<Counts>) {
    if let Ok(c) = rag.counts()
        && let Ok(mut shared) = shared.lock()
    {
        *shared = c;
    }
}

impl AppState {
    /// Queues `job`, or refuses it: 429 when the queue is full, 503 when the worker is gone.
    fn enqueue(&self, job: Job) -> Result<(), ApiError> {
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ApiError {
                retry_after: Some(2),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "the service is busy: too many requests wait; retry later",
                )
            },
            mpsc::error::TrySendError::Closed(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is shutting down",
            ),
        })
    }

    /// Queues the job `make` builds around a reply channel and waits for the answer.
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Job) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(make(tx))?;
        match rx.await {
            Ok(r) => r.map_err(ApiError::from),
            Err(_) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the worker stopped before answering",
            )),
        }
    }
}

/// The body as `T`: 413 past the limit, 400 naming the field for malformed JSON.
fn parse<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {MAX_BODY} bytes"),
            )
        } else {
            ApiError::new(e.status(), e.body_text())
        }
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." || path == "?" {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("malformed request{at}: {}", e.into_inner()),
        )
    })
}

/// Ingests documents; answers after they are committed.
#[utoipa::path(post, path = "/v1/documents", request_body = IngestRequest,
    responses((status = 200, body = IngestResponse), (status = 400, body = ErrorBody, description = "malformed JSON"),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody, description = "an invalid document, named"),
              (status = 429, body = ErrorBody, description = "busy; see Retry-After")))]
async fn ingest(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    let request: IngestRequest = parse(body)?;
    if request.documents.is_empty() || request.documents.len() > MAX_DOCUMENTS {
        return Err(ApiError::from(invalid(
            "documents",
            format!(
                "expected 1 to {MAX_DOCUMENTS} documents, got {}",
                request.documents.len()
            ),
        )));
    }
    let mut docs = Vec::with_capacity(request.documents.len());
    for (i, d) in request.documents.into_iter().enumerate() {
        let text = match d.format.unwrap_or(Format::Text) {
            Format::Text => d.text,
            Format::Markdown => markdown_to_text(&d.text),
            Format::Jsonl => {
                return Err(ApiError::from(invalid(
                    &format!("documents[{i}].format"),
                    "jsonl is a file format: send each line as a document",
                )));
            }
        };
        let doc = Doc::new(&d.source, &d.title, text).map_err(|e| match e {
            ServiceError::InvalidArgument { arg, detail } => {
                invalid(&format!("documents[{i}] ({arg})"), detail)
            }
            other => other,
        })?;
        docs.push(doc);
    }
    let results = state.ask(|reply| Job::Ingest { docs, reply }).await?;
    let counts = *state
        .counts
        .lock()
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "counts lock poisoned"))?;
    Ok(Json(IngestResponse { results, counts }))
}

/// Lists the stored documents.
#[utoipa::path(get, path = "/v1/documents", responses((status = 200, body = Vec<DocumentRow>)))]
async fn documents(State(state): State<AppState>) -> Result<Json<Vec<DocumentRow>>, ApiError> {
    Ok(Json(state.ask(|reply| Job::Documents { reply }).await?))
}

/// Removes a document and its passages.
#[utoipa::path(delete, path = "/v1/documents", params(DeleteParams),
    responses((status = 204, description = "removed"), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    params: Result<Query<DeleteParams>, axum::extract::rejection::QueryRejection>,
) -> Result<StatusCode, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let source = params.source;
    let shown = source.clone();
    if state.ask(|reply| Job::Delete { source, reply }).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ServiceError::NotFound(format!("no document with source {shown:?}")).into())
    }
}

/// The best passages for a query.
#[utoipa::path(post, path = "/v1/search", request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let request: SearchRequest = parse(body)?;
    let hits = state.ask(|reply| Job::Search { request, reply }).await?;
    Ok(Json(SearchResponse { hits }))
}

// ANCHOR: query
/// Answers a question from the stored documents, citing the passages used.
#[utoipa::path(post, path = "/v1/query", request_body = QueryRequest,
    responses((status = 200, body = Answer, description = "the answer, or with `stream` an event stream: `passages`, `text`…, `done` (the answer) or `error`"),
              (status = 400, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn query(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: QueryRequest = parse(body)?;
    let (steps, mut rx) = mpsc::unbounded_channel();
    state.enqueue(Job::Answer {
        question: request.question,
        steps,
    })?;
    if !request.stream {
        while let Some(step) = rx.recv().await {
            if let Step::Done(r) = step {
                return Ok(Json(r.map_err(ApiError::from)?).into_response());
            }
        }
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the worker stopped before answering",
        ));
    }
    // The first step decides the status: a question refused before any text is a plain 422.
    let first = match rx.recv().await {
        Some(Step::Done(Err(e))) => return Err(e.into()),
        Some(step) => step,
        None => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the worker stopped before answering",
            ));
        }
    };
    let rest = tokio_stream(rx);
    let events = futures_util::stream::once(async move { first })
        .chain(rest)
        .map(|step| -> Result<Event, Infallible> {
            Ok(match step {
                Step::Passages(h) => Event::default()
                    .event("passages")
                    .json_data(h)
                    .unwrap_or_default(),
                Step::Text(t) => Event::default()
                    .event("text")
                    .json_data(serde_json::json!({ "text": t }))
                    .unwrap_or_default(),
                Step::Done(Ok(a)) => Event::default()
                    .event("done")
                    .json_data(a)
                    .unwrap_or_default(),
                Step::Done(Err(e)) => Event::default()
                    .event("error")
                    .json_data(ErrorBody {
                        error: e.to_string(),
                    })
                    .unwrap_or_default(),
            })
        });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

// ANCHOR_END: query

/// The receiver as a stream (ends when the worker drops its sender).
fn tokio_stream(mut rx: mpsc::UnboundedReceiver<Step>) -> impl futures_util::Stream<Item = Step> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The store's counts (no queue: answered even while the worker is busy).
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Counts)))]
async fn healthz(State(state): State<AppState>) -> Result<Json<Counts>, ApiError> {
    let counts = *state
        .counts
        .lock()
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "counts lock poisoned"))?;
    Ok(Json(counts))
}

/// The OpenAPI document, generated from the handlers and types above.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "week21 RAG service",
        description = "Ingest documents; search them; answer questions with cited passages"
    ),
    paths(ingest, documents, delete, search, query, healthz),
    components(schemas(
        IngestRequest,
        DocumentIn,
        IngestResponse,
        SearchRequest,
        SearchResponse,
        QueryRequest,
        ErrorBody,
        Counts,
        DocumentRow
    ))
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Serves `app` on `listener` until `shutdown` completes, then lets running requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
