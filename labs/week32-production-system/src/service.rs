//! The service: week 28's classifier behind an HTTP API fit to operate.
//!
//! - every request gets a request id (the caller's `x-request-id` if it is a sane one, else a
//!   fresh 128-bit one), a server span named and attributed by the OpenTelemetry conventions,
//!   a line in the `http.server.request.duration` histogram, and the id back in its answer;
//! - API keys and scopes as week 24 made them (hashed, compared in constant time): `chat` may
//!   predict, `admin` may roll back, read the audit verdict and run retention;
//! - input limits: the body's size, the shape of `features`, the comment's length — a 4xx that
//!   says what was expected, never a crash;
//! - every accepted prediction is stored (comment redacted) before it is answered;
//! - rollback: the registry moves `production` back in one transaction, the model of that
//!   version is loaded, and one pointer swap makes it serve — requests in flight finish on the
//!   model they started with, none fails.

use crate::audit::AuditLog;
use crate::registry;
use crate::retention::{self, Policy, StoredRequest};
use crate::telemetry::{Metrics, scrub};
use crate::{Result, now_ms};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tracing::{Instrument, field, info, info_span, warn};
use wb_llm::ChatModel;
use week24_llm_app::keys::{self, NewKey, Scope};
use week26_tracking_registry::Tracker;
use week26_tracking_registry::sweep::Model;
use week28_cicd_canary::pipeline::MODEL;

/// The largest request body, bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// The longest comment, characters.
pub const MAX_COMMENT: usize = 1_000;
/// The longest rollback reason, characters.
pub const MAX_REASON: usize = 200;
/// Features the model takes.
pub const FEATURES: usize = 30;

/// The model answering now.
pub struct Served {
    pub version: i64,
    pub model: Model,
}

/// The language model behind `POST /v1/chat/completions`: wb-llm's OpenAI-compatible server
/// router (its queue and worker thread), called in-process.
struct Chat {
    router: Router,
    model: String,
}

struct Inner {
    chat: std::sync::OnceLock<Chat>,
    served: RwLock<Arc<Served>>,
    tracker: Mutex<Tracker>,
    audit: AuditLog,
    store: Mutex<Connection>,
    metrics: Metrics,
    ready: AtomicBool,
}

/// The service's state; cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A JSON error answer: `{"error": {"code": …, "message": …}}`.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

/// A refused request: its status, a code and a message (the answer's JSON body); a 401 also
/// says how to authenticate.
#[derive(Debug)]
pub struct Refused {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        status,
        code,
        message: message.into(),
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut r = error(self.status, self.code, self.message);
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

impl Service {
    /// The service over the registry `tracker` (serving its `production` version), the audit log
    /// and the request store.
    pub fn new(tracker: Tracker, audit: AuditLog, store: Connection) -> Result<Self> {
        let prod = tracker
            .resolve(MODEL, week26_tracking_registry::registry::PRODUCTION)
            .map_err(|e| crate::ProdError::Registry(e.to_string()))?;
        let model = registry::load(&tracker, prod.version)?;
        let metrics = Metrics::default();
        metrics.set_model_version(prod.version);
        let s = Self {
            inner: Arc::new(Inner {
                chat: std::sync::OnceLock::new(),
                served: RwLock::new(Arc::new(Served {
                    version: prod.version,
                    model,
                })),
                tracker: Mutex::new(tracker),
                audit,
                store: Mutex::new(store),
                metrics,
                ready: AtomicBool::new(true),
            }),
        };
        s.inner.audit.append(
            "system",
            "service.open",
            json!({"model": MODEL, "version": prod.version}),
        )?;
        Ok(s)
    }

    /// The version answering now.
    pub fn version(&self) -> i64 {
        self.served().version
    }

    fn served(&self) -> Arc<Served> {
        self.inner
            .served
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }

    /// Runs `f` on the request store.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        f(&mut lock(&self.inner.store))
    }

    /// Runs `f` on the registry.
    pub fn with_registry<T>(&self, f: impl FnOnce(&mut Tracker) -> T) -> T {
        f(&mut lock(&self.inner.tracker))
    }

