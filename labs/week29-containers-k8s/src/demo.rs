//! The lab end to end: Containerfiles linted, images' measurements read, manifests rendered,
//! linted and broken on purpose, the probes run against the real service.

use crate::Args;
use crate::report::{ContainerfileRow, EnvRow, Images, PlantRow, ProbeRow, Report};
use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::Value;
use std::future::IntoFuture;
use std::time::{Duration, Instant};
use wb_lab::Lab;
use week29_containers_k8s::service::{self, AppState, Config};
use week29_containers_k8s::{containerfile, files, kustomize, lint};

fn get<'a>(o: &'a Value, pointer: &str) -> &'a Value {
    o.pointer(pointer).unwrap_or(&Value::Null)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

pub fn run(_cli: &Args, lab: &mut Lab) -> Result<Report> {
    let dir = files::lab_dir();

    // 1. The Containerfiles, and the images' measurements.
    let mut containerfiles = Vec::new();
    for variant in ["naive", "multistage", "scratch"] {
        let file = format!("Containerfile.{variant}");
        let path = dir.join("deploy").join(&file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read it", path.display()))?;
        let stages = containerfile::parse(&text).with_context(|| file.clone())?;
        let last = stages.last().context("no stage")?;
        containerfiles.push(ContainerfileRow {
            file,
            stages: stages.len(),
            final_from: last.from.clone(),
            added_layers: containerfile::added_layers(last),
            findings: containerfile::lint(&stages),
        });
    }
    let images: Option<Images> = match std::fs::read_to_string(dir.join("deploy/images.json")) {
        Ok(text) => Some(serde_json::from_str(&text).context("deploy/images.json")?),
        Err(_) => None,
    };

    // 2. The manifests: generated, rendered, linted.
    let stale = lab.timed("render", || files::stale(&dir))?;
    let base = week29_containers_k8s::manifests::base()?
        .into_iter()
        .map(|(_, o)| kustomize::id(&o))
        .collect();
    let mut environments = Vec::new();
    for env in files::ENVIRONMENTS {
        let objects = files::environment(&dir, env)?;
        let findings = lint::lint(&objects)?;
        for f in &findings {
            eprintln!("{env}: {f}");
        }
        let find = |kind: &str| {
            objects
                .iter()
                .find(|o| o["kind"] == kind)
                .cloned()
                .unwrap_or(Value::Null)
        };
        let (d, h, p) = (
            find("Deployment"),
            find("HorizontalPodAutoscaler"),
            find("PodDisruptionBudget"),
        );
        let c = get(&d, "/spec/template/spec/containers/0");
        let pair = |which: &str| {
            format!(
                "{} CPU, {}",
                text(get(c, &format!("/resources/{which}/cpu"))),
                text(get(c, &format!("/resources/{which}/memory")))
            )
        };
        let pdb = match (
            get(&p, "/spec/minAvailable"),
            get(&p, "/spec/maxUnavailable"),
        ) {
            (Value::Null, m) => format!("maxUnavailable {}", text(m)),
            (m, _) => format!("minAvailable {}", text(m)),
        };
        environments.push(EnvRow {
            env: env.to_string(),
            namespace: text(get(&d, "/metadata/namespace")),
            objects: objects.len(),
            replicas: get(&d, "/spec/replicas").as_i64().unwrap_or(0),
            image: text(get(c, "/image")),
            hpa: format!(
                "{}–{}",
                text(get(&h, "/spec/minReplicas")),
                text(get(&h, "/spec/maxReplicas"))
            ),
            pdb,
            requests: pair("requests"),
            limits: pair("limits"),
            findings: findings.len(),
        });
    }

    // 3. Breaks planted in production.
    let prod = files::environment(&dir, "prod")?;
    let mut plants = Vec::new();
    for plant in lint::plants() {
        let broken = lint::apply_plant(&prod, &plant)?;
        let found = lint::lint(&broken)?
            .iter()
            .map(|f| format!("{} {}", f.object, f.field))
            .collect();
        plants.push(PlantRow {
            what: plant.what.to_string(),
            found,
        });
    }

    // 4. The production Deployment's probes against the real service, configured by its ConfigMap.
    let deployment: Deployment = serde_json::from_value(
        prod.iter()
            .find(|o| o["kind"] == "Deployment")
            .cloned()
            .context("no Deployment")?,
    )?;
    let config_map: ConfigMap = serde_json::from_value(
        prod.iter()
            .find(|o| o["kind"] == "ConfigMap")
            .cloned()
            .context("no ConfigMap")?,
    )?;
    let token_dir = lab.plots_dir().join("secret");
    let run = lab.timed("probes", || {
        probe_service(&deployment, &config_map, token_dir)
    })?;

    let report = Report {
        containerfiles,
        images,
        base,
        stale: stale.iter().map(|p| p.display().to_string()).collect(),
        environments,
        plants,
        probes: run.rows,
        ready_after_ms: run.ready_after_ms,
        warmup_ms: run.warmup_ms,
        timeline: run.timeline,
        drained_at_ms: run.drained_at_ms,
    };
    crate::plots::save(lab, &report)?;
    Ok(report)
}

/// Starts the service on loopback with the ConfigMap's settings (the address aside) and a token
/// file where the Secret would be mounted, then asks what the kubelet and a client would ask.
/// What `probe_service` saw.
struct ProbeRun {
    rows: Vec<ProbeRow>,
    ready_after_ms: f64,
    warmup_ms: u64,
    /// (ms since start, liveness answered 200, readiness answered 200), every 20 ms or so.
    timeline: Vec<(f64, bool, bool)>,
    drained_at_ms: f64,
}

fn probe_service(
    deployment: &Deployment,
    config_map: &ConfigMap,
    token_dir: std::path::PathBuf,
) -> Result<ProbeRun> {
    let container = deployment
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.containers.first())
        .context("no container")?;
    let path_of = |probe: &Option<k8s_openapi::api::core::v1::Probe>| {
        probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
            .context("a probe without an httpGet path")
    };
    let (startup, liveness, readiness) = (
        path_of(&container.startup_probe)?,
        path_of(&container.liveness_probe)?,
        path_of(&container.readiness_probe)?,
    );
    std::fs::create_dir_all(&token_dir)?;
    let token_file = token_dir.join("token");
    std::fs::write(&token_file, "week29-demo-token\n")?;
    let data = config_map.data.clone().unwrap_or_default();
    let config = Config::from_env(|key| match key {
        "ADDR" => Some("127.0.0.1:0".to_string()),
        "TOKEN_FILE" => Some(token_file.display().to_string()),
        other => data.get(other).cloned(),
    })
    .map_err(anyhow::Error::msg)?;
    let warmup_ms = config.warmup_ms;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.addr).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = AppState::new();
        let started = Instant::now();
        tokio::spawn(axum::serve(listener, service::router(state.clone())).into_future());
        let loading = {
            let (state, config) = (state.clone(), config.clone());
            tokio::spawn(async move { service::load(&state, &config).await })
        };
        let client = reqwest::Client::new();
        let mut rows = Vec::new();
        let status = |r: reqwest::Response| r.status().as_u16();
        for (when, path) in [
            ("started (startup probe)", &startup),
            ("started (readiness probe)", &readiness),
        ] {
            rows.push(ProbeRow {
                when: when.to_string(),
                endpoint: format!("GET {path}"),
                status: status(client.get(format!("{url}{path}")).send().await?),
            });
        }
        // Both probes every 20 ms until readiness answers 200 (a minute at most), and on for
        // half a second: the timeline of the plot.
        let mut timeline = Vec::new();
        let poll = async |timeline: &mut Vec<(f64, bool, bool)>| -> Result<u16> {
            let live = status(client.get(format!("{url}{liveness}")).send().await?);
            let ready = status(client.get(format!("{url}{readiness}")).send().await?);
            // The time of the readiness answer, so that the first 200 is `ready_after_ms`.
            timeline.push((
                started.elapsed().as_secs_f64() * 1e3,
                live == 200,
                ready == 200,
            ));
            Ok(ready)
        };
        let (mut ready_after_ms, mut last) = (f64::NAN, 0);
        while started.elapsed() < Duration::from_secs(60) {
            last = poll(&mut timeline).await?;
            if last == 200 {
                ready_after_ms = timeline.last().map_or(f64::NAN, |p| p.0);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        loading.await?.map_err(anyhow::Error::msg)?;
        let until = started.elapsed() + Duration::from_millis(500);
        while started.elapsed() < until {
            poll(&mut timeline).await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        rows.push(ProbeRow {
            when: "model loaded (readiness probe)".into(),
            endpoint: format!("GET {readiness}"),
            status: last,
        });
        let body = serde_json::json!({ "features": [1.0, 2.0, 3.0, 4.0] });
        let predict = format!("{url}/v1/predict");
        rows.push(ProbeRow {
            when: "a client without the token".into(),
            endpoint: "POST /v1/predict".into(),
            status: status(client.post(&predict).json(&body).send().await?),
        });
        rows.push(ProbeRow {
            when: "a client with the token".into(),
            endpoint: "POST /v1/predict".into(),
            status: status(
                client
                    .post(&predict)
                    .bearer_auth("week29-demo-token")
                    .json(&body)
                    .send()
                    .await?,
            ),
        });
        rows.push(ProbeRow {
            when: "three features instead of four".into(),
            endpoint: "POST /v1/predict".into(),
            status: status(
                client
                    .post(&predict)
                    .bearer_auth("week29-demo-token")
                    .json(&serde_json::json!({ "features": [1.0, 2.0, 3.0] }))
                    .send()
                    .await?,
            ),
        });
        let drained_at_ms = started.elapsed().as_secs_f64() * 1e3;
        state.drain();
        let until = started.elapsed() + Duration::from_millis(500);
        while started.elapsed() < until {
            poll(&mut timeline).await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        rows.push(ProbeRow {
            when: "SIGTERM received (readiness probe)".into(),
            endpoint: format!("GET {readiness}"),
            status: status(client.get(format!("{url}{readiness}")).send().await?),
        });
        rows.push(ProbeRow {
            when: "SIGTERM received (liveness probe)".into(),
            endpoint: format!("GET {liveness}"),
            status: status(client.get(format!("{url}{liveness}")).send().await?),
        });
        Ok(ProbeRun {
            rows,
            ready_after_ms,
            warmup_ms,
            timeline,
            drained_at_ms,
        })
    })
}
