//! Online inference: a neural network behind an axum endpoint, its requests gathered into batches
//! by [`wb_serve::Batcher`]. A batch of 32 rows costs one matrix product through each layer
//! where 32 single requests cost 32 matrix-vector products and 32 rounds of per-call overhead.

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarMap};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use wb_data::SplitMix64;
use wb_serve::{BatchConfig, BatchError, BatchStats, Batcher};
use wb_train::{FitConfig, LrSchedule, Task};

use crate::model::{FEATURES, ScoringModel};

/// One row of features, in [`FEATURES`] order.
pub type Row = [f32; FEATURES.len()];

/// Width of the network's two hidden layers.
pub const HIDDEN: usize = 512;

/// A multilayer perceptron 6 → 512 → 512 → 1 on standardised features, giving P(fraud).
pub struct Mlp {
    layers: [Linear; 3],
    mean: Tensor,
    scale: Tensor,
    device: Device,
}

impl Mlp {
    fn new(varmap: &VarMap, standard: &ScoringModel, seed: u64, device: &Device) -> Result<Self> {
        let vb = wb_train::init::seeded(varmap, seed, DType::F32, device);
        let d = FEATURES.len();
        let row = |v: &[f64]| -> Result<Tensor> {
            let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Ok(Tensor::from_vec(v, (1, d), device)?)
        };
        Ok(Self {
            layers: [
                candle_nn::linear(d, HIDDEN, vb.pp("fc1"))?,
                candle_nn::linear(HIDDEN, HIDDEN, vb.pp("fc2"))?,
                candle_nn::linear(HIDDEN, 1, vb.pp("fc3"))?,
            ],
            mean: row(&standard.mean)?,
            scale: row(&standard.scale)?,
            device: device.clone(),
        })
    }

    /// Logits `[n, 1]` of raw feature rows `[n, 6]`.
    fn logits(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = x.broadcast_sub(&self.mean)?.broadcast_div(&self.scale)?;
        let x = self.layers[0].forward(&x)?.relu()?;
        let x = self.layers[1].forward(&x)?.relu()?;
        self.layers[2].forward(&x)
    }

    /// P(fraud) of each row: one forward pass for the whole batch.
    pub fn predict(&self, rows: &[Row]) -> Result<Vec<f32>> {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let x = Tensor::from_vec(flat, (rows.len(), FEATURES.len()), &self.device)?;
        Ok(candle_nn::ops::sigmoid(&self.logits(&x)?)?
            .flatten_all()?
            .to_vec1()?)
    }
}

struct FraudTask<'a> {
    mlp: &'a Mlp,
    x: Tensor,
    y: Tensor,
}

impl Task for FraudTask<'_> {
    fn train_loss(&mut self, batch: &[usize], _: &mut SplitMix64) -> candle_core::Result<Tensor> {
        let idx = Tensor::from_vec(
            batch.iter().map(|&i| i as u32).collect::<Vec<_>>(),
            batch.len(),
            self.x.device(),
        )?;
        let logits = self.mlp.logits(&self.x.index_select(&idx, 0)?)?;
        candle_nn::loss::binary_cross_entropy_with_logit(&logits, &self.y.index_select(&idx, 0)?)
    }

    fn evaluate(&mut self) -> candle_core::Result<Vec<(String, f64)>> {
        Ok(vec![])
    }
}

/// Trains the network on feature columns and labels (AdamW, cosine decay, batches of 256).
pub fn train_mlp(
    columns: &[Vec<f64>],
    labels: &[bool],
    standard: &ScoringModel,
    epochs: usize,
    seed: u64,
) -> Result<(Mlp, f64)> {
    let device = wb_train::device();
    let n = labels.len();
    let d = FEATURES.len();
    let flat: Vec<f32> = (0..n)
        .flat_map(|i| columns.iter().map(move |c| c[i] as f32))
        .collect();
    let x = Tensor::from_vec(flat, (n, d), &device)?;
    let y = Tensor::from_vec(
        labels
            .iter()
            .map(|&b| f32::from(u8::from(b)))
            .collect::<Vec<_>>(),
        (n, 1),
        &device,
    )?;
    let varmap = VarMap::new();
    let mlp = Mlp::new(&varmap, standard, seed, &device)?;
    let vars = wb_train::named_vars(&varmap);
    let mut opt = wb_train::adamw(&vars, 1e-3)?;
    let batch = 256;
    let steps = epochs * n.div_ceil(batch);
    let mut cfg = FitConfig::new(epochs, batch, LrSchedule::cosine(1e-3, 0.0, steps.max(1))?);
    cfg.seed = seed;
    let mut task = FraudTask { mlp: &mlp, x, y };
    let report = wb_train::fit(&mut task, &vars, &mut opt, n, &cfg)?;
    let loss = report.epochs.last().map_or(f64::NAN, |e| e.train_loss);
    Ok((mlp, loss))
}