    /// Puts `model` (SmolLM2 from wb-llm, or any [`ChatModel`]) behind `POST
    /// /v1/chat/completions`, with at most `queue` requests waiting for it. Once per service.
    pub fn attach_chat(&self, model: Box<dyn ChatModel + Send>, queue: usize) -> Result<()> {
        let name = model.name().to_string();
        let config = wb_llm::server::Config {
            queue,
            ..wb_llm::server::Config::default()
        };
        let (router, _stats, _worker) = wb_llm::server::router(model, None, &config);
        self.inner
            .chat
            .set(Chat {
                router,
                model: name.clone(),
            })
            .map_err(|_| crate::invalid("chat", "a language model is attached already"))?;
        self.inner
            .audit
            .append("system", "chat.attach", json!({"model": name}))?;
        Ok(())
    }

    /// Makes an API key for `user` with `scopes`; the key is returned once, its hash stored,
    /// its creation audited (id, user and scopes — never the key).
    pub fn create_key(&self, user: &str, scopes: &[Scope]) -> Result<NewKey> {
        week24_llm_app::ledger::check_user_id(user)
            .map_err(|e| crate::invalid("user", e.to_string()))?;
        if scopes.is_empty() {
            return Err(crate::invalid("scopes", "expected at least one scope"));
        }
        let key = keys::generate();
        let joined = Scope::join(scopes);
        lock(&self.inner.store)
            .execute(
                "INSERT INTO api_keys (id, user_id, scopes, hash) VALUES (?1, ?2, ?3, ?4)",
                params![key.id, user, joined, key.hash.to_vec()],
            )
            .map_err(|source| crate::ProdError::Db {
                context: "storing a key".into(),
                source,
            })?;
        self.inner.audit.append(
            "system",
            "key.create",
            json!({"key_id": key.id, "user": user, "scopes": joined}),
        )?;
        Ok(key)
    }

    // ANCHOR: rollback
    /// Puts production back on the version before it (week 26's rollback), loads that model and
    /// makes it serve; audited. Returns (from, to).
    pub fn rollback(&self, actor: &str, reason: &str) -> Result<(i64, i64)> {
        let from = self.version();
        let to = self.with_registry(|t| {
            t.rollback(MODEL, reason)
                .map_err(|e| crate::ProdError::Registry(e.to_string()))
        })?;
        let model = self.with_registry(|t| registry::load(t, to))?;
        *self.inner.served.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Served { version: to, model });
        self.inner.metrics.set_model_version(to);
        self.inner.audit.append(
            actor,
            "model.rollback",
            json!({"model": MODEL, "from": from, "to": to, "reason": reason}),
        )?;
        info!(from, to, "rolled back");
        Ok((from, to))
    }
    // ANCHOR_END: rollback

    /// Runs the retention job at `now_ms`.
    pub fn retention(&self, policy: &Policy, now_ms: i64) -> Result<retention::RetentionReport> {
        let mut store = lock(&self.inner.store);
        retention::run(&mut store, policy, now_ms, &self.inner.audit)
    }

    /// The routes, with the observing middleware around them all.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/v1/predict", post(predict))
            .route("/v1/chat/completions", post(chat))
            .route("/admin/rollback", post(rollback))
            .route("/admin/audit", get(audit))
            .route("/admin/model-card", get(model_card))
            .route("/admin/retention", post(run_retention))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(middleware::from_fn_with_state(self.clone(), observe))
            .with_state(self.clone())
    }
}

/// A request id as given, if it is one (1 to 64 of `A–Z a–z 0–9 . _ -`).
fn valid_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
    .then(|| s.to_string())
}

/// A fresh request id: 128 random bits in hex, the shape of a W3C trace id.
fn new_request_id() -> String {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    crate::hex(&b)
}

/// The id of the request a handler serves (put there by [`observe`]).
#[derive(Clone)]
struct RequestId(String);

