//! Grader checks for week 16: uploads decoded or refused with the reason, the served classes
//! equal to the model's own forward pass, readiness, metrics and a graceful shutdown.
//!
//! References: PNG files written here with the `png` crate from known pixels, the model's own
//! forward pass on the same pixels, MNIST's labels, counts of the requests the check itself sent,
//! and HTTP statuses RFC 9110 prescribes.

use grader::{Called, Failure, Tol, check, close, ensure, expect_err};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use week16_deploy_dl::candle_core::Device;
use week16_deploy_dl::images::{
    ImageError, MAX_BODY_BYTES, decode_png, encode_png, encode_raw, json_pixels,
};
use week16_deploy_dl::model::{self, Digits};
use week16_deploy_dl::service::{self, AppState, ServiceConfig};
use week16_deploy_dl::tokio::io::{AsyncReadExt, AsyncWriteExt};
use week16_deploy_dl::wb_models::DigitCnn;
use week16_deploy_dl::wb_serve::BatchConfig;
use week16_deploy_dl::{reqwest, tokio};

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .called("tokio runtime")
}

/// A pattern whose every pixel is known: (row · 28 + column) mod 256, as bytes and in [0, 1].
fn pattern() -> (Vec<u8>, Vec<f32>) {
    let bytes: Vec<u8> = (0..784).map(|i| (i % 256) as u8).collect();
    let pixels = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    (bytes, pixels)
}

fn gray(data: &[u8], w: u32, h: u32) -> Result<Vec<u8>, Failure> {
    encode_raw(data, w, h, png::ColorType::Grayscale, png::BitDepth::Eight)
        .called("encoding a test PNG")
}

/// A model trained for one epoch (a check cannot wait for the full training), once for all the
/// checks of this run, saved and loaded back as the service loads it; with the test images.
fn small_model() -> Result<(DigitCnn, Digits), Failure> {
    static SAVED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let (train, test) = model::mnist().called("mnist")?;
    let dir = SAVED
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("grader-w16-cnn-{}", std::process::id()));
            let (cnn, varmap) =
                model::train(&train, &test, 1, 3).map_err(|e| format!("train: {e:#}"))?;
            cnn.save(&varmap, &dir).map_err(|e| format!("save: {e}"))?;
            Ok(dir)
        })
        .clone()
        .map_err(|e| Failure::new("training the model", e))?;
    let (cnn, _) = DigitCnn::load(&dir, &Device::Cpu).called("DigitCnn::load")?;
    Ok((cnn, test))
}

struct Server {
    base: String,
    state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<week16_deploy_dl::wb_serve::BatchStats>>,
}

