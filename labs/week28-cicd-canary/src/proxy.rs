//! The canary over real HTTP: two model servers (the registry's production and staging
//! versions, each able to inject errors and delay), and a router in front of them that splits
//! by the hashed user id, records each arm's errors and latencies, and a controller that judges
//! each step and moves the weight — up the steps, or to 0.

use crate::canary::{Arm, ArmStats, Policy, StepVerdict, assign, judge};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use week26_tracking_registry::sweep::Model;

/// Faults a model server injects: a share of its answers fail (evenly spread: the n-th request
/// fails when ⌊n·rate⌋ steps up, so any 100 requests hold the same number of failures), and
/// every answer is delayed.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Faults {
    pub error_rate: f64,
    pub extra_ms: u64,
}

#[derive(Clone)]
struct Backend {
    model: Arc<Model>,
    version: i64,
    faults: Faults,
    count: Arc<AtomicU64>,
}

/// A model server: `POST /predict` with `{"features": [30 numbers]}` answers
/// `{"p": P(malignant), "version": v}`, or a 500 at the injected rate.
pub fn model_server(model: Model, version: i64, faults: Faults) -> Router {
    let state = Backend {
        model: Arc::new(model),
        version,
        faults,
        count: Arc::new(AtomicU64::new(0)),
    };
    Router::new()
        .route("/predict", post(predict))
        .with_state(state)
}

async fn predict(State(b): State<Backend>, body: Bytes) -> Response {
    let n = b.count.fetch_add(1, Ordering::SeqCst) as f64;
    let rate = b.faults.error_rate;
    let fail = ((n + 1.0) * rate).floor() > (n * rate).floor();
    if b.faults.extra_ms > 0 {
        tokio::time::sleep(Duration::from_millis(b.faults.extra_ms)).await;
    }
    if fail {
        return (StatusCode::INTERNAL_SERVER_ERROR, "injected failure").into_response();
    }
    let features: Option<Vec<f64>> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| serde_json::from_value(v["features"].clone()).ok());
    match features {
        Some(f) if f.len() == b.model.weights.len() && f.iter().all(|x| x.is_finite()) => {
            let x = ndarray::Array2::from_shape_vec((1, f.len()), f).unwrap_or_default();
            let p = b.model.predict(&x).first().copied().unwrap_or(f64::NAN);
            axum::Json(json!({"p": p, "version": b.version})).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            format!(
                "expected {{\"features\": [{} finite numbers]}}",
                b.model.weights.len()
            ),
        )
            .into_response(),
    }
}

/// The router's shared state: the canary's weight, what each arm saw in the current step, and
/// the controller's verdicts.
pub struct Rollout {
    pub salt: String,
    pub weight_bp: AtomicU64,
    pub done: AtomicBool,
    pub promoted: AtomicBool,
    stats: Mutex<(ArmStats, ArmStats)>,
    pub verdicts: Mutex<Vec<StepVerdict>>,
    pub served: AtomicU64,
    pub failed: AtomicU64,
}

impl Rollout {
    pub fn new(salt: &str, first_bp: u64) -> Self {
        Self {
            salt: salt.into(),
            weight_bp: AtomicU64::new(first_bp),
            done: AtomicBool::new(false),
            promoted: AtomicBool::new(false),
            stats: Mutex::new((ArmStats::default(), ArmStats::default())),
            verdicts: Mutex::new(Vec::new()),
            served: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }
}

#[derive(Clone)]
struct RouterState {
    rollout: Arc<Rollout>,
    client: reqwest::Client,
    stable: String,
    canary: String,
}

/// The canary router: `POST /predict` with an `x-user` header goes to the arm the user's hash
/// and the current weight choose (the answer says which in `x-arm`); `GET /rollout` shows the
/// weight and the verdicts so far.
pub fn canary_router(rollout: Arc<Rollout>, stable: String, canary: String) -> Router {
    let state = RouterState {
        rollout,
        client: reqwest::Client::new(),
        stable,
        canary,
    };
    Router::new()
        .route("/predict", post(route))
        .route("/rollout", get(status))
        .with_state(state)
}

async fn status(State(s): State<RouterState>) -> Response {
    let verdicts = s.rollout.verdicts.lock().map(|v| v.len()).unwrap_or(0);
    axum::Json(json!({
        "canary_bp": s.rollout.weight_bp.load(Ordering::SeqCst),
        "steps_judged": verdicts,
        "done": s.rollout.done.load(Ordering::SeqCst),
        "promoted": s.rollout.promoted.load(Ordering::SeqCst),
    }))
    .into_response()
}

// ANCHOR: route
async fn route(State(s): State<RouterState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(user) = headers
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .filter(|u| !u.is_empty())
    else {
        return (
            StatusCode::BAD_REQUEST,
            "an x-user header is required: it decides the arm",
        )
            .into_response();
    };
    let weight = s.rollout.weight_bp.load(Ordering::SeqCst);
    let arm = match assign(&s.rollout.salt, user, weight) {
        Ok(a) => a,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let base = if arm == Arm::Canary {
        &s.canary
    } else {
        &s.stable
    };
    let start = Instant::now();
    let answer = s
        .client
        .post(format!("{base}/predict"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let (status, bytes) = match answer {
        Ok(r) => (r.status(), r.bytes().await.unwrap_or_default()),
        Err(_) => (
            reqwest::StatusCode::BAD_GATEWAY,
            Bytes::from_static(b"the model server did not answer"),
        ),
    };
    let ok = status.is_success();
    s.rollout.served.fetch_add(1, Ordering::SeqCst);
    if !ok {
        s.rollout.failed.fetch_add(1, Ordering::SeqCst);
    }
    // Only traffic at the current weight counts for the step being judged.
    if let Ok(mut st) = s.rollout.stats.lock()
        && s.rollout.weight_bp.load(Ordering::SeqCst) == weight
    {
        let side = if arm == Arm::Canary {
            &mut st.1
        } else {
            &mut st.0
        };
        side.record(ok, ms);
    }
    let code = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    (
        code,
        [(
            "x-arm",
            if arm == Arm::Canary {
                "canary"
            } else {
                "stable"
            },
        )],
        bytes,
    )
        .into_response()
}
// ANCHOR_END: route

/// The controller: every 10 ms, once the canary has seen enough requests at the current step,
/// judges it and moves the weight to the next step, or to 0 on a rollback. Ends promoted at the
/// last step (100 %) or rolled back.
pub async fn control(rollout: Arc<Rollout>, policy: Policy) {
    let last = policy.steps_bp.len().saturating_sub(1);
    let mut step = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if step >= last {
            rollout.promoted.store(true, Ordering::SeqCst);
            rollout.done.store(true, Ordering::SeqCst);
            return;
        }
        let judged = {
            let Ok(mut st) = rollout.stats.lock() else {
                return;
            };
            if st.1.requests < policy.min_canary_requests {
                continue;
            }
            let verdict = judge(&policy, policy.steps_bp[step], &st.0, &st.1);
            *st = (ArmStats::default(), ArmStats::default());
            verdict
        };
        let Ok(verdict) = judged else {
            rollout.done.store(true, Ordering::SeqCst);
            return;
        };
        let back = verdict.rollback.is_some();
        if let Ok(mut v) = rollout.verdicts.lock() {
            v.push(verdict);
        }
        if back {
            rollout.weight_bp.store(0, Ordering::SeqCst);
            rollout.done.store(true, Ordering::SeqCst);
            return;
        }
        step += 1;
        rollout
            .weight_bp
            .store(policy.steps_bp[step], Ordering::SeqCst);
    }
}