/// What the endpoint answers for one row.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Scored {
    pub score: f32,
    /// How many requests shared this one's forward pass.
    pub batch_size: usize,
}

/// The service's state: the batcher in front of the network, and each request's deadline.
pub struct AppState {
    pub batcher: Batcher<Row, Scored>,
    pub deadline: Duration,
}

impl AppState {
    /// Starts the batcher's worker on `mlp`.
    pub fn new(mlp: Arc<Mlp>, config: BatchConfig, deadline: Duration) -> Result<Arc<Self>> {
        Self::with_model(config, deadline, move |rows: Vec<Row>| {
            mlp.predict(&rows).map_err(|e| e.to_string())
        })
    }

    /// Starts the batcher's worker on any model of rows (the checks use a slow one).
    pub fn with_model(
        config: BatchConfig,
        deadline: Duration,
        mut model: impl FnMut(Vec<Row>) -> Result<Vec<f32>, String> + Send + 'static,
    ) -> Result<Arc<Self>> {
        let batcher = Batcher::start(config, move |rows: Vec<Row>| {
            let n = rows.len();
            Ok(model(rows)?
                .into_iter()
                .map(|score| Scored {
                    score,
                    batch_size: n,
                })
                .collect())
        })?;
        Ok(Arc::new(Self { batcher, deadline }))
    }
}

/// A JSON error answer.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

// ANCHOR: parse_row
/// The row of a request body: an object with each of [`FEATURES`] as a finite number, nothing
/// else. Every problem is named.
pub fn parse_row(body: &Value) -> Result<Row, String> {
    let Some(object) = body.as_object() else {
        return Err(format!(
            "expected a JSON object of the features {FEATURES:?}"
        ));
    };
    // BEGIN SOLUTION parse_row
    let mut row = [0f32; FEATURES.len()];
    let mut problems = Vec::new();
    for (j, name) in FEATURES.iter().enumerate() {
        match object.get(*name).map(|v| v.as_f64()) {
            None => problems.push(format!("`{name}` is missing")),
            Some(None) => problems.push(format!("`{name}` is not a number")),
            Some(Some(v)) if !v.is_finite() || v.abs() > 1e30 => {
                problems.push(format!("`{name}` is out of range ({v})"));
            }
            Some(Some(v)) => row[j] = v as f32,
        }
    }
    let unknown: Vec<&String> = object
        .keys()
        .filter(|k| !FEATURES.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        problems.push(format!("unknown fields {unknown:?}"));
    }
    if problems.is_empty() {
        Ok(row)
    } else {
        Err(problems.join("; "))
    }
    // END SOLUTION
}
// ANCHOR_END: parse_row

// ANCHOR: score_handler
async fn score(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not JSON: {e}")),
    };
    let row = match parse_row(&value) {
        Ok(row) => row,
        Err(problems) => return error(StatusCode::UNPROCESSABLE_ENTITY, problems),
    };
    match state.batcher.submit(row, state.deadline).await {
        Ok(scored) => Json(scored).into_response(),
        Err(BatchError::Full { retry_after, .. }) => {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded: the queue is full",
            );
            // Whole seconds, rounded up (RFC 9110), never 0.
            let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            r
        }
        Err(BatchError::ShuttingDown) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        Err(BatchError::DeadlineExceeded) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!("no answer within the deadline ({:?})", state.deadline),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
// ANCHOR_END: score_handler

async fn healthz(State(state): State<Arc<AppState>>) -> Json<Value> {
    let s = state.batcher.stats();
    let c = state.batcher.config();
    Json(json!({
        "status": "ok",
        "max_batch": c.max_batch,
        "max_wait_ms": c.max_wait.as_secs_f64() * 1e3,
        "queue": c.queue,
        "queued": s.queued,
        "batches": s.batches,
        "items": s.items,
        "mean_batch": s.items as f64 / s.batches.max(1) as f64,
        "rejected": s.rejected,
        "expired": s.expired,
        "cancelled": s.cancelled,
    }))
}

/// The routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/score", post(score))
        .route("/healthz", get(healthz))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops taking connections, answers every request it
/// accepted, drains the batcher and returns its statistics.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<BatchStats> {
    axum::serve(listener, router(Arc::clone(&state)))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")?;
    state.batcher.shutdown().await;
    Ok(state.batcher.stats())
}

/// A request body for `row`.
pub fn body(row: &Row) -> String {
    let object: Map<String, Value> = FEATURES
        .iter()
        .zip(row)
        .map(|(k, &v)| (k.to_string(), json!(v)))
        .collect();
    Value::Object(object).to_string()
}