async fn start(config: ServiceConfig) -> Result<Server, Failure> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .called("bind")?;
    let base = format!("http://{}", listener.local_addr().called("addr")?);
    let state = AppState::new(config).called("AppState::new")?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service::serve(listener, Arc::clone(&state), async move {
        let _ = rx.await;
    }));
    Ok(Server {
        base,
        state,
        stop: Some(tx),
        task,
    })
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    ct: &str,
    body: Vec<u8>,
) -> Result<(u16, Value), Failure> {
    let r = client
        .post(url)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .called("POST")?;
    let status = r.status().as_u16();
    let text = r.text().await.called("reading the answer")?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

check! {
    fn png_uploads_decode_to_their_pixels_or_are_refused(exercise = "decode_png") {
        let (bytes, pixels) = pattern();
        let got = decode_png(&gray(&bytes, 28, 28)?).called("decode_png of a 28 × 28 grayscale PNG")?;
        ensure(got.len() == 784, "pixels", format!("expected 784, got {}", got.len()))?;
        for (i, (&e, &g)) in pixels.iter().zip(&got).enumerate() {
            close(&format!("pixel {i} (row {}, column {})", i / 28, i % 28), f64::from(e), f64::from(g), Tol::abs(0.0))?;
        }
        let (_, test) = model::mnist().called("mnist")?;
        for i in 0..20 {
            let back = decode_png(&encode_png(test.image(i)).called("encode_png")?).called("decode_png of an MNIST image")?;
            ensure(back == test.image(i), "an MNIST image through PNG", format!("test image {i} changed on the way"))?;
        }
        let rgb = encode_raw(&[0; 784 * 3], 28, 28, png::ColorType::Rgb, png::BitDepth::Eight).called("rgb")?;
        let ga = encode_raw(&[0; 784 * 2], 28, 28, png::ColorType::GrayscaleAlpha, png::BitDepth::Eight).called("ga")?;
        let deep = encode_raw(&[0; 784 * 2], 28, 28, png::ColorType::Grayscale, png::BitDepth::Sixteen).called("16-bit")?;
        let whole = gray(&bytes, 28, 28)?;
        let cut = whole[..whole.len() / 2].to_vec();
        // A PNG whose header claims 100,000 × 100,000 pixels: refused from the header alone.
        let mut huge = gray(&[0; 16], 4, 4)?;
        huge[16..24].copy_from_slice(&[0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0]);
        let crc = png_crc(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.to_be_bytes());
        let cases: Vec<(&str, Vec<u8>, &str, u16)> = vec![
            ("an empty body", vec![], "empty", 400),
            ("a text file", b"hello, this is text".to_vec(), "not a PNG", 415),
            ("a 32 × 32 PNG", gray(&[0; 32 * 32], 32, 32)?, "32 × 32", 422),
            ("a 100,000 × 100,000 header", huge, "100000 × 100000", 422),
            ("an RGB PNG", rgb, "3", 422),
            ("a grey + alpha PNG", ga, "2", 422),
            ("a 16-bit PNG", deep, "16", 422),
            ("half a PNG", cut, "damaged", 400),
            ("a body over the limit", vec![0x89; MAX_BODY_BYTES + 1], "larger", 413),
        ];
        for (what, body, needle, status) in cases {
            let e = match decode_png(&body) {
                Ok(_) => return Err(Failure::new(what, "was accepted")),
                Err(e) => e,
            };
            ensure(e.to_string().contains(needle), what, format!("expected the error to mention `{needle}`: {e}"))?;
            ensure(e.status().as_u16() == status, what, format!("expected status {status}, got {}", e.status()))?;
        }
        Ok(())
    }
}

/// The CRC-32 of a PNG chunk (type and data), as the PNG specification defines it.
fn png_crc(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                0xedb8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

check! {
    fn json_pixels_flat_or_in_rows(exercise = "json_pixels") {
        let (_, pixels) = pattern();
        let flat = json_pixels(&json!({"pixels": pixels})).called("json_pixels, 784 values")?;
        let rows: Vec<Vec<f32>> = pixels.chunks(28).map(<[f32]>::to_vec).collect();
        let nested = json_pixels(&json!({"pixels": rows})).called("json_pixels, 28 rows of 28")?;
        ensure(flat == pixels && nested == pixels, "json_pixels", "flat and nested pixels must give the pixels sent")?;
        let mut bad_row = rows.clone();
        bad_row[5].pop();
        let mut bright = pixels.clone();
        bright[30] = 1.5;
        let mut text = json!({"pixels": pixels});
        text["pixels"][7] = json!("white");
        let cases: Vec<(&str, Value, &str)> = vec![
            ("no `pixels`", json!({"image": []}), "pixels"),
            ("`pixels` not an array", json!({"pixels": 3}), "array"),
            ("783 values", json!({"pixels": &pixels[..783]}), "783"),
            ("a row of 27", json!({"pixels": bad_row}), "pixels[5]"),
            ("a pixel of 1.5", json!({"pixels": bright}), "row 1, column 2"),
            ("a pixel that is text", text, "pixel 7"),
        ];
        for (what, body, needle) in cases {
            let msg = expect_err(what, json_pixels(&body))?;
            ensure(msg.contains(needle), what, format!("expected the error to mention `{needle}`: {msg}"))?;
            ensure(matches!(json_pixels(&body), Err(ImageError::BadJson(_))), what, "expected a 422 (BadJson)")?;
        }
        Ok(())
    }
}

check! {
    fn served_classes_equal_the_models_own(exercise = "decode_png", timeout_s = 300) {
        let (cnn, test) = small_model()?;
        let device = Device::Cpu;
        let direct = cnn.probabilities(&test.pixels[..300 * 784], &device).called("probabilities")?;
        let argmax = |p: &[f32]| p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
        let correct = (0..300).filter(|&i| argmax(&direct[i]) == usize::from(test.labels[i])).count();
        ensure(correct >= 255, "the model", format!("{correct} of 300 test images right: expected at least 85 %"))?;
        let config = ServiceConfig { batch: BatchConfig { max_batch: 16, max_wait: Duration::from_millis(2), queue: 512 }, deadline: Duration::from_secs(20) };
        let rt = runtime()?;
        rt.block_on(async {
            let server = start(config).await?;
            server.state.install(cnn.clone(), device.clone()).called("install")?;
            let client = reqwest::Client::new();
            let mut tasks = Vec::new();
            for i in 0..300 {
                let (client, url) = (client.clone(), format!("{}/v1/predict", server.base));
                let body = match i % 10 {
                    // Every tenth image as JSON pixels, the others as PNG.
                    0 => ("application/json", serde_json::to_vec(&json!({"pixels": test.image(i)})).called("json")?),
                    _ => ("image/png", encode_png(test.image(i)).called("encode_png")?),
                };
                tasks.push(tokio::spawn(async move { (i, post(&client, &url, body.0, body.1).await) }));
            }
            let form = reqwest::multipart::Form::new().part(
                "image",
                reqwest::multipart::Part::bytes(encode_png(test.image(0)).called("png")?).file_name("d.png").mime_str("image/png").called("mime")?,
            );
            let multipart: Value = client.post(format!("{}/v1/predict", server.base)).multipart(form).send().await.called("multipart POST")?
                .json().await.called("multipart answer")?;
            ensure(multipart["class"].as_u64() == Some(argmax(&direct[0]) as u64), "a multipart upload", format!("{multipart}"))?;
            for t in tasks {
                let (i, answer) = t.await.called("join")?;
                let (status, v) = answer?;
                ensure(status == 200, "status", format!("image {i}: {status} {v}"))?;
                ensure(v["class"].as_u64() == Some(argmax(&direct[i]) as u64), "the served class", format!("image {i}: served {}, the model alone says {}", v["class"], argmax(&direct[i])))?;
                let probabilities: Vec<f64> = v["probabilities"].as_array().map(|a| a.iter().filter_map(Value::as_f64).collect()).unwrap_or_default();
                ensure(probabilities.len() == 10, "probabilities", format!("image {i}: {v}"))?;
                for (k, &p) in probabilities.iter().enumerate() {
                    close(&format!("image {i}: P(class {k}), served against the model alone"), f64::from(direct[i][k]), p, Tol::abs(1e-5))?;
                }
                let b = v["batch_size"].as_u64().unwrap_or(0);
                ensure((1..=16).contains(&b), "batch size", format!("image {i} in a batch of {b}: the limit is 16"))?;
            }
            let _ = server.stop.map(|s| s.send(()));
            Ok(())
        })?;
        // A damaged model file is an error, never silently replaced by a fresh training.
        let dir = std::env::temp_dir().join(format!("grader-w16-model-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).called("mkdir")?;
        std::fs::write(dir.join("model.json"), "{}").called("write")?;
        expect_err("load_or_train on a damaged model", model::load_or_train(&dir, 1, &device))?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}

check! {
    fn bad_uploads_get_a_4xx_naming_the_problem(exercise = "decode_png", timeout_s = 300) {
        let (cnn, test) = small_model()?;
        let pixels = test.image(0).to_vec();
        let rgb = encode_raw(&[0; 784 * 3], 28, 28, png::ColorType::Rgb, png::BitDepth::Eight).called("rgb")?;
        let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
            ("an empty body", "image/png", vec![], 400, "empty"),
            ("a text file", "image/png", b"not an image at all".to_vec(), 415, "PNG"),
            ("a 20 × 20 PNG", "image/png", gray(&[0; 400], 20, 20)?, 422, "20 × 20"),
            ("an RGB PNG", "image/png", rgb, 422, "channel"),
            ("300 KiB", "image/png", vec![1; 300 * 1024], 413, "larger"),
            ("JSON that does not parse", "application/json", b"{\"pixels\": [".to_vec(), 400, "JSON"),
            ("783 JSON pixels", "application/json", serde_json::to_vec(&json!({"pixels": &pixels[..783]})).called("json")?, 422, "783"),
            ("a form without `image`", "multipart/form-data; boundary=XX", b"--XX\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--XX--\r\n".to_vec(), 400, "image"),
        ];
        let rt = runtime()?;
        rt.block_on(async {
            let server = start(ServiceConfig::default()).await?;
            server.state.install(cnn, Device::Cpu).called("install")?;
            let client = reqwest::Client::new();
            let url = format!("{}/v1/predict", server.base);
            for (what, ct, body, status, needle) in cases {
                let (got, v) = post(&client, &url, ct, body).await?;
                ensure(got == status, what, format!("expected {status}, got {got}: {v}"))?;
                let msg = v["error"].as_str().unwrap_or_default();
                ensure(msg.contains(needle), what, format!("expected the error to name `{needle}`: {v}"))?;
            }
            let (got, v) = post(&client, &url, "image/png", encode_png(&pixels).called("png")?).await?;
            ensure(got == 200, "a good upload after bad ones", format!("{got} {v}"))?;
            let _ = server.stop.map(|s| s.send(()));
            Ok(())
        })
    }
}

/// The value of the metric line that starts with `prefix` (then a space) in Prometheus text.
fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

check! {
    fn readiness_metrics_and_a_graceful_shutdown(exercise = "json_pixels", timeout_s = 300) {
        let (cnn, test) = small_model()?;
        let rt = runtime()?;
        rt.block_on(async {
            let server = start(ServiceConfig::default()).await?;
            let client = reqwest::Client::new();
            let get = |path: &str| client.get(format!("{}{path}", server.base)).send();
            // Before the model: alive, not ready, predictions refused with a retry hint.
            ensure(get("/healthz").await.called("healthz")?.status() == 200, "/healthz before the model", "expected 200: the process is alive")?;
            ensure(get("/readyz").await.called("readyz")?.status() == 503, "/readyz before the model", "expected 503: not ready until the model is loaded")?;
            let url = format!("{}/v1/predict", server.base);
            let body = |i: usize| serde_json::to_vec(&json!({"pixels": test.image(i)}));
            let early = client.post(&url).header("content-type", "application/json").body(body(0).called("json")?).send().await.called("POST")?;
            ensure(early.status() == 503 && early.headers().contains_key("retry-after"), "a prediction before the model", format!("expected 503 with Retry-After, got {}", early.status()))?;
            server.state.install(cnn, Device::Cpu).called("install")?;
            let ready: Value = get("/readyz").await.called("readyz")?.json().await.called("readyz JSON")?;
            ensure(ready["status"] == "ready" && ready["weights_sha256"].as_str().is_some_and(|s| s.len() == 64), "/readyz after the model", format!("{ready}"))?;
            for i in 0..7 {
                let (status, v) = post(&client, &url, "application/json", body(i).called("json")?).await?;
                ensure(status == 200, "a JSON prediction", format!("{status} {v}"))?;
            }
            for _ in 0..2 {
                post(&client, &url, "application/json", b"{\"pixels\": [0.5]}".to_vec()).await?;
            }
            let text = get("/metrics").await.called("metrics")?.text().await.called("metrics text")?;
            let ok = metric(&text, "http_requests_total{route=\"/v1/predict\",status=\"200\"}");
            let bad = metric(&text, "http_requests_total{route=\"/v1/predict\",status=\"422\"}");
            let early = metric(&text, "http_requests_total{route=\"/v1/predict\",status=\"503\"}");
            let images = metric(&text, "inference_batch_size_sum");
            ensure((ok, bad, early, images) == (7.0, 2.0, 1.0, 7.0), "/metrics", format!("expected 7 answered, 2 refused (422), 1 early (503) and 7 images through the model; the metrics say {ok}, {bad}, {early}, {images}"))?;
            // Shutdown with 12 requests in flight: each has sent its headers and half its body.
            let addr = server.base.trim_start_matches("http://").to_string();
            let payload = body(3).called("json")?;
            let mut streams = Vec::new();
            for _ in 0..12 {
                let mut s = tokio::net::TcpStream::connect(&addr).await.called("connect")?;
                let head = format!("POST /v1/predict HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", payload.len());
                s.write_all(head.as_bytes()).await.called("write")?;
                s.write_all(&payload[..payload.len() / 2]).await.called("write")?;
                streams.push(s);
            }
            // Time for the server to accept the 12 connections (a connection still waiting in
            // the kernel's backlog at shutdown is never accepted).
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Server { stop, task, base, .. } = server;
            let _ = stop.map(|s| s.send(()));
            tokio::time::sleep(Duration::from_millis(100)).await;
            let not_ready = reqwest::Client::new().get(format!("{base}/readyz")).send().await;
            ensure(not_ready.map_or(true, |r| r.status() == 503), "/readyz while shutting down", "expected 503, or no new connection")?;
            for (k, mut s) in streams.into_iter().enumerate() {
                s.write_all(&payload[payload.len() / 2..]).await.called("write")?;
                let mut answer = String::new();
                let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut answer)).await;
                ensure(answer.starts_with("HTTP/1.1 200"), "a request in flight at shutdown", format!("connection {k}: {}", answer.lines().next().unwrap_or("(no answer)")))?;
            }
            let stats = tokio::time::timeout(Duration::from_secs(20), task).await
                .map_err(|_| Failure::new("shutdown", "serve did not return within 20 s"))?
                .called("join")?.called("serve")?;
            ensure(stats.queued == 0 && stats.items == 19, "the batcher after shutdown", format!("expected 19 images answered, none queued: {stats:?}"))?;
            Ok(())
        })
    }
}