// ANCHOR: observe
/// Around every request: the request id, the server span, the duration histogram, one log line.
async fn observe(State(s): State<Service>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(valid_request_id)
        .unwrap_or_else(new_request_id);
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let span = info_span!(
        "http.server",
        "otel.name" = format!("{method} {route}"),
        "otel.kind" = "server",
        request_id = %request_id,
        "http.request.method" = %method,
        "http.route" = %route,
        "url.path" = %req.uri().path(),
        "http.response.status_code" = field::Empty,
        "enduser.id" = field::Empty,
    );
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let seconds = start.elapsed().as_secs_f64();
    span.record("http.response.status_code", status);
    s.inner.metrics.observe(&method, &route, status, seconds);
    span.in_scope(|| {
        if status >= 500 {
            warn!(status, duration_ms = seconds * 1e3, "request failed");
        } else {
            info!(status, duration_ms = seconds * 1e3, "request done");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
// ANCHOR_END: observe

/// Who a request's key belongs to, once authenticated.
struct Caller {
    key_id: String,
    user: String,
}

// ANCHOR: authorize
/// Authenticates the bearer key of `headers` (401 without a valid one) and checks that it holds
/// `scope` (403 if not, or if revoked).
fn authorize(s: &Service, headers: &HeaderMap, scope: Scope) -> Result<Caller, Refused> {
    let span = info_span!(
        "authenticate",
        "auth.scope" = scope.name(),
        "auth.key_id" = field::Empty
    );
    let _enter = span.enter();
    // BEGIN SOLUTION authorize
    let unauthenticated = |m: &str| refuse(StatusCode::UNAUTHORIZED, "invalid_api_key", m);
    let token = keys::bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
    .ok_or_else(|| unauthenticated("send `Authorization: Bearer <key>`"))?;
    let (id, secret) = keys::parse(token).map_err(|_| unauthenticated("that is not an API key"))?;
    let row: Option<(String, String, Vec<u8>, i64)> = lock(&s.inner.store)
        .query_row(
            "SELECT user_id, scopes, hash, revoked FROM api_keys WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(|e| refuse(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string()))?;
    let Some((user, scopes, hash, revoked)) = row else {
        return Err(unauthenticated("unknown API key"));
    };
    if !keys::verify(secret, &hash) {
        return Err(unauthenticated("unknown API key"));
    }
    span.record("auth.key_id", id);
    if revoked != 0 {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "key_revoked",
            "this key was revoked",
        ));
    }
    let held = Scope::parse_list(&scopes).unwrap_or_default();
    if !held.contains(&scope) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("this route needs the `{}` scope", scope.name()),
        ));
    }
    Ok(Caller {
        key_id: id.to_string(),
        user,
    })
    // END SOLUTION
}
// ANCHOR_END: authorize

/// The body, or a 413 / 400 that says why not.
fn body(raw: Result<Bytes, BytesRejection>) -> Result<Value, Refused> {
    let bytes = raw.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than {MAX_BODY} bytes"),
            )
        } else {
            refuse(e.status(), "bad_body", e.body_text())
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not JSON: {e}"),
        )
    })
}

// ANCHOR: limits
/// The features and the comment of a prediction request, or a 422 naming what is wrong:
/// `features` must be exactly [`FEATURES`] finite numbers; `comment`, if present, a string of
/// at most [`MAX_COMMENT`] characters.
fn predict_input(v: &Value) -> Result<(Vec<f64>, Option<String>), Refused> {
    let bad = |m: String| refuse(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", m);
    // BEGIN SOLUTION limits
    let Some(items) = v.get("features").and_then(Value::as_array) else {
        return Err(bad(format!(
            "`features`: expected an array of {FEATURES} numbers"
        )));
    };
    if items.len() != FEATURES {
        return Err(bad(format!(
            "`features`: expected {FEATURES} numbers, got {}",
            items.len()
        )));
    }
    let mut features = Vec::with_capacity(FEATURES);
    for (i, x) in items.iter().enumerate() {
        match x.as_f64() {
            Some(f) if f.is_finite() => features.push(f),
            _ => {
                return Err(bad(format!(
                    "`features[{i}]`: expected a finite number, got {x}"
                )));
            }
        }
    }
    let comment = match v.get("comment") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if c.chars().count() <= MAX_COMMENT => Some(c.clone()),
        Some(Value::String(c)) => {
            return Err(bad(format!(
                "`comment`: at most {MAX_COMMENT} characters, got {}",
                c.chars().count()
            )));
        }
        Some(other) => return Err(bad(format!("`comment`: expected a string, got {other}"))),
    };
    Ok((features, comment))
    // END SOLUTION
}
// ANCHOR_END: limits

/// What a handler answers: a response, or a refusal that becomes one.
type Answer = Result<Response, Refused>;

/// [`authorize`], with the caller's user recorded on the server span (`enduser.id`).
fn caller(s: &Service, headers: &HeaderMap, scope: Scope) -> Result<Caller, Refused> {
    let c = authorize(s, headers, scope)?;
    tracing::Span::current().record("enduser.id", c.user.as_str());
    Ok(c)
}

