//! The HTTP API (axum), OpenAI-compatible where OpenAI has the route, documented by OpenAPI at
//! `GET /openapi.json`. Each request to a money route goes:
//!
//! 1. **authenticate** — `Authorization: Bearer sk-wb-…`: missing, malformed, unknown or wrong
//!    is 401 (one message for all: the answer must not tell an attacker which ids exist);
//! 2. **authorise** — a revoked key, or one without the route's scope, is 403;
//! 3. **rate-limit** — the key's token bucket: 429 with `Retry-After`;
//! 4. **reserve** — the prompt's tokens counted, the worst case held on the user's budget in
//!    one transaction: 402 when it does not fit;
//! 5. the model answers (wb-llm's OpenAI-compatible server, called in-process, always streamed
//!    with its usage), passed on as it comes;
//! 6. **settle** at the model's own token counts — committed before the client hears the usage.

use crate::AppError;
use crate::bucket::{Decision, Limiter};
use crate::counter::PromptCounter;
use crate::keys::{self, Scope};
use crate::ledger::{Account, KeyRecord, Ledger, Reservation, Reserve, Totals};
use crate::pricing::{self, Price};
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tower::ServiceExt as _;
use utoipa::OpenApi;
use wb_llm::server::api::{ApiError, ChatRequest, parse_body};

/// The largest request body, in bytes.
pub const MAX_BODY: usize = 1 << 20;

/// Counters of the API.
#[derive(Debug, Default, Serialize)]
pub struct ApiStats {
    pub unauthenticated: AtomicU64,
    pub forbidden: AtomicU64,
    pub rate_limited: AtomicU64,
    pub over_budget: AtomicU64,
    pub answered: AtomicU64,
    /// Streams whose client went away (charged for what was sent).
    pub client_gone: AtomicU64,
    /// Requests the model refused or failed (released, nothing charged).
    pub failed: AtomicU64,
    /// Answers whose prompt count from the model differed from the API's own.
    pub prompt_count_differs: AtomicU64,
}

struct Inner {
    ledger: Arc<Ledger>,
    limiter: Limiter,
    counter: PromptCounter,
    model: Router,
    model_name: String,
    price: Price,
    start: Instant,
    next: AtomicU64,
    stats: ApiStats,
}

/// The API: its state and routes.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message)
}

fn from_app(e: AppError) -> ApiError {
    match e {
        AppError::InvalidArgument { arg, detail } => {
            ApiError::bad_request(arg.clone(), format!("invalid `{arg}`: {detail}"))
        }
        AppError::Llm(e) => ApiError::from(e),
        AppError::NotFound(m) => error(StatusCode::NOT_FOUND, "not_found", m),
        other => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            other.to_string(),
        ),
    }
}

/// A 401 with the header that says how to authenticate.
fn unauthenticated(message: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, "invalid_api_key", message).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"week24\""),
    );
    r
}

fn body(raw: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    raw.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than {MAX_BODY} bytes"),
            )
        } else {
            error(e.status(), "bad_body", e.body_text())
        }
    })
}

