//! The HTTP service: `POST /v1/predict` (a PNG as raw bytes or a multipart upload, or JSON
//! pixels) through a dynamic batcher, `/healthz`, `/readyz`, `/metrics`; ready only once the
//! model is loaded, and not ready any more once shutting down.

use anyhow::Result;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use candle_core::Device;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
};
use serde::Serialize;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wb_models::digit_cnn::{CnnMeta, DigitCnn};
use wb_serve::{BatchConfig, BatchError, BatchStats, Batcher};

use crate::images::{ImageError, MAX_BODY_BYTES, decode_png, json_pixels};

/// One image's answer from the model: its class probabilities, and the size of its batch.
type Answer = (Vec<f32>, usize);

/// The model, once loaded, behind its batcher.
struct Ready {
    batcher: Batcher<Vec<f32>, Answer>,
    meta: CnnMeta,
}

/// The service's Prometheus metrics.
struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    batch_size: Histogram,
    queued: IntGauge,
}

impl Metrics {
    fn new() -> Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &["route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer, by route")
                .buckets(prometheus::exponential_buckets(0.000_25, 2.0, 16)?),
            &["route"],
        )?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("inference_batch_size", "Images per forward pass")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
        )?;
        let queued = IntGauge::new("inference_queue_depth", "Requests waiting for the model")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        registry.register(Box::new(queued.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            batch_size,
            queued,
        })
    }
}

/// How the service batches and how long a request may wait.
#[derive(Debug, Clone, Copy)]
pub struct ServiceConfig {
    pub batch: BatchConfig,
    pub deadline: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            batch: BatchConfig {
                max_batch: 32,
                max_wait: Duration::from_millis(2),
                queue: 256,
            },
            deadline: Duration::from_secs(2),
        }
    }
}

/// The service's state: the model once it is installed, metrics, and whether it is stopping.
pub struct AppState {
    ready: OnceLock<Ready>,
    shutting_down: AtomicBool,
    metrics: Metrics,
    config: ServiceConfig,
}

impl AppState {
    /// A service with no model yet: it answers `/healthz`, and 503 everywhere else until
    /// [`AppState::install`].
    pub fn new(config: ServiceConfig) -> Result<Arc<Self>> {
        config.batch.check()?;
        Ok(Arc::new(Self {
            ready: OnceLock::new(),
            shutting_down: AtomicBool::new(false),
            metrics: Metrics::new()?,
            config,
        }))
    }

    /// Puts `model` (on `device`) behind the batcher: from now on the service is ready.
    pub fn install(&self, model: DigitCnn, device: Device) -> Result<()> {
        let meta = model.meta.clone();
        let sizes = self.metrics.batch_size.clone();
        let batcher = Batcher::start(self.config.batch, move |images: Vec<Vec<f32>>| {
            let n = images.len();
            sizes.observe(n as f64);
            let flat: Vec<f32> = images.concat();
            let p = model
                .probabilities(&flat, &device)
                .map_err(|e| e.to_string())?;
            Ok(p.into_iter().map(|p| (p, n)).collect())
        })?;
        self.ready
            .set(Ready { batcher, meta })
            .map_err(|_| anyhow::anyhow!("a model is installed already"))
    }

    /// True once a model is installed and until shutdown begins.
    pub fn is_ready(&self) -> bool {
        self.ready.get().is_some() && !self.shutting_down.load(Ordering::SeqCst)
    }

    /// The batcher's statistics (empty before the model is installed).
    pub fn stats(&self) -> BatchStats {
        self.ready
            .get()
            .map(|r| r.batcher.stats())
            .unwrap_or_default()
    }
}

/// A JSON error answer.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

fn retry_after(mut r: Response, secs: u64) -> Response {
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}

/// What `POST /v1/predict` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub class: usize,
    pub label: String,
    pub probability: f32,
    pub probabilities: Vec<f32>,
    /// How many images shared this one's forward pass.
    pub batch_size: usize,
}

// ANCHOR: read_image
/// The pixels of a request: by its content type, a PNG (raw or in a multipart field named
/// `image`) or JSON pixels.
async fn read_image(headers: &HeaderMap, request: Request) -> Result<Vec<f32>, ImageError> {
    // BEGIN SOLUTION read_image
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| ImageError::Damaged(format!("not a multipart form: {e}")))?;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ImageError::Damaged(format!("a damaged multipart form: {e}")))?
        {
            if field.name() == Some("image") {
                let bytes = field.bytes().await.map_err(|e| match e.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ImageError::TooLarge,
                    _ => ImageError::Damaged(e.body_text()),
                })?;
                return decode_png(&bytes);
            }
        }
        return Err(ImageError::Damaged(
            "the multipart form has no field named `image`".into(),
        ));
    }
    let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ImageError::TooLarge)?;
    if content_type.starts_with("application/json") {
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::Damaged(format!("not JSON: {e}")))?;
        return json_pixels(&value);
    }
    decode_png(&bytes)
    // END SOLUTION
}
// ANCHOR_END: read_image

async fn predict(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let Some(ready) = state.ready.get() else {
        return retry_after(
            error(StatusCode::SERVICE_UNAVAILABLE, "the model is loading"),
            1,
        );
    };
    let headers = request.headers().clone();
    let pixels = match read_image(&headers, request).await {
        Ok(p) => p,
        Err(e) => return error(e.status(), e.to_string()),
    };
    match ready.batcher.submit(pixels, state.config.deadline).await {
        Ok((probabilities, batch_size)) => {
            let (class, &probability) = probabilities
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap_or((0, &0.0));
            Json(Prediction {
                class,
                label: ready.meta.classes.get(class).cloned().unwrap_or_default(),
                probability,
                probabilities,
                batch_size,
            })
            .into_response()
        }
        Err(BatchError::Full {
            retry_after: wait, ..
        }) => retry_after(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded: the queue is full",
            ),
            wait.as_secs_f64().ceil() as u64,
        ),
        Err(BatchError::ShuttingDown) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        Err(BatchError::DeadlineExceeded) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "no answer within the deadline ({:?})",
                state.config.deadline
            ),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.ready.get() {
        Some(_) if state.shutting_down.load(Ordering::SeqCst) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
        }
        Some(ready) => Json(json!({
            "status": "ready",
            "model": ready.meta.architecture,
            "weights_sha256": ready.meta.weights_sha256,
            "test_accuracy": ready.meta.test_accuracy,
        }))
        .into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "the model is loading"),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    state.metrics.queued.set(state.stats().queued as i64);
    let mut out = Vec::new();
    match prometheus::TextEncoder::new().encode(&state.metrics.registry.gather(), &mut out) {
        Ok(()) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Counts every answer and its latency, by route and status.
async fn observe(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("other", |p| p.as_str())
        .to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let m = &state.metrics;
    m.requests
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    m.latency
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/predict", post(predict))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A bug that panics in a handler answers 500 with a message (and is counted), instead
        // of a connection closed without an answer; the service goes on serving.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the service failed on this request (a bug, logged); it goes on serving",
                )
            },
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            observe,
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves; then reports not ready, stops accepting connections, answers
/// every request it accepted, drains the batcher and returns its statistics.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<BatchStats> {
    let stopping = Arc::clone(&state);
    axum::serve(listener, router(Arc::clone(&state)))
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.shutting_down.store(true, Ordering::SeqCst);
        })
        .await?;
    if let Some(ready) = state.ready.get() {
        ready.batcher.shutdown().await;
    }
    Ok(state.stats())
}
