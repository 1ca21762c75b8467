//! Grader checks for week 8: the ML service, started in-process on a free loopback port.
//!
//! References: the model's own parameters (predictions recomputed here independently), HTTP
//! status codes the issue and RFC 9110 prescribe, and hand-made hostile requests.

use grader::{Called, Failure, Outcome, Tol, check, close, ensure, expect_err};
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use wb_data::SplitMix64;
use week08_ml_service::model::{ModelArtifact, content_hash, train};
use week08_ml_service::reqwest;
use week08_ml_service::service::{AppState, Limits, serve};
use week08_ml_service::tokio;
use week08_ml_service::tokio::io::{AsyncReadExt, AsyncWriteExt};

fn model() -> Result<ModelArtifact, Failure> {
    train(
        &wb_data::dataset("tabular/breast_cancer.csv").called("breast_cancer.csv")?,
        42,
    )
    .called("train")
}

/// The breast-cancer rows as request records, and their features in order.
/// Each row as a request record, and as values in feature order.
type Rows = (Vec<Map<String, Value>>, Vec<Vec<f64>>);

fn rows() -> Result<Rows, Failure> {
    let (t, _) = wb_data::read_labelled_csv(
        &wb_data::dataset("tabular/breast_cancer.csv").called("csv")?,
        "diagnosis",
    )
    .called("read")?;
    let values: Vec<Vec<f64>> = t.data.rows().into_iter().map(|r| r.to_vec()).collect();
    let records = values
        .iter()
        .map(|v| {
            t.columns
                .iter()
                .cloned()
                .zip(v.iter().map(|x| json!(x)))
                .collect()
        })
        .collect();
    Ok((records, values))
}

/// P(malignant) computed here from the artifact's parameters: an independent reference.
fn expected_probability(m: &ModelArtifact, x: &[f64]) -> f64 {
    let z: f64 = (0..x.len())
        .map(|j| m.weights[j] * (x[j] - m.mean[j]) / m.scale[j])
        .sum::<f64>()
        + m.intercept;
    1.0 / (1.0 + (-z).exp())
}

/// A hostile request: what it is, its body, its content type, the status expected, the field
/// the error must name.
type Case<'a> = (&'a str, String, Option<&'a str>, u16, Option<&'a str>);

struct Running {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(limits: Limits) -> Result<Running, Failure> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .called("binding a loopback port")?;
    let addr = listener.local_addr().called("local_addr")?;
    let state = AppState::new(model()?, limits);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        state,
        stop: Some(tx),
        task,
    })
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn stop(mut self) -> Outcome {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .map_err(|_| Failure::new("shutdown", "the server did not stop within 10 s"))?
            .map_err(|e| Failure::new("shutdown", e.to_string()))?
            .called("serve")
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .called("tokio runtime")
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: String,
    content_type: Option<&str>,
) -> Result<(u16, Value, Option<String>), Failure> {
    let mut req = client.post(url).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.send().await.called("POST")?;
    let status = r.status().as_u16();
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = r.text().await.called("reading the answer")?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        id,
    ))
}

check! {
    fn predictions_equal_the_model(exercise = "predict") {
        let m = model()?;
        ensure(
            m.metrics.test_accuracy >= 0.95 && m.metrics.test_auc >= 0.99,
            "model quality",
            format!(
                "test accuracy {:.3}, AUC {:.4}: expected ≥ 0.95 and ≥ 0.99",
                m.metrics.test_accuracy, m.metrics.test_auc
            ),
        )?;
        let (_, values) = rows()?;
        for x in values.iter().take(20) {
            let p = week08_ml_service::inference::predict(&m, x);
            let e = expected_probability(&m, x);
            close(
                "P(malignant) of a row",
                e,
                p.probability,
                Tol::rel(1e-12).and_abs(1e-15),
            )?;
            ensure(
                p.class == m.classes[usize::from(e >= 0.5)],
                "class",
                format!(
                    "P = {e}: expected {}, got {}",
                    m.classes[usize::from(e >= 0.5)],
                    p.class
                ),
            )?;
        }
        Ok(())
    }
}