impl Api {
    /// The API over `ledger`, in front of `model` (wb-llm's server router for `model_name`),
    /// pricing tokens at `price`.
    pub fn new(
        ledger: Arc<Ledger>,
        counter: PromptCounter,
        model: Router,
        model_name: &str,
        price: Price,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                ledger,
                limiter: Limiter::new(),
                counter,
                model,
                model_name: model_name.to_string(),
                price,
                start: Instant::now(),
                next: AtomicU64::new(1),
                stats: ApiStats::default(),
            }),
        }
    }

    pub fn stats(&self) -> &ApiStats {
        &self.inner.stats
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.inner.ledger
    }

    /// The routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/usage", get(usage))
            .route("/admin/users", post(add_user))
            .route("/admin/users/{id}", get(user))
            .route("/admin/users/{id}/budget", put(set_budget))
            .route("/admin/keys", post(add_key))
            .route("/admin/keys/{id}/revoke", post(revoke_key))
            .route("/admin/audit", get(audit))
            .route("/openapi.json", get(openapi))
            .route("/healthz", get(healthz))
            .fallback(|| async {
                error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "no such route: see GET /openapi.json",
                )
            })
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.clone())
    }

    /// Runs `f` on the ledger off the async threads (a commit waits for the disk).
    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Ledger) -> crate::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let ledger = self.inner.ledger.clone();
        tokio::task::spawn_blocking(move || f(&ledger))
            .await
            .map_err(|_| {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the ledger task panicked",
                )
            })?
            .map_err(from_app)
    }

    // ANCHOR: authenticate
    /// Steps 1–3: the key behind `headers`, if it is valid, not revoked, holds `scope` and is
    /// within its rate; otherwise the response to send (401, 403 or 429).
    async fn admit(
        &self,
        headers: &HeaderMap,
        scope: Scope,
    ) -> Result<(KeyRecord, Decision), Response> {
        let stats = &self.inner.stats;
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(token) = keys::bearer(presented) else {
            stats.unauthenticated.fetch_add(1, Ordering::Relaxed);
            return Err(unauthenticated(
                "no API key: send `Authorization: Bearer sk-wb-…`",
            ));
        };
        let invalid_key = || {
            stats.unauthenticated.fetch_add(1, Ordering::Relaxed);
            unauthenticated("invalid API key")
        };
        let Ok((id, secret)) = keys::parse(token) else {
            return Err(invalid_key());
        };
        let (id, secret) = (id.to_string(), secret.to_string());
        let record = self
            .db(move |l| l.key(&id))
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(record) = record.filter(|r| keys::verify(&secret, &r.hash)) else {
            return Err(invalid_key());
        };
        if record.revoked {
            stats.forbidden.fetch_add(1, Ordering::Relaxed);
            return Err(error(
                StatusCode::FORBIDDEN,
                "key_revoked",
                "this API key was revoked",
            )
            .into_response());
        }
        if !record.scopes.contains(&scope) {
            stats.forbidden.fetch_add(1, Ordering::Relaxed);
            return Err(error(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!(
                    "this key may not use {} routes (its scopes: {})",
                    scope.name(),
                    Scope::join(&record.scopes)
                ),
            )
            .into_response());
        }
        let decision = self
            .inner
            .limiter
            .check(&record.id, record.rate, self.inner.start.elapsed())
            .map_err(|e| from_app(e).into_response())?;
        if let Some(s) = decision.retry_after_s() {
            stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut e = error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                format!(
                    "this key may send {} requests a minute, {} at once: retry in {s} s",
                    record.rate.per_second * 60.0,
                    record.rate.capacity
                ),
            );
            e.retry_after = Some(s);
            return Err(e.into_response());
        }
        Ok((record, decision))
    }
    // ANCHOR_END: authenticate
}

/// The rate-limit headers of an admitted request (the names OpenAI uses).
fn rate_headers(response: &mut Response, key: &KeyRecord, decision: Decision) {
    if let Decision::Allowed { remaining } = decision {
        let h = response.headers_mut();
        h.insert(
            "x-ratelimit-limit-requests",
            HeaderValue::from(key.rate.capacity as u64),
        );
        h.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from(remaining.floor() as u64),
        );
    }
}

/// An error body's schema (OpenAI's shape).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// `{"message", "type", "param", "code"}`
    pub error: Value,
}

/// A chat request as OpenAI's API takes it (`model`, `messages`, `max_tokens`, `temperature`,
/// `stream`, `stream_options`, …; `tools` and `response_format` are not metered here: refused).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChatBody {
    pub model: String,
    pub messages: Vec<Value>,
    pub max_tokens: Option<u64>,
    pub stream: Option<bool>,
}

/// What the answer cost, added to OpenAI's `usage`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ChatUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// The charge, in nano-dollars (10⁻⁹ $).
    pub cost_nanodollars: u64,
}

/// What the model sent back, read from its stream.
#[derive(Debug, Default)]
struct Answer {
    text: String,
    finish: Option<String>,
    usage: Option<(u64, u64)>,
    error: Option<Value>,
}

