//! The HTTP service: routes, validation errors as 4xx, Prometheus metrics, JSON logs with request
//! ids, timeouts, a body limit and graceful shutdown.

use crate::inference::{FieldError, Prediction, kind, predict, validate_record};
use crate::model::ModelArtifact;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;

/// Limits of the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Most records in one request.
    pub max_batch: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// A request that takes longer is answered 408.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_batch: 256,
            max_body_bytes: 256 * 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Prometheus metrics of the service.
pub struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub predictions: IntCounterVec,
    pub model: IntGaugeVec,
    pub in_flight: prometheus::IntGauge,
}

impl Metrics {
    fn new(model_version: &str) -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Request latency by route")
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    1.0,
                ]),
            &["route"],
        )
        .expect("valid metric");
        let predictions = IntCounterVec::new(
            Opts::new("predictions_total", "Predictions by predicted class"),
            &["class"],
        )
        .expect("valid metric");
        let model = IntGaugeVec::new(
            Opts::new("model_info", "The model being served (value 1)"),
            &["version"],
        )
        .expect("valid metric");
        let in_flight =
            prometheus::IntGauge::new("http_requests_in_flight", "Requests being handled now")
                .expect("valid metric");
        for m in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(predictions.clone()),
            Box::new(model.clone()),
            Box::new(in_flight.clone()),
        ] {
            registry.register(m).expect("unique metric names");
        }
        model.with_label_values(&[model_version]).set(1);
        Self {
            registry,
            requests,
            latency,
            predictions,
            model,
            in_flight,
        }
    }
}

/// Everything a handler needs.
pub struct AppState {
    pub model: ModelArtifact,
    pub limits: Limits,
    pub metrics: Metrics,
    /// False until serving starts, and again once shutdown begins.
    pub ready: AtomicBool,
}

impl AppState {
    pub fn new(model: ModelArtifact, limits: Limits) -> Arc<Self> {
        let metrics = Metrics::new(&model.model_version);
        Arc::new(Self {
            model,
            limits,
            metrics,
            ready: AtomicBool::new(false),
        })
    }
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// One entry per bad field (validation errors only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

fn error(status: StatusCode, message: impl Into<String>, fields: Vec<FieldError>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: message.into(),
            fields,
        }),
    )
        .into_response()
}

/// A successful prediction answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PredictResponse {
    pub model_version: String,
    pub predictions: Vec<Prediction>,
}

/// The request body, as documented: one record (feature name → number) or `{"records": [...]}`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PredictRequest {
    Batch {
        records: Vec<std::collections::BTreeMap<String, f64>>,
    },
    One(std::collections::BTreeMap<String, f64>),
}

/// Predicts the class of one record or of a batch.
#[utoipa::path(post, path = "/v1/predict", request_body = PredictRequest,
    responses((status = 200, body = PredictResponse), (status = 400, body = ErrorBody, description = "malformed JSON"),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "invalid fields, or too many records")))]
async fn predict_handler(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is larger than {} bytes",
                    state.limits.max_body_bytes
                ),
                vec![],
            );
        }
        Err(e) => return error(e.status(), e.body_text(), vec![]),
    };
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json_type {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON with `Content-Type: application/json`",
            vec![],
        );
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("malformed JSON: {e}"),
                vec![],
            );
        }
    };
    let records: Vec<(String, &serde_json::Map<String, Value>)> = match &value {
        Value::Object(map) if map.contains_key("records") => match &map["records"] {
            Value::Array(items) => {
                if items.is_empty() {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "`records` is empty",
                        vec![],
                    );
                }
                if items.len() > state.limits.max_batch {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!(
                            "{} records: at most {} per request",
                            items.len(),
                            state.limits.max_batch
                        ),
                        vec![],
                    );
                }
                let mut out = Vec::with_capacity(items.len());
                let mut bad = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Object(m) => out.push((format!("records[{i}]"), m)),
                        other => bad.push(FieldError {
                            field: format!("records[{i}]"),
                            problem: format!("must be an object, got {}", kind(other)),
                        }),
                    }
                }
                if let Some(extra) = map.keys().find(|k| *k != "records") {
                    bad.push(FieldError {
                        field: extra.clone(),
                        problem: "unknown field".into(),
                    });
                }
                if !bad.is_empty() {
                    return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid request", bad);
                }
                out
            }
            other => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("`records` must be an array, got {}", kind(other)),
                    vec![],
                );
            }
        },
        Value::Object(map) => vec![(String::new(), map)],
        other => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "the body must be an object (one record) or {{\"records\": [...]}}, got {}",
                    kind(other)
                ),
                vec![],
            );
        }
    };
    let mut fields = Vec::new();
    let mut predictions = Vec::with_capacity(records.len());
    for (prefix, record) in records {
        match validate_record(record, &state.model, &prefix) {
            Ok(values) => predictions.push(predict(&state.model, &values)),
            Err(mut e) => fields.append(&mut e),
        }
    }
    if !fields.is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid fields", fields);
    }
    for p in &predictions {
        state
            .metrics
            .predictions
            .with_label_values(&[p.class.as_str()])
            .inc();
    }
    Json(PredictResponse {
        model_version: state.model.model_version.clone(),
        predictions,
    })
    .into_response()
}