check! {
    fn the_artifact_refuses_corruption(exercise = "content_hash") {
        let m = model()?;
        let mut blank = m.clone();
        blank.content_hash = String::new();
        let bytes = serde_json::to_vec(&blank).called("serialise")?;
        use sha2::Digest;
        let expected: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        ensure(
            content_hash(&m) == expected,
            "content_hash",
            format!("expected the SHA-256 of the artifact with an empty hash field, {expected}"),
        )?;
        let dir = std::env::temp_dir().join(format!("grader-w08-{}", std::process::id()));
        std::fs::create_dir_all(&dir).called("temp dir")?;
        let path = dir.join("model.json");
        m.save(&path).called("save")?;
        ModelArtifact::load_verified(&path).called("load_verified on the file just saved")?;
        let mut tampered = m.clone();
        tampered.weights[0] += 1e-9;
        std::fs::write(&path, serde_json::to_string(&tampered).called("serialise")?)
            .called("write")?;
        let msg = expect_err(
            "load_verified of an artifact whose weight changed",
            ModelArtifact::load_verified(&path),
        )?;
        ensure(
            msg.contains("corrupt"),
            "corruption message",
            format!("should say the artifact is corrupt, says: {msg}"),
        )?;
        let mut old = m.clone();
        old.format_version = 0;
        old.content_hash = content_hash(&old);
        std::fs::write(&path, serde_json::to_string(&old).called("serialise")?).called("write")?;
        expect_err(
            "load_verified of another format version",
            ModelArtifact::load_verified(&path),
        )?;
        std::fs::write(&path, "{not json").called("write")?;
        expect_err(
            "load_verified of a file that is not JSON",
            ModelArtifact::load_verified(&path),
        )?;
        Ok(())
    }
}