/// Splits SSE `data:` payloads out of `buf` (complete events only; the rest stays).
fn take_events(buf: &mut String) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(end) = buf.find("\n\n") {
        let event: String = buf.drain(..end + 2).collect();
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if !data.is_empty() {
            out.push(data.join("\n"));
        }
    }
    out
}

/// Steps 5–6 for one reserved request: the model's stream read (and passed on to `out`, when
/// the client streams), then the reservation settled, partly charged or released. Runs on its
/// own task, so that a client that goes away cannot leave the reservation open.
async fn answer(
    api: Api,
    reservation: Reservation,
    request_id: String,
    mut upstream: Value,
    out: Option<mpsc::Sender<Event>>,
    include_usage: bool,
) -> Result<(Answer, u64), ApiError> {
    let inner = &api.inner;
    upstream["stream"] = json!(true);
    upstream["stream_options"] = json!({"include_usage": true});
    let request = Request::post("/v1/chat/completions")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(upstream.to_string()))
        .map_err(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                e.to_string(),
            )
        })?;
    let response = match inner.model.clone().oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let release = |note: String| {
        let r = reservation.clone();
        api.db(move |l| l.release(&r, &note))
    };
    if !response.status().is_success() {
        // The model refused (a full queue: 429; a prompt over its context: 400): nothing was
        // generated, nothing is charged; its error goes to the client as it is.
        inner.stats.failed.fetch_add(1, Ordering::Relaxed);
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.parse().ok());
        let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY)
            .await
            .unwrap_or_default();
        release(format!("the model answered {status}")).await?;
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("the model answered {status}"));
        let mut e = error(status, "model_error", message);
        e.retry_after = retry;
        return Err(e);
    }
    let mut data = response.into_body().into_data_stream();
    let mut buf = String::new();
    let mut answer = Answer::default();
    let mut sent = 0u64;
    let mut done = false;
    while !done {
        let Some(chunk) = data.next().await else {
            break;
        };
        let Ok(chunk) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        for payload in take_events(&mut buf) {
            if payload == "[DONE]" {
                done = true;
                break;
            }
            let Ok(mut v) = serde_json::from_str::<Value>(&payload) else {
                continue;
            };
            if v.get("error").is_some() {
                answer.error = Some(v["error"].clone());
                done = true;
                break;
            }
            if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                answer.usage = Some((
                    u["prompt_tokens"].as_u64().unwrap_or(0),
                    u["completion_tokens"].as_u64().unwrap_or(0),
                ));
                continue;
            }
            let choice = &v["choices"][0];
            let piece = choice["delta"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            answer.text.push_str(&piece);
            if let Some(f) = choice["finish_reason"].as_str() {
                answer.finish = Some(f.to_string());
            }
            if let Some(tx) = &out {
                v["id"] = json!(request_id);
                let is_text = !piece.is_empty();
                if tx.send(Event::default().data(v.to_string())).await.is_err() {
                    // The client went away: the model stops when `data` is dropped; the tokens
                    // it was sent are charged (one event per token).
                    inner.stats.client_gone.fetch_add(1, Ordering::Relaxed);
                    let (r, price) = (reservation.clone(), inner.price);
                    let cost = api
                        .db(move |l| {
                            l.settle_partial(&r, sent, price, "the client went away mid-stream")
                        })
                        .await?;
                    return Ok((answer, cost));
                }
                sent += u64::from(is_text);
            }
        }
    }
    drop(data);
    let Some((prompt, completion)) = answer.usage.filter(|_| answer.error.is_none()) else {
        inner.stats.failed.fetch_add(1, Ordering::Relaxed);
        let why = answer
            .error
            .as_ref()
            .map_or("the model's stream ended early".to_string(), |e| {
                e["message"]
                    .as_str()
                    .unwrap_or("the model failed")
                    .to_string()
            });
        release(why.clone()).await?;
        if let Some(tx) = &out {
            let _ = tx
                .send(
                    Event::default().data(
                        json!({"error": {"message": why, "type": "server_error"}}).to_string(),
                    ),
                )
                .await;
        }
        return Err(error(StatusCode::BAD_GATEWAY, "model_error", why));
    };
    if prompt != reservation.prompt_tokens {
        inner
            .stats
            .prompt_count_differs
            .fetch_add(1, Ordering::Relaxed);
    }
    // Committed before the client is told: a client that saw its usage finds it in the ledger.
    let (r, price) = (reservation.clone(), inner.price);
    let cost = api
        .db(move |l| l.settle(&r, prompt, completion, price))
        .await?;
    inner.stats.answered.fetch_add(1, Ordering::Relaxed);
    if let Some(tx) = &out {
        if include_usage {
            let usage = json!({"id": request_id, "object": "chat.completion.chunk", "created": now_s(),
                "model": inner.model_name, "choices": [],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion, "cost_nanodollars": cost}});
            let _ = tx.send(Event::default().data(usage.to_string())).await;
        }
        let _ = tx.send(Event::default().data("[DONE]")).await;
    }
    Ok((answer, cost))
}

