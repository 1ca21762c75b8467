//! The week 29 scorer: a logistic model behind HTTP, configured the way Kubernetes configures a
//! container — settings from the environment (a ConfigMap), the API token from a mounted file (a
//! Secret), and three endpoints for the kubelet's probes:
//!
//! - `GET /healthz` (liveness, startup): 200 while the process serves at all;
//! - `GET /readyz` (readiness): 200 once the model is loaded, 503 before and while draining;
//! - `GET /metrics`: Prometheus text, with the in-flight requests an HPA can scale on;
//! - `POST /v1/predict` `{"features": [..]}` → `{"probability": p}`, with `Authorization:
//!   Bearer <token>` when a token file is configured.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// A logistic model: p = σ(w·x + b).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub weights: Vec<f64>,
    pub bias: f64,
}

impl Model {
    /// The model served when no model file is configured.
    pub fn builtin() -> Model {
        Model {
            weights: vec![0.8, -0.4, 1.2, 0.5],
            bias: -0.3,
        }
    }

    /// The probability of the positive class; `features` must have one value per weight.
    pub fn predict(&self, features: &[f64]) -> Result<f64, String> {
        if features.len() != self.weights.len() {
            return Err(format!(
                "features: expected {} values, got {}",
                self.weights.len(),
                features.len()
            ));
        }
        if let Some(i) = features.iter().position(|v| !v.is_finite()) {
            return Err(format!("features[{i}]: expected a finite number"));
        }
        let z: f64 = self
            .weights
            .iter()
            .zip(features)
            .map(|(w, x)| w * x)
            .sum::<f64>()
            + self.bias;
        Ok(1.0 / (1.0 + (-z).exp()))
    }
}

/// The service's settings, read from environment variables (a ConfigMap's keys in Kubernetes).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `ADDR`, default `0.0.0.0:8029`.
    pub addr: String,
    /// `MODEL_PATH`: a JSON model file; the built-in model when unset.
    pub model_path: Option<PathBuf>,
    /// `TOKEN_FILE`: a file holding the API token (a mounted Secret); no authentication when unset.
    pub token_file: Option<PathBuf>,
    /// `WARMUP_MS`: how long loading takes (a stand-in for a large model's load), default 0.
    pub warmup_ms: u64,
}

impl Config {
    // ANCHOR: from_env
    /// Reads the settings through `var` (`std::env::var` in the binary); a bad value is an error
    /// naming the variable.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let warmup_ms = match var("WARMUP_MS") {
            None => 0,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("WARMUP_MS: expected milliseconds (an integer), got {v:?}"))?,
        };
        Ok(Config {
            addr: var("ADDR").unwrap_or_else(|| "0.0.0.0:8029".to_string()),
            model_path: var("MODEL_PATH")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            token_file: var("TOKEN_FILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            warmup_ms,
        })
    }
    // ANCHOR_END: from_env
}

/// What the handlers share.
#[derive(Debug, Default)]
pub struct AppState {
    model: RwLock<Option<Model>>,
    token: RwLock<Option<String>>,
    draining: AtomicBool,
    requests: AtomicU64,
    failed: AtomicU64,
    inflight: AtomicI64,
}

impl AppState {
    pub fn new() -> Arc<AppState> {
        Arc::new(AppState::default())
    }

    /// Whether /readyz answers 200.
    pub fn ready(&self) -> bool {
        self.model.read().map(|m| m.is_some()).unwrap_or(false)
            && !self.draining.load(Ordering::SeqCst)
    }

    /// Stops taking traffic: /readyz answers 503 from now on (SIGTERM's first step).
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// The requests now being served.
    pub fn inflight(&self) -> i64 {
        self.inflight.load(Ordering::SeqCst)
    }
}

/// Loads the token and the model as `config` says, after the warm-up; the service is ready
/// when this returns `Ok`.
pub async fn load(state: &AppState, config: &Config) -> Result<(), String> {
    if let Some(path) = &config.token_file {
        let token = std::fs::read_to_string(path)
            .map_err(|e| format!("TOKEN_FILE {}: {e}", path.display()))?;
        let token = token.trim().to_string();
        if token.is_empty() {
            return Err(format!("TOKEN_FILE {}: the file is empty", path.display()));
        }
        *state.token.write().map_err(|e| e.to_string())? = Some(token);
    }
    tokio::time::sleep(Duration::from_millis(config.warmup_ms)).await;
    let model = match &config.model_path {
        None => Model::builtin(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("MODEL_PATH {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("MODEL_PATH {}: not a model ({e})", path.display()))?
        }
    };
    if model.weights.is_empty()
        || model
            .weights
            .iter()
            .chain([&model.bias])
            .any(|v| !v.is_finite())
    {
        return Err("the model needs at least one weight, all finite".to_string());
    }
    *state.model.write().map_err(|e| e.to_string())? = Some(model);
    Ok(())
}

// ANCHOR: router
/// The service's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/v1/predict",
            post(predict).route_layer(middleware::from_fn_with_state(state.clone(), count)),
        )
        .with_state(state)
}

async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    if state.ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}
// ANCHOR_END: router

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let body = format!(
        "# HELP scorer_requests_total Prediction requests answered.\n# TYPE scorer_requests_total counter\nscorer_requests_total {}\n\
         # HELP scorer_failed_requests_total Prediction requests answered with an error.\n# TYPE scorer_failed_requests_total counter\nscorer_failed_requests_total {}\n\
         # HELP scorer_inflight_requests Prediction requests being served.\n# TYPE scorer_inflight_requests gauge\nscorer_inflight_requests {}\n\
         # HELP scorer_ready Whether the service takes traffic.\n# TYPE scorer_ready gauge\nscorer_ready {}\n",
        state.requests.load(Ordering::SeqCst),
        state.failed.load(Ordering::SeqCst),
        state.inflight(),
        u8::from(state.ready()),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// Counts requests in flight (the HPA's custom metric) and answered.
async fn count(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    state.inflight.fetch_add(1, Ordering::SeqCst);
    let response = next.run(request).await;
    state.inflight.fetch_sub(1, Ordering::SeqCst);
    state.requests.fetch_add(1, Ordering::SeqCst);
    if !response.status().is_success() {
        state.failed.fetch_add(1, Ordering::SeqCst);
    }
    response
}

#[derive(Deserialize)]
struct PredictRequest {
    features: Vec<f64>,
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

async fn predict(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let token = state.token.read().map(|t| t.clone()).unwrap_or(None);
    if let Some(token) = token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "Authorization: expected Bearer and the service's token".to_string(),
            );
        }
    }
    let request: PredictRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body: expected {{\"features\": [numbers]}} ({e})"),
            );
        }
    };
    let model = state.model.read().map(|m| m.clone()).unwrap_or(None);
    let Some(model) = model else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the model is still loading".to_string(),
        );
    };
    match model.predict(&request.features) {
        Ok(p) => Json(serde_json::json!({ "probability": p })).into_response(),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
    }
}