/// Stores a request before it is answered, or refuses with a 503: a request the store could not
/// keep is not answered, so the client may safely send it again.
fn store(s: &Service, r: &StoredRequest) -> Result<(), Refused> {
    let _span = info_span!(
        "db.insert",
        "db.system" = "sqlite",
        "db.collection.name" = "requests"
    )
    .entered();
    s.with_store(|c| retention::insert(c, r))
        .map(drop)
        .map_err(|e| {
            warn!(error = %e, "the request could not be stored");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "try again",
            )
        })
}

/// A 500 that names what failed.
fn internal(code: &'static str, e: impl std::fmt::Display) -> Refused {
    refuse(StatusCode::INTERNAL_SERVER_ERROR, code, e.to_string())
}

async fn predict(
    State(s): State<Service>,
    axum::Extension(RequestId(rid)): axum::Extension<RequestId>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Answer {
    let caller = caller(&s, &headers, Scope::Chat)?;
    let (features, comment) = predict_input(&body(raw)?)?;
    if let Some(c) = &comment {
        info!(comment = %c, "prediction requested with a comment");
    }
    let served = s.served();
    let p = {
        let _span = info_span!(
            "model.predict",
            "model.name" = MODEL,
            "model.version" = served.version,
            "model.features" = FEATURES
        )
        .entered();
        let x = ndarray::Array1::from(features).insert_axis(ndarray::Axis(0));
        served.model.predict(&x)[0]
    };
    store(
        &s,
        &StoredRequest {
            request_id: rid.clone(),
            user_id: caller.user,
            kind: "predict".into(),
            at_ms: now_ms() as i64,
            legal_hold: false,
            status: 200,
            version: Some(served.version),
            comment: comment.as_deref().map(scrub),
        },
    )?;
    Ok(axum::Json(json!({
        "p_malignant": p,
        "label": if p >= 0.5 { "malignant" } else { "benign" },
        "model": MODEL,
        "version": served.version,
        "request_id": rid,
    }))
    .into_response())
}

/// The longest message of a chat request, characters; the most messages; the most tokens.
pub const MAX_MESSAGE: usize = 4_000;
pub const MAX_MESSAGES: usize = 16;
pub const MAX_TOKENS: u64 = 256;

/// The checked chat request: the body to forward (with `max_tokens` set) and the last user
/// message (what the store keeps, redacted).
fn chat_input(v: &Value) -> Result<(Value, String, u64), Refused> {
    let bad = |m: String| refuse(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", m);
    let Some(messages) = v.get("messages").and_then(Value::as_array) else {
        return Err(bad(
            "`messages`: expected an array of {role, content}".into()
        ));
    };
    if messages.is_empty() || messages.len() > MAX_MESSAGES {
        return Err(bad(format!(
            "`messages`: expected 1 to {MAX_MESSAGES} messages, got {}",
            messages.len()
        )));
    }
    let mut last_user = String::new();
    for (i, m) in messages.iter().enumerate() {
        let content = m
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("`messages[{i}].content`: expected a string")))?;
        if content.chars().count() > MAX_MESSAGE {
            return Err(bad(format!(
                "`messages[{i}].content`: at most {MAX_MESSAGE} characters, got {}",
                content.chars().count()
            )));
        }
        if m.get("role").and_then(Value::as_str) == Some("user") {
            last_user = content.to_string();
        }
    }
    if v.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(bad(
            "`stream`: this route answers whole completions (week 22 streams)".into(),
        ));
    }
    let max_tokens = match v.get("max_tokens") {
        None | Some(Value::Null) => 64,
        Some(m) => match m.as_u64() {
            Some(n) if (1..=MAX_TOKENS).contains(&n) => n,
            _ => {
                return Err(bad(format!(
                    "`max_tokens`: expected 1 to {MAX_TOKENS}, got {m}"
                )));
            }
        },
    };
    let mut forward = v.clone();
    forward["max_tokens"] = json!(max_tokens);
    Ok((forward, last_user, max_tokens))
}