check! {
    fn every_endpoint_behaves(exercise = "validate") {
        runtime()?.block_on(async {
            let s = start(Limits::default()).await?;
            let c = reqwest::Client::new();
            let (records, values) = rows()?;
            let get = |p: &str| c.get(s.url(p)).send();
            ensure(
                get("/healthz").await.called("GET /healthz")?.status() == 200,
                "/healthz",
                "must answer 200",
            )?;
            ensure(
                get("/readyz").await.called("GET /readyz")?.status() == 200,
                "/readyz",
                "must answer 200 once serving",
            )?;
            let (status, one, id) = post(
                &c,
                &s.url("/v1/predict"),
                Value::Object(records[0].clone()).to_string(),
                Some("application/json"),
            )
            .await?;
            ensure(
                status == 200,
                "POST /v1/predict (one record)",
                format!("expected 200, got {status}: {one}"),
            )?;
            ensure(
                id.is_some_and(|i| !i.is_empty()),
                "x-request-id",
                "every answer must carry a request id header",
            )?;
            close(
                "probability of row 0 over HTTP",
                expected_probability(&s.state.model, &values[0]),
                one["predictions"][0]["probability"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
                Tol::rel(1e-12),
            )?;
            let batch = json!({"records": [records[1], records[2], records[3]]}).to_string();
            let (status, many, _) =
                post(&c, &s.url("/v1/predict"), batch, Some("application/json")).await?;
            ensure(
                status == 200 && many["predictions"].as_array().is_some_and(|a| a.len() == 3),
                "POST /v1/predict (batch of 3)",
                format!("expected 200 with 3 predictions, got {status}: {many}"),
            )?;
            let meta: Value = get("/v1/model")
                .await
                .called("GET /v1/model")?
                .json()
                .await
                .called("JSON")?;
            ensure(
                meta["content_hash"] == json!(s.state.model.content_hash)
                    && meta["features"].as_array().is_some_and(|f| f.len() == 30),
                "/v1/model",
                format!("must report the content hash and 30 features: {meta}"),
            )?;
            let api: Value = get("/openapi.json")
                .await
                .called("GET /openapi.json")?
                .json()
                .await
                .called("JSON")?;
            for path in [
                "/v1/predict",
                "/v1/model",
                "/healthz",
                "/readyz",
                "/metrics",
            ] {
                ensure(
                    api["paths"][path].is_object(),
                    "/openapi.json",
                    format!("must document {path}"),
                )?;
            }
            let metrics = get("/metrics")
                .await
                .called("GET /metrics")?
                .text()
                .await
                .called("text")?;
            for needle in [
                "http_requests_total{route=\"/v1/predict\",status=\"200\"} 2",
                "http_request_duration_seconds_bucket",
                "predictions_total{class=",
                "model_info{version=\"breast-cancer-logreg-1\"} 1",
                "http_requests_in_flight",
            ] {
                ensure(
                    metrics.contains(needle),
                    "/metrics",
                    format!("must contain `{needle}`"),
                )?;
            }
            s.stop().await
        })
    }
}

check! {
    fn bad_requests_get_4xx_naming_the_fields(exercise = "validate") {
        runtime()?.block_on(async {
            let limits = Limits {
                max_batch: 8,
                max_body_bytes: 64 * 1024,
                timeout: Duration::from_secs(5),
            };
            let s = start(limits).await?;
            let c = reqwest::Client::new();
            let (records, _) = rows()?;
            let url = s.url("/v1/predict");
            let mut missing = records[0].clone();
            missing.remove("mean_radius");
            let mut unknown = records[0].clone();
            unknown.insert("favourite_colour".into(), json!(3));
            let mut text = records[0].clone();
            text.insert("mean_texture".into(), json!("high"));
            let mut huge = records[0].clone();
            huge.insert("mean_area".into(), json!(1e12));
            let mut negative = records[0].clone();
            negative.insert("mean_area".into(), json!(-5.0));
            // (what, body, content type, expected status, field the error must name)
            let cases: Vec<Case> = vec![
                (
                    "a missing feature",
                    Value::Object(missing).to_string(),
                    Some("application/json"),
                    422,
                    Some("mean_radius"),
                ),
                (
                    "an unknown field",
                    Value::Object(unknown).to_string(),
                    Some("application/json"),
                    422,
                    Some("favourite_colour"),
                ),
                (
                    "a string where a number goes",
                    Value::Object(text).to_string(),
                    Some("application/json"),
                    422,
                    Some("mean_texture"),
                ),
                (
                    "a value far out of range",
                    Value::Object(huge).to_string(),
                    Some("application/json"),
                    422,
                    Some("mean_area"),
                ),
                (
                    "a negative measurement",
                    Value::Object(negative).to_string(),
                    Some("application/json"),
                    422,
                    Some("mean_area"),
                ),
                (
                    "malformed JSON",
                    "{\"mean_radius\": 1,".into(),
                    Some("application/json"),
                    400,
                    None,
                ),
                (
                    "no content type",
                    Value::Object(records[0].clone()).to_string(),
                    None,
                    415,
                    None,
                ),
                (
                    "a text/plain body",
                    Value::Object(records[0].clone()).to_string(),
                    Some("text/plain"),
                    415,
                    None,
                ),
                (
                    "a body over the limit",
                    format!("{{\"pad\": \"{}\"}}", "x".repeat(100 * 1024)),
                    Some("application/json"),
                    413,
                    None,
                ),
                (
                    "a batch over the maximum (9 > 8)",
                    json!({"records": vec![records[0].clone(); 9]}).to_string(),
                    Some("application/json"),
                    422,
                    None,
                ),
                (
                    "an empty batch",
                    json!({"records": []}).to_string(),
                    Some("application/json"),
                    422,
                    None,
                ),
                (
                    "a JSON array body",
                    "[1, 2, 3]".into(),
                    Some("application/json"),
                    422,
                    None,
                ),
                (
                    "a record that is a number",
                    json!({"records": [5]}).to_string(),
                    Some("application/json"),
                    422,
                    Some("records[0]"),
                ),
            ];
            for (what, body, ct, expected, field) in cases {
                let (status, answer, _) = post(&c, &url, body, ct).await?;
                ensure(
                    status == expected,
                    what,
                    format!("expected status {expected}, got {status}: {answer}"),
                )?;
                ensure(
                    answer["error"].is_string(),
                    what,
                    format!("the answer must be a JSON error with a message, got {answer}"),
                )?;
                if let Some(f) = field {
                    let named = answer["fields"].as_array().is_some_and(|a| {
                        a.iter()
                            .any(|e| e["field"].as_str().is_some_and(|n| n.ends_with(f)))
                    });
                    ensure(
                        named,
                        what,
                        format!("the error must name the field `{f}`: {answer}"),
                    )?;
                }
            }
            let healthy = c
                .get(s.url("/healthz"))
                .send()
                .await
                .called("GET /healthz")?
                .status();
            ensure(
                healthy == 200,
                "after bad requests",
                "the service must still be healthy",
            )?;
            s.stop().await
        })
    }
}

check! {
    fn concurrent_clients_get_their_own_answers(exercise = "predict", timeout_s = 120) {
        runtime()?.block_on(async {
            let s = start(Limits::default()).await?;
            let (records, values) = rows()?;
            let c = reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .called("client")?;
            let mut clients = Vec::new();
            for k in 0..64 {
                let (c, url) = (c.clone(), s.url("/v1/predict"));
                let body = Value::Object(records[k].clone()).to_string();
                let expected = expected_probability(&s.state.model, &values[k]);
                clients.push(tokio::spawn(async move {
                    let mut wrong = 0;
                    for _ in 0..200 {
                        match post(&c, &url, body.clone(), Some("application/json")).await {
                            Ok((200, v, _))
                                if (v["predictions"][0]["probability"]
                                    .as_f64()
                                    .unwrap_or(f64::NAN)
                                    - expected)
                                    .abs()
                                    <= 1e-12 * expected.abs().max(1e-300) => {}
                            _ => wrong += 1,
                        }
                    }
                    wrong
                }));
            }
            let mut wrong = 0;
            for h in clients {
                wrong += h
                    .await
                    .map_err(|e| Failure::new("client task", e.to_string()))?;
            }
            ensure(
                wrong == 0,
                "64 clients × 200 requests",
                format!("{wrong} answers were errors or another request's prediction"),
            )?;
            s.stop().await
        })
    }
}

check! {
    fn shutdown_loses_no_request_in_flight(exercise = "predict") {
        runtime()?.block_on(async {
            let s = start(Limits::default()).await?;
            let (records, values) = rows()?;
            // 32 requests whose bodies arrive in two halves: the server has them in hand when
            // shutdown begins, and must still answer every one.
            let mut conns = Vec::new();
            for (k, record) in records.iter().enumerate().take(32) {
                let body = Value::Object(record.clone()).to_string();
                let (a, b) = body.split_at(body.len() / 2);
                let mut tcp = tokio::net::TcpStream::connect(s.addr).await.called("connect")?;
                let head = format!("POST /v1/predict HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{a}", s.addr, body.len());
                tcp.write_all(head.as_bytes()).await.called("write the first half")?;
                conns.push((tcp, b.to_string(), k));
            }
            let mut waited = 0;
            while s.state.metrics.in_flight.get() < 32 && waited < 500 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                waited += 1;
            }
            ensure(s.state.metrics.in_flight.get() == 32, "in flight", format!("expected 32 requests in flight, the server counts {}", s.state.metrics.in_flight.get()))?;
            let Running { stop, task, state, .. } = s;
            if let Some(tx) = stop {
                let _ = tx.send(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            ensure(!state.ready.load(std::sync::atomic::Ordering::SeqCst), "readiness", "once shutdown begins, /readyz must report not ready")?;
            let mut answered = 0;
            for (mut tcp, rest, k) in conns {
                tcp.write_all(rest.as_bytes()).await.called("write the second half")?;
                let mut reply = String::new();
                tcp.read_to_string(&mut reply).await.called("read the answer")?;
                let body = reply.split("\r\n\r\n").nth(1).unwrap_or("");
                let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
                let p = v["predictions"][0]["probability"].as_f64().unwrap_or(f64::NAN);
                if reply.starts_with("HTTP/1.1 200") && (p - expected_probability(&state.model, &values[k])).abs() <= 1e-12 {
                    answered += 1;
                }
            }
            ensure(answered == 32, "requests in flight at shutdown", format!("{answered} of 32 were answered correctly"))?;
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .map_err(|_| Failure::new("shutdown", "the server did not stop after finishing its requests"))?
                .map_err(|e| Failure::new("shutdown", e.to_string()))?
                .called("serve")
        })
    }
}

check! {
    fn a_stalled_request_gets_408_and_blocks_no_one(exercise = "predict") {
        runtime()?.block_on(async {
            let timeout = Duration::from_millis(300);
            let s = start(Limits { timeout, ..Limits::default() }).await?;
            let (records, values) = rows()?;
            // A slow client: it announces 1,000 bytes of body, sends 13, then stalls.
            let mut stalled = tokio::net::TcpStream::connect(s.addr).await.called("connect")?;
            let head = format!("POST /v1/predict HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"records\": [", s.addr);
            let sent_at = std::time::Instant::now();
            stalled.write_all(head.as_bytes()).await.called("write the partial request")?;
            // Meanwhile another client is served, correctly.
            let client = reqwest::Client::new();
            let body = Value::Object(records[0].clone()).to_string();
            let (status, v, _) = post(&client, &s.url("/v1/predict"), body, Some("application/json")).await?;
            ensure(status == 200, "a request beside the stalled one", format!("expected 200, got {status}: {v}"))?;
            let p = v["predictions"][0]["probability"].as_f64().unwrap_or(f64::NAN);
            close("P(malignant) beside the stalled request", expected_probability(&s.state.model, &values[0]), p, Tol::rel(1e-12).and_abs(1e-15))?;
            // The stalled one is cut off with 408 once the timeout has passed, not before.
            let mut reply = Vec::new();
            tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut reply))
                .await
                .map_err(|_| Failure::new("stalled request", "no answer 10 s after a 300 ms timeout"))?
                .called("read the answer")?;
            let waited = sent_at.elapsed();
            let reply = String::from_utf8_lossy(&reply);
            ensure(reply.starts_with("HTTP/1.1 408"), "stalled request", format!("expected `HTTP/1.1 408 Request Timeout`, got {:?}", reply.lines().next().unwrap_or("")))?;
            ensure(waited >= timeout, "stalled request", format!("answered after {waited:?}, before the {timeout:?} timeout"))?;
            s.stop().await
        })
    }
}