/// Creates a chat completion (OpenAI's route), metered: authenticated, rate-limited, reserved
/// on the budget, settled at the model's token counts.
#[utoipa::path(post, path = "/v1/chat/completions", request_body = ChatBody,
    security(("api_key" = [])),
    responses((status = 200, description = "the answer (JSON, or server-sent events when `stream`); `usage` carries `cost_nanodollars`"),
              (status = 400, body = ErrorBody, description = "a bad field, named"),
              (status = 401, body = ErrorBody, description = "no key, or not a valid one"),
              (status = 402, body = ErrorBody, description = "the user's budget cannot cover the request's worst case"),
              (status = 403, body = ErrorBody, description = "a revoked key, or one without the chat scope"),
              (status = 404, body = ErrorBody, description = "no such model"),
              (status = 429, body = ErrorBody, description = "over the key's rate, or the model's queue is full; see Retry-After")))]
async fn chat(
    State(api): State<Api>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    match chat_inner(api, headers, raw).await {
        Ok(r) => r,
        Err(r) => r,
    }
}

async fn chat_inner(
    api: Api,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let (key, decision) = api.admit(&headers, Scope::Chat).await?;
    let e = IntoResponse::into_response;
    let raw = body(raw).map_err(e)?;
    let upstream: Value = parse_body(&raw).map_err(e)?;
    let request: ChatRequest = parse_body(&raw).map_err(e)?;
    if request.tools.is_some() || request.response_format.is_some() {
        let param = if request.tools.is_some() {
            "tools"
        } else {
            "response_format"
        };
        return Err(e(ApiError::bad_request(
            param,
            format!(
                "`{param}` is not offered by this API: it meters plain chat (week 18 serves tools and schemas)"
            ),
        )));
    }
    let inner = &api.inner;
    if request.model != inner.model_name {
        return Err(e(error(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!(
                "no model {:?}: this API serves {}",
                request.model, inner.model_name
            ),
        )));
    }
    let include_usage = request
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    let job = request.into_job(0).map_err(e)?;
    let prompt = inner
        .counter
        .count(&job.messages)
        .map_err(|x| e(from_app(x)))?;
    let max_completion = job.opts.max_tokens as u64;
    let request_id = format!(
        "chatcmpl-{}-{}",
        keys::hex(&rand::random::<[u8; 6]>()),
        inner.next.fetch_add(1, Ordering::Relaxed)
    );
    let (rid, kid, user, price) = (
        request_id.clone(),
        key.id.clone(),
        key.user.clone(),
        inner.price,
    );
    let reserved = api
        .db(move |l| l.reserve(&rid, &kid, &user, prompt, max_completion, price))
        .await
        .map_err(e)?;
    let reservation = match reserved {
        Reserve::Granted(r) => r,
        Reserve::OverBudget { account, need } => {
            inner.stats.over_budget.fetch_add(1, Ordering::Relaxed);
            return Err(e(error(
                StatusCode::PAYMENT_REQUIRED,
                "budget_exhausted",
                format!(
                    "the budget of {} has {} left; this request may cost up to {} ({prompt} prompt tokens and max_tokens {max_completion})",
                    key.user,
                    pricing::dollars(account.remaining()),
                    pricing::dollars(need)
                ),
            )));
        }
    };
    if job.stream {
        let (tx, mut rx) = mpsc::channel::<Event>(64);
        let id_header = HeaderValue::from_str(&request_id).ok();
        let task = tokio::spawn(answer(
            api.clone(),
            reservation,
            request_id,
            upstream,
            Some(tx),
            include_usage,
        ));
        // The first event decides between an HTTP error and a stream.
        let first = rx.recv().await;
        let Some(first) = first else {
            return Err(match task.await {
                Ok(Err(err)) => e(err),
                _ => e(error(
                    StatusCode::BAD_GATEWAY,
                    "model_error",
                    "the model sent nothing",
                )),
            });
        };
        let events = futures_util::stream::once(async move { first })
            .chain(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|ev| (ev, rx))
            }))
            .map(Ok::<_, Infallible>);
        let mut response = Sse::new(events).into_response();
        if let Some(id) = id_header {
            response.headers_mut().insert("x-request-id", id);
        }
        rate_headers(&mut response, &key, decision);
        return Ok(response);
    }
    // Not streamed: the answer is read on its own task all the same (a client that goes away
    // is still charged for the whole answer, as it was generated).
    let (tx, rx) = oneshot::channel();
    let model_name = inner.model_name.clone();
    tokio::spawn(async move {
        let _ = tx.send(
            answer(
                api.clone(),
                reservation,
                request_id.clone(),
                upstream,
                None,
                false,
            )
            .await
            .map(|a| (a, request_id)),
        );
    });
    let ((answer, cost), request_id) = rx
        .await
        .map_err(|_| {
            e(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the answer task stopped",
            ))
        })?
        .map_err(e)?;
    let (prompt, completion) = answer.usage.unwrap_or_default();
    let mut response = Json(json!({
        "id": request_id, "object": "chat.completion", "created": now_s(), "model": model_name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                     "finish_reason": answer.finish, "logprobs": null}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion, "cost_nanodollars": cost},
    }))
    .into_response();
    rate_headers(&mut response, &key, decision);
    Ok(response)
}