/// `POST /v1/chat/completions`: authenticated, bounded, traced with the OpenTelemetry GenAI
/// conventions (`chat {model}`, token usage), stored redacted, answered by the language model.
async fn chat(
    State(s): State<Service>,
    axum::Extension(RequestId(rid)): axum::Extension<RequestId>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Answer {
    use tower::ServiceExt as _;
    let caller = caller(&s, &headers, Scope::Chat)?;
    let llm = s.inner.chat.get().ok_or_else(|| {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_model",
            "no language model is loaded",
        )
    })?;
    let (mut forward, prompt, max_tokens) = chat_input(&body(raw)?)?;
    // The service serves one language model: a request need not name it.
    forward["model"] = json!(llm.model);
    info!(prompt = %prompt, "chat requested");
    let span = info_span!(
        "gen_ai.client",
        "otel.name" = format!("chat {}", llm.model),
        "otel.kind" = "client",
        "gen_ai.operation.name" = "chat",
        "gen_ai.request.model" = %llm.model,
        "gen_ai.request.max_tokens" = max_tokens,
        "gen_ai.usage.input_tokens" = field::Empty,
        "gen_ai.usage.output_tokens" = field::Empty,
        "gen_ai.response.finish_reasons" = field::Empty,
    );
    let request = axum::http::Request::post("/v1/chat/completions")
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(forward.to_string()))
        .map_err(|e| internal("request", e))?;
    let response = match llm
        .router
        .clone()
        .oneshot(request)
        .instrument(span.clone())
        .await
    {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .map_err(|e| internal("model_answer", e))?;
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let usage = |k: &str| answer["usage"][k].as_u64().unwrap_or(0);
    span.record("gen_ai.usage.input_tokens", usage("prompt_tokens"));
    span.record("gen_ai.usage.output_tokens", usage("completion_tokens"));
    if let Some(reason) = answer["choices"][0]["finish_reason"].as_str() {
        span.record("gen_ai.response.finish_reasons", reason);
    }
    drop(span);
    store(
        &s,
        &StoredRequest {
            request_id: rid,
            user_id: caller.user,
            kind: "chat".into(),
            at_ms: now_ms() as i64,
            legal_hold: false,
            status: i64::from(status.as_u16()),
            version: None,
            comment: Some(scrub(&prompt)),
        },
    )?;
    Ok((status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

async fn rollback(
    State(s): State<Service>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Answer {
    let caller = caller(&s, &headers, Scope::Admin)?;
    let reason = match body(raw)?.get("reason").and_then(Value::as_str) {
        Some(r) if !r.trim().is_empty() && r.chars().count() <= MAX_REASON => scrub(r),
        _ => {
            return Err(refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                format!("`reason`: expected a non-empty string of at most {MAX_REASON} characters"),
            ));
        }
    };
    let span = tracing::Span::current();
    let (from, to) =
        tokio::task::spawn_blocking(move || span.in_scope(|| s.rollback(&caller.key_id, &reason)))
            .await
            .map_err(|e| internal("rollback_failed", e))?
            .map_err(|e| refuse(StatusCode::CONFLICT, "rollback_refused", e.to_string()))?;
    Ok(axum::Json(json!({"from": from, "to": to})).into_response())
}

async fn audit(State(s): State<Service>, headers: HeaderMap) -> Answer {
    caller(&s, &headers, Scope::Admin)?;
    let v = s
        .audit()
        .verify()
        .map_err(|e| internal("audit_unreadable", e))?;
    Ok(
        axum::Json(json!({"intact": v.intact(), "records": v.records, "problems": v.problems}))
            .into_response(),
    )
}

async fn model_card(State(s): State<Service>, headers: HeaderMap) -> Answer {
    caller(&s, &headers, Scope::Admin)?;
    let card = s
        .with_registry(|t| registry::model_card(t))
        .map_err(|e| internal("registry", e))?;
    Ok((
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        card,
    )
        .into_response())
}

async fn run_retention(State(s): State<Service>, headers: HeaderMap) -> Answer {
    caller(&s, &headers, Scope::Admin)?;
    let r = s
        .retention(&Policy::standard(), now_ms() as i64)
        .map_err(|e| internal("retention", e))?;
    Ok(axum::Json(json!(r)).into_response())
}

async fn readyz(State(s): State<Service>) -> Response {
    if s.inner.ready.load(Ordering::SeqCst) {
        axum::Json(json!({"ready": true, "version": s.version()})).into_response()
    } else {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "starting or draining",
        )
    }
}

async fn metrics(State(s): State<Service>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics().render(),
    )
        .into_response()
}

/// Serves `service` on `addr` (`127.0.0.1:0`: a free port) on the calling runtime; returns the
/// base URL.
pub async fn start(service: &Service, addr: &str) -> Result<String> {
    use crate::Context;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .during(format!("binding {addr}"))?;
    let base = format!(
        "http://{}",
        listener.local_addr().during("the bound address")?
    );
    let app = service.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}