/// A random JSON value of bounded depth, biased towards the service's own field names.
fn random_json(rng: &mut SplitMix64, names: &[String], depth: u32) -> Value {
    match rng.next_u64() % if depth == 0 { 5 } else { 7 } {
        0 => Value::Null,
        1 => json!(rng.next_u64().is_multiple_of(2)),
        2 => json!((rng.next_f64() - 0.5) * 10f64.powi((rng.next_u64() % 40) as i32 - 10)),
        3 => json!(names[(rng.next_u64() % names.len() as u64) as usize].clone()),
        4 => json!((rng.next_u64() % 1000) as i64 - 500),
        5 => Value::Array(
            (0..rng.next_u64() % 4)
                .map(|_| random_json(rng, names, depth - 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.next_u64() % 35 {
                let key = if rng.next_u64().is_multiple_of(5) {
                    "records".to_string()
                } else {
                    names[(rng.next_u64() % names.len() as u64) as usize].clone()
                };
                m.insert(key, random_json(rng, names, depth - 1));
            }
            Value::Object(m)
        }
    }
}

check! {
    fn random_bytes_and_json_never_get_a_5xx(exercise = "validate", timeout_s = 120) {
        runtime()?.block_on(async {
            let s = start(Limits { max_batch: 16, max_body_bytes: 16 * 1024, timeout: Duration::from_secs(5) }).await?;
            let names: Vec<String> = s.state.model.features.iter().map(|f| f.name.clone()).collect();
            let c = reqwest::Client::new();
            let mut rng = SplitMix64::new(8);
            let mut statuses = std::collections::BTreeMap::new();
            for i in 0..1500 {
                let body: Vec<u8> = if i % 3 == 0 {
                    (0..rng.next_u64() % 200).map(|_| (rng.next_u64() % 256) as u8).collect()
                } else {
                    random_json(&mut rng, &names, 3).to_string().into_bytes()
                };
                let r = c.post(s.url("/v1/predict")).header("content-type", "application/json").body(body.clone()).send().await.called("POST")?;
                let status = r.status().as_u16();
                *statuses.entry(status).or_insert(0) += 1;
                if status >= 500 {
                    return Err(Failure::new("fuzzing /v1/predict", format!("status {status} for the body {:?}", String::from_utf8_lossy(&body))));
                }
            }
            ensure(statuses.keys().any(|&k| k == 422) && statuses.keys().any(|&k| k == 400), "fuzzing", format!("the random bodies should produce both 400 and 422 answers; got {statuses:?}"))?;
            ensure(c.get(s.url("/healthz")).send().await.called("GET /healthz")?.status() == 200, "after fuzzing", "the service must still be healthy")?;
            s.stop().await
        })
    }
}