/// The caller's account and usage.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UsageResponse {
    pub user: String,
    pub account: Account,
    /// Over the user's charged requests.
    pub totals: Totals,
}

/// The caller's own budget and what it has spent.
#[utoipa::path(get, path = "/v1/usage", security(("api_key" = [])),
    responses((status = 200, body = UsageResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn usage(State(api): State<Api>, headers: HeaderMap) -> Response {
    let (key, decision) = match api.admit(&headers, Scope::Chat).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let user = key.user.clone();
    match api
        .db(move |l| Ok((l.account(&user)?, l.totals(Some(&user))?)))
        .await
    {
        Ok((account, totals)) => {
            let mut r = Json(UsageResponse {
                user: key.user.clone(),
                account,
                totals,
            })
            .into_response();
            rate_headers(&mut r, &key, decision);
            r
        }
        Err(err) => err.into_response(),
    }
}

/// A new user.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub user: String,
    /// Dollars, up to 9 decimals (`"0.25"`): exact, not floating point.
    pub budget_usd: String,
}

/// A budget.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Budget {
    pub budget_usd: String,
}

/// A new key.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewKeyRequest {
    pub user: String,
    pub scopes: Vec<Scope>,
    /// Requests a minute (default 60).
    pub per_minute: Option<f64>,
    /// Requests at once (default 10).
    pub burst: Option<f64>,
}

/// A key, shown once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyCreated {
    pub id: String,
    /// The whole key: store it now, the API keeps only its hash.
    pub key: String,
}