/// The model being served: version, features, classes, training metrics, content hash.
#[utoipa::path(get, path = "/v1/model", responses((status = 200, description = "model metadata")))]
async fn model_handler(State(state): State<Arc<AppState>>) -> Json<Value> {
    let m = &state.model;
    Json(json!({
        "model_version": m.model_version, "format_version": m.format_version, "content_hash": m.content_hash,
        "classes": m.classes, "features": m.features, "metrics": m.metrics,
        "limits": {"max_batch": state.limits.max_batch, "max_body_bytes": state.limits.max_body_bytes, "timeout_ms": state.limits.timeout.as_millis() as u64},
    }))
}

/// Alive: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: the model is loaded and the service is not shutting down.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.ready.load(Ordering::SeqCst) {
        Json(json!({"status": "ready", "model_version": state.model.model_version})).into_response()
    } else {
        error(StatusCode::SERVICE_UNAVAILABLE, "not ready", vec![])
    }
}

/// Prometheus metrics, text exposition format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format")))]
async fn metrics_handler(State(state): State<Arc<AppState>>) -> Response {
    let mut out = Vec::new();
    match TextEncoder::new().encode(&state.metrics.registry.gather(), &mut out) {
        Ok(()) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), vec![]),
    }
}

/// The OpenAPI document of the service, generated from the Rust types and handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "week08 ML service",
        description = "Breast-cancer classifier served with axum"
    ),
    paths(predict_handler, model_handler, healthz, readyz, metrics_handler),
    components(schemas(PredictRequest, PredictResponse, Prediction, ErrorBody, FieldError))
)]
pub struct ApiDoc;

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Request ids: a per-process prefix and a counter, short and unique.
#[derive(Clone)]
struct Ids(Arc<(String, AtomicU64)>);

impl MakeRequestId for Ids {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.0.1.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:06}", self.0.0))
            .ok()
            .map(RequestId::new)
    }
}

/// Counts, times and logs every request (one JSON log line each).
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().clone();
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let start = Instant::now();
    state.metrics.in_flight.inc();
    let response = next.run(request).await;
    state.metrics.in_flight.dec();
    let seconds = start.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    state
        .metrics
        .requests
        .with_label_values(&[route.as_str(), status.as_str()])
        .inc();
    state
        .metrics
        .latency
        .with_label_values(&[route.as_str()])
        .observe(seconds);
    tracing::info!(request_id = %id, method = %method, route = %route, status = %status, latency_ms = seconds * 1e3, "request");
    response
}

/// The service's routes and layers.
pub fn router(state: Arc<AppState>) -> Router {
    let prefix = format!("{:x}", std::process::id());
    let ids = Ids(Arc::new((prefix, AtomicU64::new(0))));
    Router::new()
        .route("/v1/predict", post(predict_handler))
        .route("/v1/model", get(model_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .route("/openapi.json", get(openapi))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.limits.timeout,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(ids))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes; then stops accepting, reports not ready, and
/// finishes the requests in flight before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.ready.store(true, Ordering::SeqCst);
    let app = router(state.clone());
    let flag = state.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            flag.ready.store(false, Ordering::SeqCst);
        })
        .await
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received: finishing requests in flight");
}