/// Runs an admin handler: the admin scope first.
async fn admin<T: Serialize>(
    api: &Api,
    headers: &HeaderMap,
    status: StatusCode,
    f: impl AsyncFnOnce() -> Result<T, ApiError>,
) -> Response {
    if let Err(r) = api.admit(headers, Scope::Admin).await {
        return r;
    }
    match f().await {
        Ok(v) => (status, Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Adds a user with a budget.
#[utoipa::path(post, path = "/admin/users", request_body = NewUser, security(("api_key" = [])),
    responses((status = 201, description = "created"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn add_user(
    State(api): State<Api>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    admin(&api, &headers, StatusCode::CREATED, async || {
        let u: NewUser = parse_body(&body(raw)?)?;
        let budget = pricing::parse_dollars(&u.budget_usd).map_err(from_app)?;
        let id = u.user.clone();
        api.db(move |l| l.add_user(&id, budget)).await?;
        Ok(json!({"user": u.user, "budget_nanodollars": budget}))
    })
    .await
}

/// Sets a user's budget.
#[utoipa::path(put, path = "/admin/users/{id}/budget", request_body = Budget, security(("api_key" = [])),
    responses((status = 200, body = Account), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn set_budget(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    admin(&api, &headers, StatusCode::OK, async || {
        let b: Budget = parse_body(&body(raw)?)?;
        let budget = pricing::parse_dollars(&b.budget_usd).map_err(from_app)?;
        api.db(move |l| {
            l.set_budget(&id, budget)?;
            l.account(&id)
        })
        .await
    })
    .await
}

/// A user's account and charged totals.
#[utoipa::path(get, path = "/admin/users/{id}", security(("api_key" = [])),
    responses((status = 200, body = UsageResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn user(State(api): State<Api>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    admin(&api, &headers, StatusCode::OK, async || {
        let who = id.clone();
        let (account, totals) = api
            .db(move |l| Ok((l.account(&who)?, l.totals(Some(&who))?)))
            .await?;
        Ok(UsageResponse {
            user: id,
            account,
            totals,
        })
    })
    .await
}

/// Creates a key for a user; the answer holds the whole key, once.
#[utoipa::path(post, path = "/admin/keys", request_body = NewKeyRequest, security(("api_key" = [])),
    responses((status = 201, body = KeyCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn add_key(
    State(api): State<Api>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    admin(&api, &headers, StatusCode::CREATED, async || {
        let k: NewKeyRequest = parse_body(&body(raw)?)?;
        let rate =
            crate::bucket::Rate::per_minute(k.per_minute.unwrap_or(60.0), k.burst.unwrap_or(10.0))
                .map_err(from_app)?;
        let created = api.db(move |l| l.add_key(&k.user, &k.scopes, rate)).await?;
        Ok(KeyCreated {
            id: created.id,
            key: created.key,
        })
    })
    .await
}

/// Revokes a key: its next request is a 403.
#[utoipa::path(post, path = "/admin/keys/{id}/revoke", security(("api_key" = [])),
    responses((status = 200, description = "revoked"), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn revoke_key(
    State(api): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    admin(&api, &headers, StatusCode::OK, async || {
        let which = id.clone();
        if api.db(move |l| l.revoke_key(&which)).await? {
            Ok(json!({"revoked": id}))
        } else {
            Err(error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no key {id:?}"),
            ))
        }
    })
    .await
}

/// Where the users' running totals disagree with the ledger's rows (none: it adds up).
#[utoipa::path(get, path = "/admin/audit", security(("api_key" = [])),
    responses((status = 200, description = "`{\"problems\": [...]}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn audit(State(api): State<Api>, headers: HeaderMap) -> Response {
    admin(&api, &headers, StatusCode::OK, async || {
        let problems = api.db(|l| l.audit()).await?;
        Ok(json!({"problems": problems}))
    })
    .await
}

/// Alive.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "the API's counters")))]
async fn healthz(State(api): State<Api>) -> Json<Value> {
    Json(json!({"status": "ok", "model": api.inner.model_name, "stats": &api.inner.stats}))
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk-wb-<id>-<secret>")
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document, generated from the handlers and types above.
#[derive(OpenApi)]
#[openapi(
    info(title = "week24 LLM API", description = "SmolLM2 behind API keys, rate limits, budgets and a usage ledger"),
    paths(chat, usage, add_user, set_budget, user, add_key, revoke_key, audit, healthz),
    components(schemas(ChatBody, ChatUsage, ErrorBody, UsageResponse, Account, Totals, NewUser, Budget, NewKeyRequest, KeyCreated, Scope)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
